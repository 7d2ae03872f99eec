from __future__ import annotations

import numpy as np
import pytest

from unlearn_lib.data import ForgetSplit, make_forget_split, stratified_partition

LABELS = np.repeat(np.arange(5), 40)  # 200 samples, 5 classes


@pytest.mark.parametrize(
    "kind,kwargs",
    [
        ("class", {"forget_class": 2}),
        ("selective", {"forget_class": 2, "n_forget": 10}),
        ("random", {"fraction": 0.1}),
        ("attribute", {"attribute": np.arange(200) % 7, "value": 3}),
    ],
)
def test_splits_are_disjoint_complete_and_deterministic(kind, kwargs):
    a = make_forget_split(LABELS, kind, seed=3, **kwargs)
    b = make_forget_split(LABELS, kind, seed=3, **kwargs)
    for part in ("retain", "forget", "val"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    union = np.concatenate([a.retain, a.forget, a.val])
    assert np.unique(union).size == union.size == len(LABELS)
    assert len(a.val) == 20
    np.testing.assert_array_equal(a.trained, np.sort(np.concatenate([a.retain, a.forget])))


def test_split_contents_match_the_request():
    c = make_forget_split(LABELS, "class", forget_class=4, seed=0)
    assert set(LABELS[c.forget]) == {4} and 4 not in set(LABELS[c.retain])
    s = make_forget_split(LABELS, "selective", forget_class=1, n_forget=7, seed=0)
    assert len(s.forget) == 7 and set(LABELS[s.forget]) == {1} and 1 in set(LABELS[s.retain])
    attr = np.arange(200) % 7
    a = make_forget_split(LABELS, "attribute", attribute=attr, value=3, seed=0)
    assert set(attr[a.forget]) == {3} and 3 not in set(attr[a.retain])


def test_different_seeds_give_different_splits():
    a = make_forget_split(LABELS, "random", fraction=0.2, seed=0)
    b = make_forget_split(LABELS, "random", fraction=0.2, seed=1)
    assert not np.array_equal(a.forget, b.forget)


def test_validation_is_stratified_and_shared_across_kinds():
    val, rest = stratified_partition(LABELS, 20, seed=0)
    assert np.bincount(LABELS[val]).tolist() == [4] * 5 and len(rest) == 180
    c = make_forget_split(LABELS, "class", forget_class=0, seed=5)
    s = make_forget_split(LABELS, "selective", forget_class=0, n_forget=3, seed=5)
    np.testing.assert_array_equal(c.val, s.val)


@pytest.mark.parametrize(
    "kind,kwargs,match",
    [
        ("bogus", {}, "kind must be one of"),
        ("class", {"forget_class": 9}, "forget_class"),
        ("selective", {"forget_class": 1}, "n_forget"),
        ("selective", {"forget_class": 1, "n_forget": 1000}, "has only"),
        ("random", {"fraction": 1.5}, "fraction"),
        ("attribute", {"attribute": [1, 2]}, "attribute"),
        ("attribute", {"attribute": np.zeros(200), "value": 5}, "forget set is empty"),
        ("class", {"forget_class": 1, "val_fraction": 1.0}, "val_fraction"),
    ],
)
def test_bad_requests_are_refused(kind, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_forget_split(LABELS, kind, **kwargs)


def test_overlap_and_duplicates_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        ForgetSplit(np.array([0, 1]), np.array([1, 2]), np.array([3]), "random", "x")
    with pytest.raises(ValueError, match="duplicates"):
        ForgetSplit(np.array([0, 0]), np.array([1]), np.array([3]), "random", "x")
