"""The dataset registry: names, parameters checked before loading, and your own arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unlearn_lib.data import DATASETS, ArrayDataset, DataBundle, list_datasets, load_dataset, register_arrays, register_dataset

BUILT_IN = {
    "mnist-embedded": ("classification", "embedded"),
    "mnist-idx": ("classification", "directory"),
    "cifar10": ("classification", "directory"),
    "mni152-cohort": ("segmentation", "embedded"),
    "mrbrains18": ("segmentation", "directory"),
    "brain-patches": ("classification", "embedded"),
    "medmnist": ("classification", "directory"),
    "chexpert": ("classification", "directory"),
}


@pytest.fixture
def scratch_names():
    """Names a test registers are removed afterwards, so tests do not leak into each other."""
    names: list[str] = []
    yield names
    for name in names:
        if name in DATASETS:
            DATASETS.unregister(name)


def test_list_datasets_has_every_built_in_with_its_modality_and_source():
    table = list_datasets()
    assert list(table.columns[:4]) == ["name", "modality", "source", "summary"]
    rows = table.set_index("name")
    for name, (modality, source) in BUILT_IN.items():
        assert (rows.loc[name, "modality"], rows.loc[name, "source"]) == (modality, source)
        assert rows.loc[name, "summary"]
    assert "root" in rows.loc["cifar10", "parameters"] and "n_test=1000" in rows.loc["mnist-embedded", "parameters"]


def test_mnist_embedded_by_name():
    b = load_dataset("mnist-embedded", n_test=500, seed=1)
    assert isinstance(b, DataBundle) and b.name == "mnist-embedded" and b.modality == "classification"
    assert b.sizes() == {"train": 4500, "test": 500}
    assert (b.num_classes, b.in_channels, len(b.class_names)) == (10, 1, 10)
    assert tuple(b.train.x.shape[1:]) == (1, 28, 28) and b.train.y.dtype == torch.int64


def test_mni152_cohort_is_segmentation_without_a_test_set(tmp_path):
    b = load_dataset("mni152-cohort", n_subjects=3, size=16, cache_dir=str(tmp_path))
    assert b.modality == "segmentation" and b.test is None and b.sizes()["test"] == 0
    assert b.train.x.shape == (3, 1, 16, 16, 16) and b.train.y.shape == (3, 16, 16, 16)
    assert b.num_classes == 4 and b.class_names == ("background", "CSF", "GM", "WM") and b.in_channels == 1
    assert b.train.meta["subject"].tolist() == [0, 1, 2] and set(b.train.meta) >= {"sex", "age"}


def test_brain_patches_carry_subject_sex_and_age(tmp_path):
    b = load_dataset(
        "brain-patches", n_subjects=6, size=24, patch_size=8, patches_per_subject=6, n_test_subjects=2, cache_dir=str(tmp_path)
    )
    assert b.sizes() == {"train": 24, "test": 12} and b.num_classes == 3 and b.class_names == ("CSF", "GM", "WM")
    assert {"subject", "sex", "age"} <= set(b.train.meta) and b.meta["columns"] == sorted(b.train.meta)
    assert not set(b.train.meta["subject"]) & set(b.test.meta["subject"])


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown dataset 'mnist'.*mnist-embedded.*mrbrains18"):
        load_dataset("mnist")


def test_parameters_are_checked_before_loading(monkeypatch):
    """A typo or a missing root fails naming the dataset and its parameters, and the loader never runs."""
    import unlearn_lib.data.registry as registry

    ran = []
    monkeypatch.setattr(registry, "simulate_cohort", lambda *a, **kw: ran.append(kw))
    monkeypatch.setattr(registry, "load_chexpert", lambda *a, **kw: ran.append(kw))
    with pytest.raises(ValueError, match=r"dataset 'mni152-cohort' does not take \['n_subject'\].*'n_subjects'"):
        load_dataset("mni152-cohort", n_subject=3)
    with pytest.raises(ValueError, match=r"dataset 'chexpert' needs \['root'\]"):
        load_dataset("chexpert", target="Edema")
    assert ran == []


def test_mnist_idx_loads_train_and_test_from_a_directory(tmp_path):
    from unlearn_lib.data import write_idx

    rng = np.random.default_rng(0)
    for prefix, n in (("train", 6), ("t10k", 3)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", np.arange(n, dtype=np.uint8))
    b = load_dataset("mnist-idx", root=tmp_path)
    assert b.sizes() == {"train": 6, "test": 3} and b.num_classes == 10 and b.test.labels.tolist() == [0, 1, 2]


def test_medmnist_subsamples_train_and_test_separately(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {f"{s}_images": rng.integers(0, 256, (n, 8, 8), dtype=np.uint8) for s, n in (("train", 40), ("val", 4), ("test", 20))}
    arrays |= {f"{s}_labels": (np.arange(n) % 4)[:, None] for s, n in (("train", 40), ("val", 4), ("test", 20))}
    np.savez(tmp_path / "tissuemnist.npz", **arrays)
    b = load_dataset("medmnist", root=tmp_path, max_samples=12, max_test_samples=8)
    assert b.sizes() == {"train": 12, "test": 8} and b.num_classes == 4 and b.meta == {"flag": "tissuemnist"}


def test_directory_dataset_missing_directory_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_dataset("cifar10", root=tmp_path / "nowhere")


def test_register_dataset_recipe_accepts_a_tuple_and_rejects_bad_values(scratch_names):
    ds = ArrayDataset(torch.zeros(4, 1, 2, 2), torch.tensor([0, 1, 0, 1]))

    @register_dataset("tiny-recipe", modality="generation", summary="four zeros")
    def _tiny(k: int = 1) -> tuple[ArrayDataset, ArrayDataset]:
        return ds, ds.subset([0, 1])

    scratch_names.append("tiny-recipe")
    b = load_dataset("tiny-recipe", k=2)
    assert b.modality == "generation" and b.sizes() == {"train": 4, "test": 2} and b.num_classes == 2
    with pytest.raises(ValueError, match="already registered"):
        register_dataset("tiny-recipe", modality="classification", summary="")(_tiny)
    with pytest.raises(ValueError, match="modality"):
        register_dataset("x", modality="video", summary="")
    with pytest.raises(ValueError, match="source"):
        register_dataset("x", modality="classification", summary="", source="web")


def test_register_arrays_round_trip(scratch_names):
    rng = np.random.default_rng(0)
    x, y = rng.random((30, 1, 6, 6)), np.arange(30) % 3
    subject = np.repeat(np.arange(10), 3)
    scratch_names.append("my-arrays")
    register_arrays("my-arrays", x, y, test=(x[:6], y[:6]), meta={"subject": subject}, class_names=["a", "b", "c"], info={"site": "here"})
    x[:] = -1  # the registry holds a copy
    b = load_dataset("my-arrays")
    assert b.name == "my-arrays" and b.modality == "classification" and b.num_classes == 3 and b.class_names == ("a", "b", "c")
    assert b.train.x.dtype == torch.float32 and float(b.train.x.min()) >= 0
    np.testing.assert_array_equal(b.train.labels, np.arange(30) % 3)
    np.testing.assert_array_equal(b.train.meta["subject"], subject)
    assert b.test is not None and len(b.test) == 6 and b.meta == {"site": "here"}
    assert list_datasets().set_index("name").loc["my-arrays", "source"] == "arrays"
    with pytest.raises(ValueError, match=r"already registered.*replace=True"):
        register_arrays("my-arrays", b.train.x, b.train.y)
    register_arrays("my-arrays", b.train.x[:9], b.train.y[:9], replace=True)
    assert len(load_dataset("my-arrays").train) == 9
    with pytest.raises(ValueError, match="built-in"):
        register_arrays("cifar10", b.train.x, b.train.y, replace=True)


def test_register_arrays_segmentation(scratch_names):
    x, y = np.zeros((2, 1, 4, 4, 4), np.float32), np.zeros((2, 4, 4, 4), np.int64)
    y[1, 0, 0, 0] = 2
    scratch_names.append("my-volumes")
    b = register_arrays("my-volumes", x, y, modality="segmentation", meta={"subject": ["s1", "s2"]})
    assert b.test is None and b.num_classes == 3 and load_dataset("my-volumes").modality == "segmentation"


X, Y = np.zeros((5, 1, 2, 2)), np.arange(5) % 2


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"y": np.arange(4)}, r"y has 4 labels but the inputs have 5"),
        ({"y": np.linspace(0, 1, 5)}, r"y must hold integer class labels"),
        ({"y": np.array([0, 1, -1, 0, 1])}, r"y must be non-negative.*-1"),
        ({"x": np.full((5, 1, 2, 2), np.nan)}, r"x contains 20 non-finite"),
        ({"x": np.zeros((5, 2, 2))}, r"x must have shape.*channel axis"),
        ({"x": np.array([["a"]] * 5)}, r"x must be numeric"),
        ({"y": np.zeros((5, 2), np.int64)}, r"y must have shape \(5,\)"),
        ({"modality": "segmentation"}, r"y must have shape \(5, 2, 2\).*segmentation"),
        ({"meta": {"subject": [1, 2]}}, r"meta\['subject'\] has 2 rows"),
        ({"test": (np.zeros((2, 1, 3, 3)), np.zeros(2, np.int64))}, r"test x has shape"),
        ({"test": (np.zeros((2, 1, 2, 2)), np.array([0.5, 1]))}, r"test y must hold integer"),
        ({"num_classes": 1}, r"num_classes must be an int >= 2"),
        ({"class_names": ["only-one", "two", "three"], "num_classes": 2}, r"class_names has 3 names"),
        ({"modality": "audio"}, r"modality must be one of"),
    ],
)
def test_register_arrays_validation_names_the_problem(kwargs, match, scratch_names):
    args = {"x": X, "y": Y, **kwargs}
    scratch_names.append("bad-arrays")
    with pytest.raises(ValueError, match=match):
        register_arrays("bad-arrays", args.pop("x"), args.pop("y"), **args)
    assert "bad-arrays" not in DATASETS
