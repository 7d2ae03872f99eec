from __future__ import annotations

import numpy as np
import pytest
import torch

from unlearn_lib.data import (
    FORGET_KINDS,
    ArrayDataset,
    ForgetSplit,
    attribute_forget_split,
    forget_split,
    indices_forget_split,
    make_forget_split,
    stratified_partition,
    subsample_forget,
    validation_partition,
)

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


# --------------------------------------------------------------------------------------------------
# The one builder: golden indices from before the refactor (HEAD 96b4ec9), kinds subject and index
# --------------------------------------------------------------------------------------------------

SMALL = np.arange(24) % 3
SEX = np.array(list("FFMFMMFMFFMMFMFMFFMMFMMF"))
VAL = [1, 8, 14, 18, 19, 21]


@pytest.mark.parametrize(
    "build,retain,forget,desc",
    [
        (
            lambda: make_forget_split(SMALL, "class", forget_class=1, seed=3, val_fraction=0.25),
            [0, 2, 3, 5, 6, 9, 11, 12, 15, 17, 20, 23],
            [4, 7, 10, 13, 16, 22],
            "all training samples of class 1",
        ),
        (
            lambda: make_forget_split(SMALL, "selective", forget_class=2, n_forget=3, seed=3, val_fraction=0.25),
            [0, 2, 3, 4, 5, 6, 7, 9, 10, 12, 13, 15, 16, 17, 22],
            [11, 20, 23],
            "3 samples of class 2",
        ),
        (
            lambda: make_forget_split(SMALL, "random", fraction=0.2, seed=3, val_fraction=0.25),
            [0, 2, 3, 4, 5, 6, 7, 9, 10, 13, 15, 16, 22, 23],
            [11, 12, 17, 20],
            "random 20% of the training samples",
        ),
        (
            lambda: make_forget_split(SMALL, "attribute", attribute=SEX, value="F", seed=3, val_fraction=0.25),
            [2, 4, 5, 7, 10, 11, 13, 15, 22],
            [0, 3, 6, 9, 12, 16, 17, 20, 23],
            "all training samples with attribute == 'F'",
        ),
        (
            lambda: attribute_forget_split(SMALL, SEX, "M", n_forget=4, seed=3, val_fraction=0.25),
            [0, 3, 4, 5, 6, 7, 9, 12, 13, 16, 17, 20, 22, 23],
            [2, 10, 11, 15],
            "4 of all training samples with attribute == 'M'",
        ),
        (
            lambda: indices_forget_split(SMALL, [5, 2, 5], seed=3, val_fraction=0.25, kind="difficulty", description="d"),
            [0, 3, 4, 6, 7, 9, 10, 11, 12, 13, 15, 16, 17, 20, 22, 23],
            [2, 5],
            "d",
        ),
    ],
)
def test_existing_kinds_and_wrappers_give_the_indices_they_gave_before(build, retain, forget, desc):
    s = build()
    assert (s.retain.tolist(), s.forget.tolist(), s.val.tolist(), s.description) == (retain, forget, VAL, desc)


def test_attribute_n_forget_in_the_builder_is_the_wrapper():
    a = make_forget_split(SMALL, "attribute", attribute=SEX, value="M", n_forget=4, seed=3, val_fraction=0.25)
    b = subsample_forget(make_forget_split(SMALL, "attribute", attribute=SEX, value="M", seed=3, val_fraction=0.25), 4, seed=3)
    np.testing.assert_array_equal(a.forget, b.forget)
    np.testing.assert_array_equal(a.retain, b.retain)
    with pytest.raises(ValueError, match="n_forget must be >= 1"):
        make_forget_split(SMALL, "attribute", attribute=SEX, value="M", n_forget=0)


SUBJECTS = np.repeat([10, 11, 12, 13, 14], 4)  # 5 subjects, 4 samples each


def test_subject_split_forgets_whole_subjects_and_holds_out_others():
    s = make_forget_split(SUBJECTS, "subject", forget=[11, 13], heldout=[14])
    assert s.kind == "subject" and s.forget_class is None
    assert set(SUBJECTS[s.forget]) == {11, 13} and len(s.forget) == 8
    assert set(SUBJECTS[s.val]) == {14} and len(s.val) == 4
    assert set(SUBJECTS[s.retain]) == {10, 12}
    union = np.concatenate([s.retain, s.forget, s.val])
    assert np.array_equal(np.sort(union), np.arange(20))
    assert s.meta["forget_subjects"] == [11, 13] and s.meta["heldout_subjects"] == [14]
    again = make_forget_split(SUBJECTS, "subject", forget=[13, 11], heldout=[14])
    np.testing.assert_array_equal(again.forget, s.forget)
    no_val = make_forget_split(SUBJECTS, "subject", forget=12)  # one id on its own; no held-out subject
    assert len(no_val.val) == 0 and set(SUBJECTS[no_val.forget]) == {12}


def test_subject_split_takes_string_ids():
    ids = np.array(["p1", "p1", "p2", "p3", "p3"])
    s = make_forget_split(ids, "subject", forget=["p3"], heldout=["p1"])
    assert s.forget.tolist() == [3, 4] and s.val.tolist() == [0, 1] and s.retain.tolist() == [2]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"forget": [99]}, r"forget lists subjects \[99\] that are not in the dataset's subjects"),
        ({"forget": [10], "heldout": [7]}, r"heldout lists subjects \[7\] that are not in the dataset"),
        ({"forget": [10], "heldout": [10]}, r"both forgotten \(forget\) and held out \(heldout\): \[10\]"),
        ({"forget": []}, r"forget is empty"),
        ({"heldout": [10]}, r"forget is empty"),
        ({"forget": [10, 11], "heldout": [12, 13, 14]}, r"no retain subject left"),
        ({"forget": [10], "val_fraction": 0.2}, r"val_fraction does not apply to kind='subject'"),
    ],
)
def test_subject_split_errors_match_the_segmentation_study(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_forget_split(SUBJECTS, "subject", **kwargs)


def test_index_split_is_exactly_the_indices_and_shares_validation():
    ref = make_forget_split(LABELS, "random", fraction=0.1, seed=4)
    chosen = np.concatenate([ref.retain[[7, 3]], ref.forget[:2], ref.retain[[3]]])  # unsorted, one duplicate
    s = make_forget_split(LABELS, "index", forget=chosen, seed=4)
    assert s.kind == "index" and s.description == "4 chosen samples"
    np.testing.assert_array_equal(s.forget, np.unique(chosen))
    np.testing.assert_array_equal(s.val, ref.val)
    np.testing.assert_array_equal(s.val, validation_partition(LABELS, seed=4)[0])
    assert len(s.retain) + len(s.forget) + len(s.val) == len(LABELS)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({}, "forget must name at least one"),
        ({"forget": [200]}, r"forget indices must be in \[0, 199\]"),
        ({"forget": np.zeros(200, bool)}, r"forget must be integer indices.*boolean mask"),
        ({"forget": [0.5]}, "forget must be integer indices"),
        ({"forget": [1], "heldout": [2]}, "heldout applies only to kind='subject'"),
    ],
)
def test_index_split_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_forget_split(LABELS, "index", **kwargs)


def test_index_split_refuses_validation_indices():
    val = validation_partition(LABELS, seed=2)[0]
    with pytest.raises(ValueError, match="validation partition of seed 2"):
        make_forget_split(LABELS, "index", forget=[int(val[0])], seed=2)


def test_forget_only_goes_with_subject_and_index():
    with pytest.raises(ValueError, match="forget applies only to"):
        make_forget_split(LABELS, "class", forget_class=1, forget=[3])
    assert set(FORGET_KINDS) == {"class", "selective", "random", "attribute", "subject", "index"}


# --------------------------------------------------------------------------------------------------
# On a dataset: forget_split and ForgetSplit.datasets
# --------------------------------------------------------------------------------------------------


def patient_data() -> ArrayDataset:
    n = 60
    meta = {"subject": np.arange(n) // 6, "sex": np.where((np.arange(n) // 6) % 2 == 0, "F", "M")}
    return ArrayDataset(torch.arange(n, dtype=torch.float32).reshape(n, 1, 1, 1), torch.arange(n) % 3, meta, "patients")


def test_forget_split_reads_labels_and_columns_from_the_dataset():
    data = patient_data()
    by_name = forget_split(data, "attribute", attribute="sex", value="F", seed=1)
    by_array = make_forget_split(data.labels, "attribute", attribute=data.meta["sex"], value="F", seed=1)
    np.testing.assert_array_equal(by_name.forget, by_array.forget)
    cls = forget_split(data, "class", forget_class=2)
    np.testing.assert_array_equal(cls.forget, make_forget_split(data.labels, "class", forget_class=2).forget)
    sub = forget_split(data, "subject", forget=[0, 1], heldout=[9])
    assert set(data.meta["subject"][sub.forget]) == {0, 1} and set(data.meta["subject"][sub.val]) == {9}


def test_forget_split_errors_name_the_column():
    data = patient_data()
    with pytest.raises(ValueError, match=r"attribute='site' is not a metadata column of dataset 'patients'.*sex"):
        forget_split(data, "attribute", attribute="site", value=1)
    bare = ArrayDataset(data.x, data.y, name="bare")
    with pytest.raises(ValueError, match=r"dataset 'bare' has no 'subject' metadata column"):
        forget_split(bare, "subject", forget=[0])


def test_forget_split_on_segmentation_targets():
    vols = ArrayDataset(torch.zeros(10, 1, 2, 2, 2), torch.zeros(10, 2, 2, 2, dtype=torch.long), {"subject": np.arange(10)}, "vols", 4)
    with pytest.raises(ValueError, match=r"kind='class' needs one class label per sample.*\(10, 2, 2, 2\)"):
        forget_split(vols, "class", forget_class=0)
    r = forget_split(vols, "random", fraction=0.25, val_fraction=0.2, seed=0)
    assert (len(r.val), len(r.forget), len(r.retain)) == (2, 2, 6)
    s = forget_split(vols, "subject", forget=[3], heldout=[4, 5])
    parts = s.datasets(vols)
    assert [len(parts[k]) for k in ("retain", "forget", "val")] == [7, 1, 2]


def test_split_datasets_are_the_indexed_subsets_with_metadata():
    data = patient_data()
    split = forget_split(data, "subject", forget=[2], heldout=[5])
    parts = split.datasets(data)
    assert set(parts) == {"retain", "forget", "val"}
    for name, ds in parts.items():
        idx = getattr(split, name)
        np.testing.assert_array_equal(ds.x.flatten().numpy(), idx.astype(np.float32))
        np.testing.assert_array_equal(ds.meta["subject"], data.meta["subject"][idx])
        assert ds.name == name and ds.num_classes == 3
    with pytest.raises(ValueError, match="train has 30 samples but this split was built on 60"):
        split.datasets(data.subset(np.arange(30)))
