"""Medical classification data (unlearn_lib.data.medical): patches, subject splits, MedMNIST, CheXpert, forget splits."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from unlearn_lib.data import (
    CHEXPERT_FINDINGS,
    ArrayDataset,
    Cohort,
    attribute_forget_split,
    indices_forget_split,
    load_brain_patches,
    load_chexpert,
    load_medmnist,
    make_forget_split,
    patches_from_cohort,
    split_by_subject,
    subsample_forget,
)

# --------------------------------------------------------------------------------------------------
# Helpers: a hand-made cohort whose voxel values encode (subject, label, position)
# --------------------------------------------------------------------------------------------------

SHAPE = (6, 7, 8)  # non-cubic, so an axis mix-up changes shapes or positions


def encoded_cohort(n: int = 3, seed: int = 0, shape: tuple[int, int, int] = SHAPE) -> SimpleNamespace:
    """Labels random in 0..3; voxel value = label / 4 + (1000 * subject + 100 i + 10 j + k) / 1e5.

    The value of a patch's centre therefore tells its class, its subject and its voxel position.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, size=(n, *shape))
    i, j, k = np.meshgrid(*(np.arange(s) for s in shape), indexing="ij")
    code = 100 * i + 10 * j + k
    images = np.stack([labels[s] / 4 + (1000 * s + code) / 1e5 for s in range(n)])[:, None]
    meta = {
        "subject": np.array([f"s{s}" for s in range(n)]),
        "sex": np.array(["F", "M", "F", "M"][:n]),
        "age": np.array([30.0, 50.5, 70.0, 41.0][:n]),
    }
    return SimpleNamespace(images=images, labels=labels, meta=meta)


def decode(value: float) -> tuple[int, int, tuple[int, int, int]]:
    """(label, subject, (i, j, k)) from an encoded voxel value."""
    label = int(np.floor(value * 4 + 1e-4))
    code = round((value - label / 4) * 1e5)
    subject, rest = divmod(code, 1000)
    return label, subject, (rest // 100, rest // 10 % 10, rest % 10)


def reference_window(vol: np.ndarray, centre: tuple[int, int, int], axis: int, p: int) -> np.ndarray:
    """The p x p window through ``centre`` perpendicular to ``axis``, zero outside the volume (loops)."""
    rows, cols = (d for d in range(3) if d != axis % 3)
    out = np.zeros((p, p), dtype=np.float32)
    for r in range(p):
        for c in range(p):
            idx = list(centre)
            idx[rows] += r - p // 2
            idx[cols] += c - p // 2
            if all(0 <= v < s for v, s in zip(idx, vol.shape)):
                out[r, c] = vol[tuple(idx)]
    return out


# --------------------------------------------------------------------------------------------------
# patches_from_cohort
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("axis,patch_size", [(-1, 4), (-1, 5), (0, 6), (1, 5)])
def test_patches_are_windows_centred_on_a_voxel_of_their_class(axis, patch_size):
    """Every patch is the zero-padded slice window around a voxel of its class, with that voxel's metadata."""
    cohort = encoded_cohort()
    classes = (1, 2, 3)
    data = patches_from_cohort(cohort, patch_size=patch_size, patches_per_subject=7, classes=classes, axis=axis, seed=1)
    n = len(cohort.labels)
    assert data.x.shape == (n * 6, 1, patch_size, patch_size) and data.x.dtype == torch.float32
    assert data.num_classes == 3 and set(data.meta) >= {"subject", "sex", "age", "slice"}
    half = patch_size // 2
    for m in range(len(data)):
        label, subject, pos = decode(float(data.x[m, 0, half, half]))
        assert cohort.labels[subject][pos] == label == classes[int(data.y[m])]
        assert data.meta["subject"][m] == cohort.meta["subject"][subject]
        assert data.meta["sex"][m] == cohort.meta["sex"][subject]
        assert data.meta["age"][m] == cohort.meta["age"][subject]
        assert data.meta["slice"][m] == pos[axis]
        want = reference_window(cohort.images[subject, 0].astype(np.float32), pos, axis, patch_size)
        np.testing.assert_array_equal(data.x[m, 0].numpy(), want)


def test_patches_are_class_balanced_per_subject():
    """Each subject gives patches_per_subject // len(classes) patches of every class (the remainder is dropped)."""
    cohort = encoded_cohort(n=4)
    data = patches_from_cohort(cohort, patch_size=4, patches_per_subject=8, classes=(3, 1, 2), seed=0)
    assert len(data) == 4 * 6
    for s in cohort.meta["subject"]:
        counts = np.bincount(data.labels[data.meta["subject"] == s], minlength=3)
        np.testing.assert_array_equal(counts, [2, 2, 2])
    # classes=(3, 1, 2): class index 0 is cohort label 3.
    half = 2
    for m in np.flatnonzero(data.labels == 0):
        assert decode(float(data.x[m, 0, half, half]))[0] == 3


def test_patch_at_the_volume_corner_is_zero_padded():
    """A class present only at voxel (0, 0, k) gives a window whose out-of-volume half is zero."""
    labels = np.ones((1, 5, 5, 3), dtype=np.int64)
    labels[0, 0, 0, 2] = 2
    images = np.full((1, 1, 5, 5, 3), 0.5)
    images[0, 0, 0, 0, 2] = 0.9
    cohort = SimpleNamespace(images=images, labels=labels, meta={"subject": [7], "sex": ["M"], "age": [60]})
    data = patches_from_cohort(cohort, patch_size=6, patches_per_subject=4, classes=(1, 2), seed=0)
    corner = data.x[data.y == 1]
    assert corner.shape == (2, 1, 6, 6)  # the single voxel drawn twice (with replacement)
    assert torch.all(corner[:, 0, :3, :] == 0) and torch.all(corner[:, 0, :, :3] == 0)
    assert torch.allclose(corner[:, 0, 3, 3], torch.tensor(0.9))
    assert set(data.meta["slice"][data.labels == 1]) == {2}


def test_patches_accept_a_torch_cohort_and_are_seeded():
    """A Cohort of tensors works; the same seed repeats the patches, another seed draws others."""
    raw = encoded_cohort()
    cohort = Cohort(torch.from_numpy(raw.images.astype(np.float32)), torch.from_numpy(raw.labels), raw.meta)
    a = patches_from_cohort(cohort, patch_size=5, patches_per_subject=6, seed=3)
    b = patches_from_cohort(cohort, patch_size=5, patches_per_subject=6, seed=3)
    c = patches_from_cohort(cohort, patch_size=5, patches_per_subject=6, seed=4)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    for col in a.meta:
        np.testing.assert_array_equal(a.meta[col], b.meta[col])
    assert not torch.equal(a.x, c.x)


def test_patches_normalise_raw_volumes_to_unit_range():
    """normalise=True maps raw intensities (here 0..1000) into [0, 1]; without it they stay raw."""
    cohort = encoded_cohort()
    cohort.images = cohort.images * 1000
    raw = patches_from_cohort(cohort, patch_size=4, patches_per_subject=6, seed=0)
    scaled = patches_from_cohort(cohort, patch_size=4, patches_per_subject=6, seed=0, normalise=True)
    assert raw.x.max() > 100
    assert scaled.x.min() >= 0 and scaled.x.max() <= 1 and scaled.x.max() > 0.5


def _with(cohort: SimpleNamespace, **changes) -> SimpleNamespace:
    return SimpleNamespace(**{**vars(cohort), **changes})


@pytest.mark.parametrize(
    "change,kwargs,match",
    [
        (lambda c: _with(c, images=c.images[:, 0]), {}, r"cohort\.images"),
        (lambda c: _with(c, images=np.repeat(c.images, 2, axis=1)), {}, r"cohort\.images"),
        (lambda c: _with(c, labels=c.labels[:, :-1]), {}, r"cohort\.labels"),
        (lambda c: _with(c, meta={k: v for k, v in c.meta.items() if k != "age"}), {}, r"cohort\.meta has no 'age'"),
        (lambda c: _with(c, meta={**c.meta, "sex": c.meta["sex"][:2]}), {}, r"cohort\.meta\['sex'\]"),
        (lambda c: c, {"patch_size": 3}, "patch_size"),
        (lambda c: c, {"patch_size": 6.0}, "patch_size"),
        (lambda c: c, {"classes": (1, 2, 1)}, "classes"),
        (lambda c: c, {"classes": (2,)}, "classes"),
        (lambda c: c, {"patches_per_subject": 2}, "patches_per_subject"),
        (lambda c: c, {"axis": 3}, "axis"),
        (lambda c: c, {"classes": (1, 2, 4)}, r"subject 's0' has no voxel of label 4"),
    ],
)
def test_patches_reject_bad_input(change, kwargs, match):
    """Each documented ValueError branch fires with a message naming the culprit."""
    with pytest.raises(ValueError, match=match):
        patches_from_cohort(change(encoded_cohort()), **{"patch_size": 4, "patches_per_subject": 6, **kwargs})


# --------------------------------------------------------------------------------------------------
# split_by_subject
# --------------------------------------------------------------------------------------------------


def subject_dataset(sexes: str = "FFFFFFMMMM", per_subject: int = 3) -> ArrayDataset:
    """per_subject samples for each subject, subject i of sex sexes[i]."""
    subject = np.repeat(np.arange(len(sexes)), per_subject)
    n = len(subject)
    return ArrayDataset(
        torch.rand(n, 1, 4, 4), torch.arange(n) % 2, {"subject": subject, "sex": np.array(list(sexes))[subject]}, name="subj"
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_by_subject_keeps_patients_apart_and_balances_sex(seed):
    """No subject on both sides, nothing lost, and the held-out subjects are 2 F + 2 M."""
    data = subject_dataset()
    train, test = split_by_subject(data, 4, seed=seed)
    assert len(train) + len(test) == len(data)
    tr, te = set(train.meta["subject"]), set(test.meta["subject"])
    assert not tr & te and len(te) == 4 and len(tr) == 6
    sex_of = dict(zip(data.meta["subject"], data.meta["sex"]))
    assert sorted(sex_of[s] for s in te) == ["F", "F", "M", "M"]
    assert train.name == "subj-train" and test.name == "subj-test"


def test_split_by_subject_is_seeded_and_works_unstratified():
    """The same seed repeats the held-out subjects, seeds vary them; stratify=None draws any subjects."""
    data = subject_dataset()
    held = [frozenset(split_by_subject(data, 3, seed=s)[1].meta["subject"]) for s in range(6)]
    assert held[0] == frozenset(split_by_subject(data, 3, seed=0)[1].meta["subject"])
    assert len(set(held)) > 1
    train, test = split_by_subject(data, 5, seed=0, stratify=None)
    assert len(set(test.meta["subject"])) == 5 and not set(train.meta["subject"]) & set(test.meta["subject"])


@pytest.mark.parametrize("n_test", [0, 10, 2.0])
def test_split_by_subject_rejects_bad_counts(n_test):
    with pytest.raises(ValueError, match="n_test_subjects"):
        split_by_subject(subject_dataset(), n_test)


def test_split_by_subject_errors():
    """Missing subject / stratify columns, and a group that would be left without a training subject."""
    data = subject_dataset()
    with pytest.raises(ValueError, match="'subject'"):
        split_by_subject(ArrayDataset(data.x, data.y, {"sex": data.meta["sex"]}), 2)
    with pytest.raises(ValueError, match="'site'"):
        split_by_subject(data, 2, stratify="site")
    with pytest.raises(ValueError, match="cannot hold out"):
        split_by_subject(subject_dataset("FFFFFM"), 5)  # at most 4 F + 0 M can leave training


# --------------------------------------------------------------------------------------------------
# load_brain_patches (simulated cohort, tiny)
# --------------------------------------------------------------------------------------------------


def test_load_brain_patches_tiny(tmp_path):
    """Train/test patches of 3 tissue classes in [0, 1], patients split and both sexes in training."""
    train, test = load_brain_patches(6, 24, patch_size=8, patches_per_subject=6, n_test_subjects=2, cache_dir=tmp_path)
    assert train.x.shape == (4 * 6, 1, 8, 8) and test.x.shape == (2 * 6, 1, 8, 8)
    assert train.num_classes == test.num_classes == 3
    assert set(train.labels.tolist()) == {0, 1, 2}
    for d in (train, test):
        assert float(d.x.min()) >= 0 and float(d.x.max()) <= 1
    assert set(train.meta["sex"]) == {"F", "M"} and sorted(test.meta["sex"][::6]) == ["F", "M"]
    assert not set(train.meta["subject"]) & set(test.meta["subject"])
    with pytest.raises(ValueError, match="size"):
        load_brain_patches(2, 8, patch_size=12, cache_dir=tmp_path)


# --------------------------------------------------------------------------------------------------
# load_medmnist
# --------------------------------------------------------------------------------------------------


def write_medmnist(
    root: Path, flag: str, *, n: int = 40, side: int = 28, rgb: bool = False, n_labels: int = 1, n_classes: int = 8, seed: int = 0
) -> dict:
    """A MedMNIST-format .npz (uint8 images, int labels (N, 1) or (N, K)); returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, size in (("train", n), ("val", n // 4), ("test", n // 4)):
        shape = (size, side, side, 3) if rgb else (size, side, side)
        arrays[f"{split}_images"] = rng.integers(0, 256, size=shape, dtype=np.uint8)
        if n_labels == 1:
            arrays[f"{split}_labels"] = (np.arange(size) % n_classes).reshape(size, 1).astype(np.int64)
        else:
            arrays[f"{split}_labels"] = rng.integers(0, 2, size=(size, n_labels)).astype(np.uint8)
    root.mkdir(parents=True, exist_ok=True)
    np.savez(root / (f"{flag}.npz" if side == 28 else f"{flag}_{side}.npz"), **arrays)
    return arrays


def test_medmnist_greyscale_split(tmp_path):
    """(N, 28, 28) uint8 becomes (N, 1, 28, 28) float = uint8 / 255, labels and an index column."""
    arrays = write_medmnist(tmp_path, "tissuemnist")
    for split in ("train", "val", "test"):
        d = load_medmnist(tmp_path, "tissuemnist", split)
        imgs, labs = arrays[f"{split}_images"], arrays[f"{split}_labels"][:, 0]
        assert d.x.shape == (len(imgs), 1, 28, 28) and d.x.dtype == torch.float32
        np.testing.assert_allclose(d.x[:, 0].numpy(), imgs / 255.0, rtol=0, atol=1e-7)
        np.testing.assert_array_equal(d.labels, labs)
        np.testing.assert_array_equal(d.meta["index"], np.arange(len(imgs)))
        assert d.name == f"tissuemnist-{split}"
    assert load_medmnist(tmp_path, "tissuemnist").num_classes == 8


def test_medmnist_rgb_is_channels_first(tmp_path):
    """(N, 28, 28, 3) becomes (N, 3, 28, 28) with x[n, c, h, w] = image[n, h, w, c] / 255."""
    arrays = write_medmnist(tmp_path, "pathmnist", rgb=True, n_classes=9)
    d = load_medmnist(tmp_path, "pathmnist", "test")
    imgs = arrays["test_images"]
    assert d.x.shape == (len(imgs), 3, 28, 28)
    np.testing.assert_allclose(d.x.numpy(), imgs.transpose(0, 3, 1, 2) / 255.0, rtol=0, atol=1e-7)


def test_medmnist_size_reads_the_sized_file(tmp_path):
    """size=64 reads <flag>_64.npz; None and 28 read <flag>.npz (MedMNIST's own naming)."""
    small = write_medmnist(tmp_path, "tissuemnist", seed=1)
    big = write_medmnist(tmp_path, "tissuemnist", side=64, seed=2)
    d64 = load_medmnist(tmp_path, "tissuemnist", size=64)
    assert d64.x.shape == (40, 1, 64, 64)
    np.testing.assert_allclose(d64.x[:, 0].numpy(), big["train_images"] / 255.0, rtol=0, atol=1e-7)
    for size in (None, 28):
        d28 = load_medmnist(tmp_path, "tissuemnist", size=size)
        np.testing.assert_allclose(d28.x[:, 0].numpy(), small["train_images"] / 255.0, rtol=0, atol=1e-7)
    with pytest.raises(FileNotFoundError, match=re.escape("tissuemnist_128.npz")):
        load_medmnist(tmp_path, "tissuemnist", size=128)


def test_medmnist_max_samples_is_stratified_seeded_and_traceable(tmp_path):
    """A stratified subsample of exactly max_samples, repeatable per seed, whose index column finds each row."""
    arrays = write_medmnist(tmp_path, "tissuemnist")  # 40 rows, 5 per class
    a = load_medmnist(tmp_path, "tissuemnist", max_samples=20, seed=0)
    assert len(a) == 20
    counts = np.bincount(a.labels, minlength=8)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 20
    imgs, labs = arrays["train_images"], arrays["train_labels"][:, 0]
    np.testing.assert_allclose(a.x[:, 0].numpy(), imgs[a.meta["index"]] / 255.0, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(a.labels, labs[a.meta["index"]])
    assert len(np.unique(a.meta["index"])) == 20
    np.testing.assert_array_equal(a.meta["index"], load_medmnist(tmp_path, "tissuemnist", max_samples=20, seed=0).meta["index"])
    others = {tuple(load_medmnist(tmp_path, "tissuemnist", max_samples=20, seed=s).meta["index"]) for s in range(1, 4)}
    assert others - {tuple(a.meta["index"])}
    assert len(load_medmnist(tmp_path, "tissuemnist", max_samples=100)) == 40
    with pytest.raises(ValueError, match="max_samples"):
        load_medmnist(tmp_path, "tissuemnist", max_samples=0)


def test_medmnist_multilabel_needs_a_label_column(tmp_path):
    """ChestMNIST's (N, 14) labels: label_column picks one binary finding; without it, a ValueError."""
    arrays = write_medmnist(tmp_path, "chestmnist", n_labels=14)
    with pytest.raises(ValueError, match="label_column"):
        load_medmnist(tmp_path, "chestmnist")
    with pytest.raises(ValueError, match="label_column"):
        load_medmnist(tmp_path, "chestmnist", label_column=14)
    d = load_medmnist(tmp_path, "chestmnist", "val", label_column=3)
    np.testing.assert_array_equal(d.labels, arrays["val_labels"][:, 3])
    assert d.y.dtype == torch.int64 and d.num_classes == 2
    labels = np.zeros((6, 14), np.uint8)
    labels[:3, 0] = 1
    np.savez(tmp_path / "chestmnist.npz", train_images=np.zeros((6, 28, 28), np.uint8), train_labels=labels)
    rare = load_medmnist(tmp_path, "chestmnist", label_column=13)  # a finding absent from this split
    assert rare.num_classes == 2 and not rare.labels.any()


def test_medmnist_missing_files_and_bad_arguments(tmp_path):
    """Missing directory / file name what is missing; a missing key or a bad split is a ValueError."""
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_medmnist(tmp_path / "nowhere")
    write_medmnist(tmp_path, "pathmnist", rgb=True)
    with pytest.raises(FileNotFoundError, match=re.escape("organamnist.npz")):
        load_medmnist(tmp_path, "organamnist")
    np.savez(tmp_path / "bloodmnist.npz", train_images=np.zeros((2, 28, 28), np.uint8), train_labels=np.zeros((2, 1)))
    with pytest.raises(ValueError, match="test_images"):
        load_medmnist(tmp_path, "bloodmnist", "test")
    np.savez(tmp_path / "dermamnist.npz", train_images=np.zeros((3, 28, 28), np.uint8), train_labels=np.zeros((2, 1)))
    with pytest.raises(ValueError, match="3 train images but 2 labels"):
        load_medmnist(tmp_path, "dermamnist")
    with pytest.raises(ValueError, match="split"):
        load_medmnist(tmp_path, "pathmnist", "valid")


# --------------------------------------------------------------------------------------------------
# load_chexpert
# --------------------------------------------------------------------------------------------------

CHEXPERT_HEADER = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *CHEXPERT_FINDINGS]
# (path under CheXpert-v1.0-small/, sex, age, view, AP/PA, Pleural Effusion cell, grey level, (width, height))
TRAIN_ROWS = [
    ("train/patient00001/study1/view1_frontal.jpg", "Female", 68, "Frontal", "AP", "1.0", 20, (40, 50)),
    ("train/patient00001/study1/view2_lateral.jpg", "Female", 68, "Lateral", "", "1.0", 60, (50, 40)),
    ("train/patient00002/study1/view1_frontal.jpg", "Male", 45, "Frontal", "PA", "-1.0", 100, (32, 32)),
    ("train/patient00003/study2/view1_frontal.jpg", "Unknown", 30, "Frontal", "AP", "", 140, (60, 45)),
    ("train/patient00004/study1/view1_frontal.jpg", "Male", 80, "Frontal", "AP", "0.0", 180, (40, 50)),
    ("train/patient00005/study1/view1_frontal.jpg", "Female", 55, "Frontal", "AP", "-1.0", 220, (24, 30)),
]
VALID_ROWS = [
    ("valid/patient64541/study1/view1_frontal.jpg", "Male", 73, "Frontal", "AP", "1.0", 90, (36, 36)),
    ("valid/patient64542/study1/view1_frontal.jpg", "Female", 70, "Frontal", "PA", "0.0", 200, (36, 40)),
]


def write_chexpert(parent: Path) -> Path:
    """A CheXpert-v1.0-small tree under ``parent``: CSVs with the real header, uniform-grey JPEGs of mixed sizes."""
    from PIL import Image

    base = parent / "CheXpert-v1.0-small"
    for csv_name, rows in (("train.csv", TRAIN_ROWS), ("valid.csv", VALID_ROWS)):
        base.mkdir(parents=True, exist_ok=True)
        with open(base / csv_name, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(CHEXPERT_HEADER)
            for n, (rel, sex, age, view, appa, effusion, grey, wh) in enumerate(rows):
                findings = ["" for _ in CHEXPERT_FINDINGS]
                findings[CHEXPERT_FINDINGS.index("Pleural Effusion")] = effusion
                findings[CHEXPERT_FINDINGS.index("Cardiomegaly")] = ["1.0", "-1.0", "", "0.0"][n % 4]
                findings[CHEXPERT_FINDINGS.index("Fracture")] = "-1.0"
                w.writerow([f"CheXpert-v1.0-small/{rel}", sex, age, view, appa, *findings])
                (base / rel).parent.mkdir(parents=True, exist_ok=True)
                Image.new("L", wh, color=grey).save(base / rel, format="JPEG")
    return base


@pytest.fixture
def chexpert(tmp_path) -> Path:
    """The parent directory of a tiny CheXpert-v1.0-small tree."""
    write_chexpert(tmp_path)
    return tmp_path


FRONTAL = [0, 2, 3, 4, 5]  # TRAIN_ROWS indices of the frontal views


def test_chexpert_loads_frontal_views_with_metadata(chexpert):
    """Frontal rows only, resized to image_size in [0, 1] with each row's own image, and subject/sex/age/path."""
    d = load_chexpert(chexpert, image_size=16)
    assert d.x.shape == (5, 1, 16, 16) and d.x.dtype == torch.float32 and d.num_classes == 2
    assert float(d.x.min()) >= 0 and float(d.x.max()) <= 1
    greys = np.array([TRAIN_ROWS[i][6] for i in FRONTAL]) / 255.0
    np.testing.assert_allclose(d.x.mean(dim=(1, 2, 3)).numpy(), greys, atol=3 / 255)
    np.testing.assert_array_equal(d.labels, [1, 0, 0, 0, 0])  # zeros policy; blank -> 0
    np.testing.assert_array_equal(d.meta["subject"], ["patient00001", "patient00002", "patient00003", "patient00004", "patient00005"])
    np.testing.assert_array_equal(d.meta["sex"], ["F", "M", "U", "M", "F"])
    np.testing.assert_array_equal(d.meta["age"], [68.0, 45.0, 30.0, 80.0, 55.0])
    np.testing.assert_array_equal(d.meta["path"], [f"CheXpert-v1.0-small/{TRAIN_ROWS[i][0]}" for i in FRONTAL])
    assert d.name == "chexpert-train-pleural_effusion"


def test_chexpert_root_may_be_the_dataset_directory(chexpert):
    """Pointing at CheXpert-v1.0-small itself (even renamed) gives the same data as pointing at its parent."""
    a = load_chexpert(chexpert, image_size=8)
    b = load_chexpert(chexpert / "CheXpert-v1.0-small", image_size=8)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    np.testing.assert_array_equal(a.meta["path"], b.meta["path"])
    renamed = (chexpert / "CheXpert-v1.0-small").rename(chexpert / "chexpert")
    c = load_chexpert(renamed, image_size=8)
    assert torch.equal(a.x, c.x) and torch.equal(a.y, c.y)


@pytest.mark.parametrize(
    "uncertain,frontal_only,labels,rows",
    [
        ("zeros", True, [1, 0, 0, 0, 0], FRONTAL),
        ("ones", True, [1, 1, 0, 0, 1], FRONTAL),
        ("ignore", True, [1, 0, 0], [0, 3, 4]),
        ("zeros", False, [1, 1, 0, 0, 0, 0], [0, 1, 2, 3, 4, 5]),
        ("ignore", False, [1, 1, 0, 0], [0, 1, 3, 4]),
    ],
)
def test_chexpert_uncertain_policies_and_views(chexpert, uncertain, frontal_only, labels, rows):
    """U-Zeros / U-Ones relabel -1; ignore drops those rows; frontal_only=False keeps the lateral view."""
    d = load_chexpert(chexpert, uncertain=uncertain, frontal_only=frontal_only, image_size=8)
    np.testing.assert_array_equal(d.labels, labels)
    np.testing.assert_array_equal(d.meta["path"], [f"CheXpert-v1.0-small/{TRAIN_ROWS[i][0]}" for i in rows])


def test_chexpert_other_target_and_valid_split(chexpert):
    """target picks the column; the valid split reads valid.csv."""
    d = load_chexpert(chexpert, target="Cardiomegaly", uncertain="ones", image_size=8)
    np.testing.assert_array_equal(d.labels, [1, 0, 0, 1, 1])  # cells 1.0, "", 0.0, 1.0, -1.0 over FRONTAL
    v = load_chexpert(chexpert, "valid", image_size=8)
    np.testing.assert_array_equal(v.labels, [1, 0])
    np.testing.assert_array_equal(v.meta["subject"], ["patient64541", "patient64542"])
    np.testing.assert_array_equal(v.meta["sex"], ["M", "F"])


def test_chexpert_max_images_is_a_seeded_subset(chexpert):
    """max_images keeps that many of the eligible rows, the same ones for the same seed."""
    full = load_chexpert(chexpert, image_size=8)
    picks = [tuple(load_chexpert(chexpert, image_size=8, max_images=3, seed=s).meta["path"]) for s in range(5)]
    assert all(len(p) == 3 and set(p) <= set(full.meta["path"]) for p in picks)
    assert picks[0] == tuple(load_chexpert(chexpert, image_size=8, max_images=3, seed=0).meta["path"])
    assert len(set(picks)) > 1
    sub = load_chexpert(chexpert, image_size=8, max_images=3, seed=0)
    for k, path in enumerate(sub.meta["path"]):
        i = list(full.meta["path"]).index(path)
        assert torch.equal(sub.x[k], full.x[i]) and sub.y[k] == full.y[i]
    assert len(load_chexpert(chexpert, image_size=8, max_images=50)) == 5


def test_chexpert_errors(chexpert, tmp_path):
    """Missing image / CSV / directory, a missing column, a bad policy, split or label value, nothing left."""
    missing = TRAIN_ROWS[3][0]
    (chexpert / "CheXpert-v1.0-small" / missing).unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(missing)):
        load_chexpert(chexpert, image_size=8)
    with pytest.raises(ValueError, match="No Such Finding"):
        load_chexpert(chexpert, target="No Such Finding")
    with pytest.raises(ValueError, match="uncertain"):
        load_chexpert(chexpert, uncertain="maybe")
    with pytest.raises(ValueError, match="split"):
        load_chexpert(chexpert, "test")
    with pytest.raises(ValueError, match="image_size"):
        load_chexpert(chexpert, image_size=4)
    with pytest.raises(ValueError, match="no rows left"):
        load_chexpert(chexpert, target="Fracture", uncertain="ignore")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_chexpert(tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=re.escape("train.csv")):
        load_chexpert(empty)
    bad = write_chexpert(tmp_path / "bad") / "valid.csv"
    bad.write_text(bad.read_text().replace(",1.0,", ",2.0,", 1))
    with pytest.raises(ValueError, match="expected 1, 0, -1 or blank"):
        load_chexpert(tmp_path / "bad", "valid", target="Cardiomegaly")


# --------------------------------------------------------------------------------------------------
# Forget splits from indices and attributes
# --------------------------------------------------------------------------------------------------

LABELS = np.repeat(np.arange(4), 25)  # 100 samples, 4 classes
SEX = np.where(np.arange(100) % 3 == 0, "F", "M")


def assert_partition(split, n: int = 100) -> None:
    union = np.concatenate([split.retain, split.forget, split.val])
    assert union.size == n and np.array_equal(np.sort(union), np.arange(n))


@pytest.mark.parametrize("seed,val_fraction", [(0, 0.1), (5, 0.2)])
def test_indices_forget_split_shares_the_random_split_validation(seed, val_fraction):
    """forget is exactly the given indices; val is make_forget_split's for the same seed and fraction."""
    ref = make_forget_split(LABELS, "random", fraction=0.1, seed=seed, val_fraction=val_fraction)
    forget = np.concatenate([ref.retain[[9, 2, 40]], ref.forget[:2], ref.retain[[2]]])  # unsorted, one duplicate
    split = indices_forget_split(LABELS, forget, seed=seed, val_fraction=val_fraction, description="chosen")
    np.testing.assert_array_equal(split.val, ref.val)
    np.testing.assert_array_equal(split.forget, np.unique(forget))
    assert_partition(split)
    assert split.kind == "attribute" and split.description == "chosen"


def test_indices_forget_split_errors():
    ref = make_forget_split(LABELS, "random", fraction=0.1, seed=1)
    with pytest.raises(ValueError, match="validation partition of seed 1"):
        indices_forget_split(LABELS, [int(ref.retain[0]), int(ref.val[0])], seed=1)
    with pytest.raises(ValueError, match="at least one"):
        indices_forget_split(LABELS, [])
    with pytest.raises(ValueError, match="forget indices"):
        indices_forget_split(LABELS, [100])
    with pytest.raises(ValueError, match="forget indices"):
        indices_forget_split(LABELS, [-1])


def test_attribute_forget_split_forgets_that_value_only():
    """All training F (outside validation) are forgotten and none remain in retain; val is the seed's."""
    split = attribute_forget_split(LABELS, SEX, "F", seed=2)
    ref = make_forget_split(LABELS, "random", fraction=0.1, seed=2)
    np.testing.assert_array_equal(split.val, ref.val)
    assert set(SEX[split.forget]) == {"F"} and "F" not in set(SEX[split.retain])
    assert_partition(split)


def test_attribute_forget_split_with_n_forget_and_subsample():
    """n_forget keeps that many of the value, the rest goes back to retain; seeded; errors out of range."""
    full = attribute_forget_split(LABELS, SEX, "M", seed=0)
    part = attribute_forget_split(LABELS, SEX, "M", n_forget=10, seed=0)
    assert len(part.forget) == 10 and set(part.forget) <= set(full.forget) and set(SEX[part.forget]) == {"M"}
    np.testing.assert_array_equal(part.val, full.val)
    np.testing.assert_array_equal(part.retain, np.union1d(full.retain, np.setdiff1d(full.forget, part.forget)))
    assert_partition(part)
    np.testing.assert_array_equal(part.forget, attribute_forget_split(LABELS, SEX, "M", n_forget=10, seed=0).forget)
    with pytest.raises(ValueError, match="no training sample"):
        attribute_forget_split(LABELS, SEX, "X")
    with pytest.raises(ValueError, match="n_forget"):
        attribute_forget_split(LABELS, SEX, "F", n_forget=len(full.forget) + 100)
    with pytest.raises(ValueError, match="attribute"):
        attribute_forget_split(LABELS, SEX[:-1], "F")


def test_subsample_forget_is_seeded_and_returns_the_rest_to_retain():
    base = make_forget_split(LABELS, "class", forget_class=2, seed=0)
    a = subsample_forget(base, 5, seed=1)
    assert len(a.forget) == 5 and set(a.forget) <= set(base.forget)
    np.testing.assert_array_equal(a.val, base.val)
    np.testing.assert_array_equal(a.retain, np.union1d(base.retain, np.setdiff1d(base.forget, a.forget)))
    assert_partition(a)
    assert a.kind == "class" and a.forget_class == 2
    np.testing.assert_array_equal(a.forget, subsample_forget(base, 5, seed=1).forget)
    assert len({tuple(subsample_forget(base, 5, seed=s).forget) for s in range(5)}) > 1
    np.testing.assert_array_equal(subsample_forget(base, np.int64(len(base.forget))).forget, base.forget)
    for bad in (0, len(base.forget) + 1, 2.5):
        with pytest.raises(ValueError, match="n_forget"):
            subsample_forget(base, bad)
