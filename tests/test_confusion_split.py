"""The inter-class confusion split and its measure."""

from __future__ import annotations

import numpy as np
import pytest

from unlearn_lib.data import make_confusion_split
from unlearn_lib.metrics import interclass_confusion


def test_confusion_split_swaps_exactly_the_forget_set():
    labels = np.repeat(np.arange(4), 50)
    cs = make_confusion_split(labels, 1, 3, n_per_class=10, seed=0, val_fraction=0.2)
    s = cs.split
    changed = np.flatnonzero(cs.labels != labels)
    assert np.array_equal(np.sort(changed), s.forget)
    assert (labels[s.forget] == 1).sum() == 10 and (labels[s.forget] == 3).sum() == 10
    assert (cs.labels[s.forget][labels[s.forget] == 1] == 3).all()
    assert (cs.labels[s.forget][labels[s.forget] == 3] == 1).all()
    assert np.array_equal(cs.labels[s.val], labels[s.val]) and np.array_equal(cs.labels[s.retain], labels[s.retain])
    assert len(s.val) == 40 and len(s.retain) + len(s.forget) + len(s.val) == 200
    assert np.array_equal(cs.true_labels, labels)


def test_confusion_split_is_seeded():
    labels = np.repeat(np.arange(3), 40)
    a = make_confusion_split(labels, 0, 2, n_per_class=5, seed=4)
    b = make_confusion_split(labels, 0, 2, n_per_class=5, seed=4)
    c = make_confusion_split(labels, 0, 2, n_per_class=5, seed=5)
    assert np.array_equal(a.split.forget, b.split.forget) and not np.array_equal(a.split.forget, c.split.forget)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"class_a": 1, "class_b": 1, "n_per_class": 3}, "differ"),
        ({"class_a": 1, "class_b": 9, "n_per_class": 3}, "class_b"),
        ({"class_a": 1, "class_b": 2, "n_per_class": 0}, "n_per_class"),
        ({"class_a": 1, "class_b": 2, "n_per_class": 500}, "only"),
    ],
)
def test_confusion_split_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_confusion_split(np.repeat(np.arange(3), 20), **kwargs)


def test_confusion_split_gives_the_indices_it_gave_before():
    """Golden values from before the split builders were unified (HEAD 96b4ec9)."""
    labels = np.arange(24) % 3
    cs = make_confusion_split(labels, 0, 2, n_per_class=2, seed=3, val_fraction=0.25)
    assert cs.split.forget.tolist() == [9, 11, 15, 23] and cs.split.val.tolist() == [1, 8, 14, 18, 19, 21]
    assert cs.split.retain.tolist() == [0, 2, 3, 4, 5, 6, 7, 10, 12, 13, 16, 17, 20, 22]
    assert cs.labels.tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 2, 0, 1, 2, 0, 1, 0]
    assert cs.split.kind == "confusion" and cs.split.description == "2 samples of class 0 labelled 2 and 2 of 2 labelled 0"
    with pytest.raises(ValueError, match="val_fraction"):
        make_confusion_split(labels, 0, 2, n_per_class=2, val_fraction=1.0)


def test_interclass_confusion_known_values():
    t = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    p = np.array([1, 0, 0, 2, 0, 1, 2, 0])
    # A=0, B=1: one 0->1 and one 1->0 among six examples of 0 and 1
    assert interclass_confusion(p, t, 0, 1) == pytest.approx(2 / 6)
    assert interclass_confusion(t, t, 0, 1) == 0.0
    with pytest.raises(ValueError, match="differ"):
        interclass_confusion(p, t, 1, 1)
    with pytest.raises(ValueError, match="no example"):
        interclass_confusion(p, t, 5, 6)
