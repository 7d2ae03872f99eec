"""Distinctive subjects and sites planted into the simulated cohort (issue #33, item 1).

Behaviour, not implementation: the planted anatomy is out of the cohort's range, the image agrees with
the labels under the subject's own scan, a site differs only where it was planted and from every other
site, the descriptors find what was planted, and every bad argument is refused by name. No training.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage

from unlearn_lib.data import distinctive as D
from unlearn_lib.data.cohort import Cohort, Scanner, _cache_path, simulate_cohort
from unlearn_lib.utils import cache_dir

CSF, GM, WM = 1, 2, 3
#: The user's cohort cache (conftest points UNLEARN_CACHE at a temporary one and keeps the user's here).
_USER_CACHE = Path(os.environ.get("UNLEARN_TEST_USER_CACHE") or cache_dir())


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Cohort:
    """8 subjects at 32^3 on 3 scanners; copied from the user's cache when there (the cohort checks the
    file's key and checksum itself), else simulated into a temporary cache."""
    tmp = tmp_path_factory.mktemp("cohort")
    cached = _cache_path(_USER_CACHE, 8, 32, 0)
    if cached.is_file():
        shutil.copy(cached, _cache_path(Path(tmp), 8, 32, 0))
    return simulate_cohort(n_subjects=8, size=32, seed=0, cache_dir=str(tmp))


def _snapshot(c: Cohort) -> tuple[torch.Tensor, torch.Tensor, dict[str, np.ndarray]]:
    return c.images.clone(), c.labels.clone(), {k: np.array(v, copy=True) for k, v in c.meta.items()}


def _unchanged(c: Cohort, snap: tuple[torch.Tensor, torch.Tensor, dict[str, np.ndarray]]) -> bool:
    images, labels, meta = snap
    return (
        torch.equal(c.images, images)
        and torch.equal(c.labels, labels)
        and meta.keys() == c.meta.keys()
        and all(np.array_equal(meta[k], c.meta[k]) for k in meta)
    )


def _others_identical(before: Cohort, after: Cohort, rows: list[int]) -> bool:
    keep = [i for i in range(len(before)) if i not in rows]
    return torch.equal(before.images[keep], after.images[keep]) and torch.equal(before.labels[keep], after.labels[keep])


def _medians(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.array([np.median(image[labels == k]) for k in (CSF, GM, WM)])


def _nearest_tissue(values: np.ndarray, medians: np.ndarray) -> np.ndarray:
    return np.abs(values[:, None] - medians[None]).argmin(1) + 1


# --- a distinctive subject ------------------------------------------------------------------------


def test_enlarged_ventricles_lie_outside_the_cohorts_range_by_the_factor(cohort):
    snap = _snapshot(cohort)
    out = D.enlarge_ventricles(cohort, 2, factor=2.0)
    assert _unchanged(cohort, snap), "the input cohort was modified"
    assert _others_identical(cohort, out, [2])
    csf = (out.labels == CSF).flatten(1).sum(1).numpy()
    rest = np.delete(csf, 2).max()
    assert 2.0 * rest <= csf[2] <= 2.0 * rest + 1  # exactly ceil(factor x the largest other)
    assert csf[2] >= 1.9 * (cohort.labels[2] == CSF).sum().item()  # more than doubled its own CSF too
    # Only brain tissue turned CSF; background and the outer rim of brain untouched.
    before, after = cohort.labels[2].numpy(), out.labels[2].numpy()
    changed = before != after
    assert set(np.unique(before[changed]).tolist()) <= {GM, WM} and (after[changed] == CSF).all()
    assert not (changed & ndimage.binary_dilation(before == 0)).any()
    # Grown from the ventricles outward: one connected blob around the deep CSF, not scattered voxels.
    grown = ndimage.label(changed | (before == CSF))[0]
    assert np.bincount(grown[changed]).max() >= 0.9 * changed.sum()
    assert out.meta["design"][2] == "ventricles" and set(np.delete(out.meta["design"], 2)) == {"typical"}


def test_relabelled_voxels_take_the_subjects_own_csf_intensity(cohort):
    out = D.enlarge_ventricles(cohort, 2, factor=2.0)
    before_img, after_img = cohort.images[2, 0].numpy(), out.images[2, 0].numpy()
    changed = cohort.labels[2].numpy() != out.labels[2].numpy()
    med = _medians(before_img, cohort.labels[2].numpy())  # this subject's scan: its contrast, bias, noise
    was = _nearest_tissue(before_img[changed], med)
    now = _nearest_tissue(after_img[changed], med)
    # Before, most looked like GM or WM (a few dark partial-volume voxels beside the ventricles did not).
    assert (was == CSF).mean() < 0.2 and (now == CSF).mean() > 0.95, ((was == CSF).mean(), (now == CSF).mean())
    # Within the subject's own CSF intensities (not just "dark"): between its 2nd and 75th percentile.
    lo, hi = np.percentile(before_img[cohort.labels[2].numpy() == CSF], [2, 75])
    assert lo <= np.median(after_img[changed]) <= hi
    # Noisy like the subject's scan, not a flat fill.
    assert after_img[changed].std() > 0.01
    # Voxels more than one step away from the change keep their intensity bit for bit.
    far = ~ndimage.binary_dilation(changed, structure=np.ones((3, 3, 3)))
    assert np.array_equal(before_img[far], after_img[far])


def _step_noise(image: np.ndarray, mask: np.ndarray) -> float:
    """Noise level from steps between neighbouring voxels of ``mask`` (robust, so anatomy barely counts)."""
    steps = []
    for ax in range(3):
        a, b = [slice(None)] * 3, [slice(None)] * 3
        a[ax], b[ax] = slice(1, None), slice(None, -1)
        both = mask[tuple(a)] & mask[tuple(b)]
        steps.append(image[tuple(a)].astype(float)[both] - image[tuple(b)].astype(float)[both])
    d = np.concatenate(steps)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2))


def test_new_csf_carries_the_noise_of_the_subjects_own_scanner(cohort):
    # Subject 2 was scanned on the noisiest scanner, subject 4 on the quietest (noise 0.049 vs 0.021).
    noise = {}
    for subject in (2, 4):
        out = D.enlarge_ventricles(cohort, subject, factor=2.0)
        changed = cohort.labels[subject].numpy() != out.labels[subject].numpy()
        own = _step_noise(cohort.images[subject, 0].numpy(), ndimage.binary_erosion(cohort.labels[subject].numpy() == WM))
        noise[subject] = _step_noise(out.images[subject, 0].numpy(), changed)
        assert abs(noise[subject] / own - 1) < 0.25, (subject, noise[subject], own)
    assert noise[2] > 1.2 * noise[4], noise


def test_wm_lesions_keep_the_label_and_look_between_csf_and_gm(cohort):
    snap = _snapshot(cohort)
    out = D.add_wm_lesions(cohort, 4, load=0.2, intensity=0.5)
    assert _unchanged(cohort, snap) and _others_identical(cohort, out, [4])
    assert torch.equal(out.labels, cohort.labels)  # lesions stay WM, as in MRBrainS's tissue merge
    region = D.lesion_mask(cohort, 4, load=0.2)
    labels = cohort.labels[4].numpy()
    assert (labels[region] == WM).all() and region.sum() == round(0.2 * (labels == WM).sum())
    med = _medians(cohort.images[4, 0].numpy(), labels)
    before, after = cohort.images[4, 0].numpy()[region], out.images[4, 0].numpy()[region]
    assert (before > med[1]).mean() > 0.9  # they were white matter
    between = (after > med[0]) & (after < med[1])
    assert between.mean() > 0.9, between.mean()  # now darker than GM, brighter than CSF
    assert out.meta["design"][4] == "lesions"


def test_larger_lesion_radii_plant_fewer_larger_lesions_at_the_same_load(cohort):
    """``radius`` sets the lesions' size, not their load: the same share of WM in fewer, confluent blobs
    (what a model can learn from one subject on a coarse grid). The default draws what it always drew."""
    assert np.array_equal(D.lesion_mask(cohort, 4, load=0.2), D.lesion_mask(cohort, 4, load=0.2, radius=D.LESION_RADIUS))
    small, large = D.lesion_mask(cohort, 4, load=0.3, radius=(0.03, 0.05)), D.lesion_mask(cohort, 4, load=0.3, radius=(0.12, 0.14))
    assert small.sum() == large.sum()
    n_small, n_large = ndimage.label(small)[1], ndimage.label(large)[1]
    assert n_large < n_small, (n_small, n_large)
    out = D.add_wm_lesions(cohort, 4, load=0.3, radius=(0.12, 0.14))
    changed = out.images[4, 0].numpy() != cohort.images[4, 0].numpy()
    assert changed[large].all()  # the planted image paints the mask's lesions (and their partial-volume rim)


# --- a site ---------------------------------------------------------------------------------------


def test_site_changes_only_its_subjects_and_is_recorded_as_a_request(cohort):
    snap = _snapshot(cohort)
    out = D.plant_site(cohort, [6, 7])
    assert _unchanged(cohort, snap) and _others_identical(cohort, out, [6, 7])
    assert torch.equal(out.labels, cohort.labels)
    assert not torch.equal(out.images[6], cohort.images[6]) and not torch.equal(out.images[7], cohort.images[7])
    assert list(out.meta["site"]) == ["S0", "S1", "S2", "S0", "S1", "S2", "S3", "S3"]
    assert list(out.meta["scanner"]) == [0, 1, 2, 0, 1, 2, 3, 3]
    assert D.site_request(out, "S3") == [6, 7] and D.site_request(out, "S0") == [0, 3]
    assert list(out.meta["design"]) == ["typical"] * 6 + ["site"] * 2
    assert float(out.images.min()) >= 0.0 and float(out.images.max()) <= 1.0
    assert torch.equal(D.plant_site(cohort, np.array([6, 7])).images, out.images)  # ids as an array too


def test_site_intensity_statistics_differ_from_every_other_sites(cohort):
    out = D.plant_site(cohort, [6, 7], slice_thickness=2, axis=2)
    sites = out.meta["site"]
    contrast, same_step = [], []
    for i in range(len(out)):
        img, lab = out.images[i, 0].numpy(), out.labels[i].numpy()
        med = _medians(img, lab)
        contrast.append(med[0] / med[2])  # CSF over WM
        brain = (lab[:, :, 1:] > 0) & (lab[:, :, :-1] > 0)
        same_step.append(float((img[:, :, 1:] == img[:, :, :-1])[brain].mean()))  # thick slices repeat
    contrast, same_step = np.array(contrast), np.array(same_step)
    new = sites == "S3"
    for site in ("S0", "S1", "S2"):
        other = sites == site
        assert contrast[new].min() > 1.5 * contrast[other].max(), (site, contrast)
        assert same_step[new].min() > 0.4 > 0.05 > same_step[other].max(), (site, same_step)


# --- descriptors ----------------------------------------------------------------------------------


def _second(values) -> float:
    return float(np.sort(np.asarray(values, dtype=float))[-2])


def test_descriptors_flag_the_planted_subject_and_site(cohort):
    d = D.describe_subjects(D.enlarge_ventricles(cohort, 2, factor=2.0))
    assert d["distinctiveness"].idxmax() == 2 and d.loc[2, "top_descriptor"].startswith("frac_")
    assert d.loc[2, "frac_CSF_z"] > 5 and d.loc[2, "distinctiveness"] > 3 * _second(d["distinctiveness"])

    d = D.describe_subjects(D.add_wm_lesions(cohort, 4, load=0.2))
    assert d["distinctiveness"].idxmax() == 4 and d.loc[4, "top_descriptor"] == "wm_below_gm"
    assert d.loc[4, "distinctiveness"] > 3 * _second(d["distinctiveness"])

    planted = D.plant_site(cohort, [6, 7])
    d = D.describe_subjects(planted)
    assert set(d["distinctiveness"].nlargest(2).index) == {6, 7}
    assert d.loc[[6, 7], "appearance_score"].min() > 3 * d.drop(index=[6, 7])["distinctiveness"].max()
    s = D.describe_sites(planted)
    assert list(s.index) == ["S0", "S1", "S2", "S3"] and s.loc["S3", "subjects"] == [6, 7]
    assert s["distinctiveness"].idxmax() == "S3" and s.loc["S3", "distinctiveness"] > 3 * _second(s["distinctiveness"])

    # All three at once: each design is read back from the table.
    both = D.plant_site(D.add_wm_lesions(D.enlarge_ventricles(cohort, 2), 4), [6, 7])
    d = D.describe_subjects(both)
    assert d["anatomy_score"].idxmax() == 2 and d.loc[4, "top_descriptor"] == "wm_below_gm"
    assert D.describe_sites(both)["distinctiveness"].idxmax() == "S3"  # the lesion subject does not make S1 a site
    assert list(d["design"]) == ["typical", "typical", "ventricles", "typical", "lesions", "typical", "site", "site"]


def test_same_seed_same_cohort(cohort):
    def build(seed: int) -> Cohort:
        return D.plant_site(D.add_wm_lesions(D.enlarge_ventricles(cohort, 2, seed=seed), 4, seed=seed), [6, 7], seed=seed)

    a, b, c = build(0), build(0), build(1)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert all(np.array_equal(a.meta[k], b.meta[k]) for k in a.meta)
    assert not torch.equal(a.images[4], c.images[4]) and not torch.equal(a.images[6], c.images[6])
    assert not np.array_equal(D.lesion_mask(cohort, 4, seed=0), D.lesion_mask(cohort, 4, seed=1))


# --- bad input ------------------------------------------------------------------------------------


def _tiny(n: int = 2, csf: bool = True) -> Cohort:
    """n subjects of 8^3 whose brain is nearly all CSF (no room to grow ventricles beyond the others), or GM."""
    labels = torch.full((n, 8, 8, 8), CSF if csf else GM, dtype=torch.int64)
    labels[:, 0], labels[:, -1] = 0, 0
    labels[:, 3:5, 3:5, 3:5] = WM
    images = torch.rand(n, 1, 8, 8, 8, generator=torch.Generator().manual_seed(0))
    return Cohort(images, labels, {"subject": np.arange(n), "scanner": np.zeros(n, dtype=np.int64)})


BAD = [
    (lambda c: D.enlarge_ventricles(c, 99), "subject"),
    (lambda c: D.enlarge_ventricles(c, "2"), "subject"),
    (lambda c: D.enlarge_ventricles(c, 2, factor=1.0), "factor"),
    (lambda c: D.enlarge_ventricles(c, 2, factor=4.5), "factor"),
    (lambda c: D.enlarge_ventricles(c, 2, factor=float("nan")), "factor"),
    (lambda c: D.enlarge_ventricles(c, 2, seed=-1), "seed"),
    (lambda c: D.enlarge_ventricles(_tiny(), 0, factor=1.5), "factor"),
    (lambda c: D.enlarge_ventricles(_tiny(1), 0), "at least 2 subjects"),
    (lambda c: D.enlarge_ventricles("cohort", 0), "cohort"),
    (lambda c: D.enlarge_ventricles(_tiny(csf=False), 0), "no CSF"),
    (lambda c: D.add_wm_lesions(_tiny(csf=False), 0), "no CSF"),
    (lambda c: D.add_wm_lesions(c, 4, load=0.0), "load"),
    (lambda c: D.add_wm_lesions(c, 4, load=0.6), "load"),
    (lambda c: D.add_wm_lesions(c, 4, intensity=1.5), "intensity"),
    (lambda c: D.add_wm_lesions(c, 4, radius=(0.1, 0.05)), "radius"),
    (lambda c: D.add_wm_lesions(c, 4, radius=0.1), "radius"),
    (lambda c: D.lesion_mask(c, 4, radius=(0.0, 0.1)), "radius"),
    (lambda c: D.lesion_mask(c, 4, radius=(0.1, 0.5)), "radius"),
    (lambda c: D.lesion_mask(c, -3), "subject"),
    (lambda c: D.plant_site(c, []), "subjects"),
    (lambda c: D.plant_site(c, 6), "subjects"),
    (lambda c: D.plant_site(c, [6, 6]), "subjects"),
    (lambda c: D.plant_site(c, [6, 42]), "subjects"),
    (lambda c: D.plant_site(c, list(range(8))), "subjects"),
    (lambda c: D.plant_site(c, [6], scanner=Scanner(0.0, 0.03, 0.5)), "scanner.gamma"),
    (lambda c: D.plant_site(c, [6], scanner=Scanner(0.5, 0.03, 3.0)), "scanner.bias"),
    (lambda c: D.plant_site(c, [6], scanner=(0.5, 0.03, 0.5)), "scanner"),
    (lambda c: D.plant_site(c, [6], scanner=Scanner(1.0, 0.0, 0.0), slice_thickness=1), "identity"),
    (lambda c: D.plant_site(c, [6], slice_thickness=0), "slice_thickness"),
    (lambda c: D.plant_site(c, [6], slice_thickness=17), "slice_thickness"),
    (lambda c: D.plant_site(c, [6], axis=3), "axis"),
    (lambda c: D.plant_site(c, [6], name="S0"), "name"),
    (lambda c: D.site_request(c, "S9"), "site"),
]


@pytest.mark.parametrize(("call", "match"), BAD, ids=[f"{i}-{m}" for i, (_, m) in enumerate(BAD)])
def test_bad_input_is_refused_by_name_before_any_work(cohort, monkeypatch, call, match):
    snap = _snapshot(cohort)

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the arguments were checked")

    # patched where the planting functions look them up (the anatomy and site modules of the package)
    for module, helper in ((D.anatomy, "_paint"), (D.anatomy, "_lesion_region"), (D.sites, "_coil_profile"), (D.anatomy, "_tissue_field")):
        monkeypatch.setattr(module, helper, no_work)
    with pytest.raises(ValueError, match=match):
        call(cohort)
    assert _unchanged(cohort, snap)
