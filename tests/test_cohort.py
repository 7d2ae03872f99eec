"""The simulated MNI152 cohort: shapes, labels, metadata, determinism, caching, and real inter-subject variation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from unlearn_lib.data import ArrayDataset, Cohort, label_dice, simulate_cohort
from unlearn_lib.data.cohort import COHORT_VERSION, _cache_path


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("cohort_cache"))


@pytest.fixture(scope="module")
def cohort(cache) -> Cohort:
    return simulate_cohort(n_subjects=8, size=32, seed=0, cache_dir=cache)


def test_shapes_types_and_labels(cohort):
    assert cohort.images.shape == (8, 1, 32, 32, 32) and cohort.images.dtype == torch.float32
    assert cohort.labels.shape == (8, 32, 32, 32) and cohort.labels.dtype == torch.int64
    assert set(torch.unique(cohort.labels).tolist()) == {0, 1, 2, 3}
    assert 0.0 <= float(cohort.images.min()) and float(cohort.images.max()) <= 1.0
    assert cohort.label_names == ("background", "CSF", "GM", "WM")
    # Every subject has every tissue, and the image carries the tissue contrast (CSF < GM < WM).
    for i in range(len(cohort)):
        means = [float(cohort.images[i, 0][cohort.labels[i] == k].mean()) for k in (1, 2, 3)]
        assert means[0] < means[1] < means[2], means


def test_metadata(cohort):
    assert list(cohort.meta["subject"]) == list(range(8))
    assert sorted(set(cohort.meta["sex"].tolist())) == ["F", "M"]
    assert (cohort.meta["sex"] == "F").sum() == 4
    ages = cohort.meta["age"]
    assert ages.dtype.kind == "f" and ages.min() >= 20 and ages.max() <= 85


def test_to_dataset(cohort):
    ds = cohort.to_dataset()
    assert isinstance(ds, ArrayDataset) and ds.num_classes == 4 and len(ds) == 8
    sub = ds.subset(np.flatnonzero(ds.meta["subject"] == 3))
    assert torch.equal(sub.y[0], cohort.labels[3]) and sub.meta["sex"][0] == cohort.meta["sex"][3]


def test_subjects_differ_enough_to_make_forgetting_a_question(cohort):
    # Inter-subject Dice of the label maps: clearly below 1 (different anatomies), clearly above
    # chance (the same brain): a model could memorise one subject, or generalise to it.
    pairs = [label_dice(cohort.labels[i], cohort.labels[j]) for i in range(8) for j in range(i + 1, 8)]
    assert 0.25 < float(np.mean(pairs)) < 0.85, pairs
    assert max(pairs) < 0.95


def test_metadata_shapes_anatomy(cohort):
    brain = (cohort.labels > 0).flatten(1).sum(1).numpy().astype(float)
    sex = cohort.meta["sex"]
    assert brain[sex == "M"].mean() > brain[sex == "F"].mean() * 1.05  # head size by sex
    csf_share = ((cohort.labels == 1).flatten(1).sum(1).numpy() / brain).astype(float)
    assert np.corrcoef(cohort.meta["age"], csf_share)[0, 1] > 0.5  # CSF enlarges with age


def test_deterministic_cached_and_prefix_stable(cohort, cache):
    path = _cache_path(Path(cache), 8, 32, 0)
    assert path.is_file() and f"v{COHORT_VERSION}" not in path.name  # the version is inside the hash key
    again = simulate_cohort(n_subjects=8, size=32, seed=0, cache_dir=cache)  # from the cache
    assert torch.equal(again.images, cohort.images) and torch.equal(again.labels, cohort.labels)
    assert list(again.meta["sex"]) == list(cohort.meta["sex"])
    fresh = simulate_cohort(n_subjects=3, size=32, seed=0, cache_dir=cache)  # recomputed, not cached
    assert torch.equal(fresh.images, cohort.images[:3]) and torch.equal(fresh.labels, cohort.labels[:3])
    other = simulate_cohort(n_subjects=3, size=32, seed=1, cache_dir=cache)
    assert not torch.equal(other.labels, fresh.labels)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary files left


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_subjects": 0}, "n_subjects"), ({"size": 4}, "size"), ({"seed": -1}, "seed"), ({"size": 32.0}, "size")],
)
def test_bad_parameters(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        simulate_cohort(**{"n_subjects": 2, "size": 16, "cache_dir": str(tmp_path), **kwargs})


def test_label_dice_hand_computed():
    a = np.array([0, 1, 1, 2, 3])
    b = np.array([0, 1, 2, 2, 0])
    # CSF: 2*1/(2+1); GM: 2*1/(1+2); WM: 0/(1+0)
    assert label_dice(a, b) == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    with pytest.raises(ValueError, match="same shape"):
        label_dice(a, b[:3])


def test_a_cached_cohort_is_trusted_by_its_contents_not_its_name(tmp_path):
    """Issue #36: a seed-1 cohort under seed 0's name was used silently, and a truncated file failed the task."""
    import shutil
    import warnings

    from unlearn_lib.cache import CacheWarning
    from unlearn_lib.data import cohort as C

    true = C.simulate_cohort(3, 16, 0, cache_dir=str(tmp_path))
    C.simulate_cohort(3, 16, 1, cache_dir=str(tmp_path))
    seed0, seed1 = (C._cache_path(tmp_path, 3, 16, s) for s in (0, 1))
    for damage in (lambda: shutil.copy(seed1, seed0), lambda: seed0.write_bytes(seed0.read_bytes()[:100])):
        damage()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            again = C.simulate_cohort(3, 16, 0, cache_dir=str(tmp_path))
        assert any(issubclass(w.category, CacheWarning) for w in caught)
        assert torch.equal(again.images, true.images) and torch.equal(again.labels, true.labels)
