"""Subjects and sites with something of their own, planted into an already simulated cohort (issue #33).

Every subject of :func:`~unlearn_lib.data.cohort.simulate_cohort` is a warp of one template, so a
segmenter that generalises has nothing subject-specific to forget. This module gives a cohort requests
that do carry something only they can teach, each returned as a new :class:`Cohort` (the input is never
mutated, and every subject or voxel not named is bit-identical to it):

* :func:`enlarge_ventricles` - **anatomy** out of range: ventriculomegaly *ex vacuo* (central white-matter
  loss replaced by CSF, as in advanced atrophy or hydrocephalus), grown outward from the subject's own deep
  CSF until its CSF volume is ``factor`` times the largest of the other subjects. Label and image agree:
  a relabelled voxel gets the subject's own CSF intensity at that place (its scanner's contrast, its bias
  field, its noise level), estimated from its image, so nothing but the shape is new. Caveat for the
  study: a model that segments by intensity may still get this subject right without having seen it; that
  is what the notebook must measure, not assume.
* :func:`add_wm_lesions` - **an image-to-label mapping** no other subject shows: T1-hypointense white-matter
  lesions ("black holes") kept under the WM label, as MRBrainS13's three-tissue protocol does and as this
  project's own MRBrainS18 ``"tissues"`` merge does (label 4, WM lesions, into WM). A model that never saw
  them labels them GM or CSF (the failure lesion filling exists for), so only this subject teaches them.
* :func:`plant_site` - **a site**: a group of subjects re-acquired under a protocol no other site shares
  (a contrast change, one coil profile for the whole site, thick slices), recorded in ``meta["site"]``
  so that "forget site S" is a request (:func:`site_request`). Hospitals withdraw data by site.

:func:`describe_subjects` and :func:`describe_sites` say how distinctive each subject and site is
relative to the rest (volume and intensity z-scores), so a notebook labels every request by its design
before it measures the retrain gap. The design is also written into ``meta["design"]``.

Why intensities are estimated from the image and not re-simulated: a :class:`Cohort` does not record
the seed, bias field or normalisation that made it, and the same code then works for any volume with
CSF/GM/WM labels. Each tissue's local intensity is a normalised convolution of the image over that
tissue's least partial-volumed voxels (smooth, so it follows the bias field), and the noise level is the
robust spread of steps between neighbouring white-matter voxels (so the bias field and anatomy cancel).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy import ndimage

from .cohort import Cohort, Scanner
from .splits import _check_int

__all__ = [
    "DESIGN_KEY",
    "SITE_KEY",
    "SITE_SCANNER",
    "add_wm_lesions",
    "describe_sites",
    "describe_subjects",
    "enlarge_ventricles",
    "lesion_mask",
    "plant_site",
    "site_request",
]

#: Metadata column naming each subject's site (a scanner protocol); derived from ``scanner`` when absent.
SITE_KEY = "site"
#: Metadata column naming what was planted in each subject ("typical" when nothing was).
DESIGN_KEY = "design"
#: The default planted protocol, *relative to the subject's own scan*: ``gamma`` 0.5 flattens the
#: contrast (the cohort's scanners use 1.3-2.2 on the template, so CSF turns grey); ``bias`` 0.3 is a
#: coil profile of about +-30 % (an uncorrected phased-array coil), 1.5 times the cohort's strongest
#: field; ``noise`` 0.03 is in the cohort's range. On the 64^3 cohort it lowers a per-subject intensity
#: rule's Dice from about 0.74 to 0.47: a shift a model must learn from the site, yet still segmentable.
SITE_SCANNER = Scanner(gamma=0.5, noise=0.03, bias=0.3)
_TISSUES = ("CSF", "GM", "WM")
_TYPICAL = "typical"


# --- validation -----------------------------------------------------------------------------------


def _check_float(name: str, value: object, low: float, high: float, low_open: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok:
        ok = (low < float(value) if low_open else low <= float(value)) and float(value) <= high
    if not ok:
        raise ValueError(f"{name} must be a number in {'(' if low_open else '['}{low}, {high}], got {value!r}")
    return float(value)


def _check_cohort(cohort: object) -> Cohort:
    """A cohort with at least two subjects (there must be a rest to stand out from) and CSF/GM/WM labels."""
    if not isinstance(cohort, Cohort):
        raise ValueError(f"cohort must be a Cohort (from simulate_cohort), got {type(cohort).__name__}")
    n = len(cohort.images)
    if cohort.images.ndim != 5 or cohort.images.shape[1] != 1 or cohort.labels.shape != (n, *cohort.images.shape[2:]):
        raise ValueError(
            f"cohort must hold images (N, 1, D, H, W) and labels (N, D, H, W), got {tuple(cohort.images.shape)} and {tuple(cohort.labels.shape)}"
        )
    if n < 2:
        raise ValueError(f"cohort must hold at least 2 subjects (one to stand out, the rest to compare with), got {n}")
    missing = [t for t in _TISSUES if t not in cohort.label_names]
    if missing:
        raise ValueError(f"cohort.label_names must include {_TISSUES}, missing {missing} in {cohort.label_names}")
    if "subject" not in cohort.meta or len(cohort.meta["subject"]) != n:
        raise ValueError(f"cohort.meta must hold a 'subject' column of {n} ids")
    return cohort


def _row_of(cohort: Cohort, subject: object, name: str = "subject") -> int:
    """The row of subject id ``subject`` (ids are ``meta["subject"]``, which simulate_cohort numbers 0..N-1)."""
    ids = np.asarray(cohort.meta["subject"]).tolist()
    if isinstance(subject, bool) or not isinstance(subject, (int, np.integer)) or int(subject) not in ids:
        raise ValueError(f"{name} must be one of the cohort's subject ids {ids}, got {subject!r}")
    return ids.index(int(subject))


def _check_seed(seed: object) -> int:
    return _check_int("seed", seed, 0, 2**63 - 1)


def _check_has(cohort: Cohort, row: int, tissues: Sequence[str], why: str) -> None:
    """The subject holds every tissue in ``tissues`` (its intensity is read from the subject's own image)."""
    for t in tissues:
        if not (cohort.labels[row] == cohort.label_names.index(t)).any():
            raise ValueError(f"subject {int(cohort.meta['subject'][row])} has no {t} voxels, needed {why}")


# --- metadata -------------------------------------------------------------------------------------


def _sites(cohort: Cohort) -> np.ndarray:
    """Each subject's site: ``meta["site"]``, else ``"S<scanner>"``, else one site ``"S0"`` for all."""
    n = len(cohort.images)
    if SITE_KEY in cohort.meta:
        return np.asarray(cohort.meta[SITE_KEY]).astype(str)
    if "scanner" in cohort.meta:
        return np.asarray([f"S{int(s)}" for s in cohort.meta["scanner"]])
    return np.full(n, "S0")


def _designs(cohort: Cohort) -> np.ndarray:
    return np.asarray(cohort.meta[DESIGN_KEY]).astype(str) if DESIGN_KEY in cohort.meta else np.full(len(cohort.images), _TYPICAL)


def _add_design(designs: np.ndarray, row: int, design: str) -> np.ndarray:
    out = designs.astype(object)
    out[row] = design if out[row] == _TYPICAL else f"{out[row]}+{design}"
    return out.astype(str)


def _rebuilt(cohort: Cohort, images: torch.Tensor, labels: torch.Tensor, **columns: np.ndarray) -> Cohort:
    """A new Cohort: the input's metadata copied, ``site`` and ``design`` always present, ``columns`` over them."""
    meta = {k: np.array(v, copy=True) for k, v in cohort.meta.items()}
    meta[SITE_KEY] = _sites(cohort)
    meta[DESIGN_KEY] = _designs(cohort)
    meta.update(columns)
    return replace(cohort, images=images, labels=labels, meta=meta)


# --- intensity model of one subject ---------------------------------------------------------------


def _label_index(cohort: Cohort, tissue: str) -> int:
    return cohort.label_names.index(tissue)


def _core(mask: np.ndarray, min_voxels: int = 8) -> np.ndarray:
    """The voxels of ``mask`` with least partial volume: those with the most of their six neighbours in
    ``mask``, lowering the bar until at least ``min_voxels`` qualify (small grids have few pure voxels).
    Why: a relabelled voxel deep in a new region is pure tissue, not a boundary mixture."""
    kernel = ndimage.generate_binary_structure(3, 1).astype(np.int64)
    kernel[1, 1, 1] = 0
    same = ndimage.convolve(mask.astype(np.int64), kernel, mode="constant")
    for bar in range(6, -1, -1):
        core = mask & (same >= bar)
        if core.sum() >= min_voxels:
            return core
    return mask


def _tissue_field(image: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """The tissue's local mean intensity everywhere (normalised convolution over its core voxels): smooth,
    so it follows the subject's bias field; far from any such voxel, the tissue's median."""
    core = _core(mask)
    if not core.any():
        return np.full(image.shape, np.nan)
    w = ndimage.gaussian_filter(core.astype(np.float64), sigma, mode="constant")
    v = ndimage.gaussian_filter(np.where(core, image, 0.0), sigma, mode="constant")
    fallback = float(np.median(image[core]))
    return np.where(w > 1e-3, v / np.maximum(w, 1e-12), fallback)


def _noise_sd(image: np.ndarray, wm: np.ndarray) -> float:
    """The subject's noise level: robust spread (1.4826 MAD / sqrt 2) of the step between neighbouring core
    white-matter voxels. Steps cancel the smooth bias field and most anatomy; on the simulated cohort this
    recovers each scanner's noise within about 20 % (spread around a local mean overstates it twofold)."""
    image, core = image.astype(np.float64), _core(wm)
    steps = []
    for ax in range(image.ndim):
        a, b = [slice(None)] * image.ndim, [slice(None)] * image.ndim
        a[ax], b[ax] = slice(1, None), slice(None, -1)
        both = core[tuple(a)] & core[tuple(b)]
        steps.append((image[tuple(a)] - image[tuple(b)])[both])
    d = np.concatenate(steps)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2.0)) if d.size else 0.0


def _paint(image: np.ndarray, region: np.ndarray, target: np.ndarray, noise_sd: float, rng: np.random.Generator) -> np.ndarray:
    """``region`` takes the ``target`` intensity (plus the subject's noise); the voxels around it take up to
    half of it (partial volume that never outweighs their own tissue, so intensity and label stay consistent)."""
    touching = ndimage.convolve(region.astype(np.int64), np.ones((3, 3, 3), dtype=np.int64), mode="constant")  # exact: 0 stays 0
    outside = 0.5 * touching / 27.0
    f = np.where(region, 1.0, outside)
    new = target + noise_sd * rng.standard_normal(image.shape)
    out = image.astype(np.float64) * (1.0 - f) + new * f
    return np.clip(np.where(f > 0, out, image), 0.0, 1.0).astype(np.float32)


def _sigma(shape: Sequence[int]) -> float:
    return max(shape) / 8.0


# --- a distinctive subject ------------------------------------------------------------------------


def enlarge_ventricles(cohort: Cohort, subject: int, factor: float = 2.0, seed: int = 0) -> Cohort:
    """Ventriculomegaly ex vacuo in ``subject``: its CSF volume becomes ``ceil(factor x`` the largest CSF
    volume among the other subjects``)``, far outside the cohort's range (ageing alone cannot reach it).

    GM/WM voxels nearest the subject's deep CSF (ventricles) turn CSF, growing the ventricles outward in
    their own shape; a one-voxel rim of brain is never taken. The new CSF voxels get the subject's own local
    CSF intensity and noise, so label and image agree.

    Args:
        cohort: the cohort (not modified).
        subject: a subject id of ``cohort.meta["subject"]``.
        factor: CSF volume over the largest of the other subjects, in (1, 4].
        seed: seeds the noise of the painted voxels.

    Raises:
        ValueError: an unknown subject, a factor out of range, or one the subject's brain cannot hold.
    """
    cohort = _check_cohort(cohort)
    row = _row_of(cohort, subject)
    factor = _check_float("factor", factor, 1.0, 4.0, low_open=True)
    seed = _check_seed(seed)
    _check_has(cohort, row, ("CSF", "WM"), "for the intensity and noise of new CSF")

    csf_k = _label_index(cohort, "CSF")
    labels = cohort.labels[row].numpy()
    brain = labels > 0
    csf = labels == csf_k
    volumes = (cohort.labels == csf_k).flatten(1).sum(1).numpy()
    target = math.ceil(factor * int(np.delete(volumes, row).max()))
    need = max(target - int(csf.sum()), 0)
    depth = ndimage.distance_transform_edt(brain)
    eligible = brain & ~csf & (depth >= 2.0)
    if need > int(eligible.sum()):
        most = (int(csf.sum()) + int(eligible.sum())) / int(np.delete(volumes, row).max())
        raise ValueError(
            f"factor={factor} needs {need} more CSF voxels in subject {subject}, whose brain has {int(eligible.sum())} to give; use factor <= {most:.2f}"
        )

    # Seeds: CSF in the deeper half of the brain (the ventricles), else the deepest voxels.
    deep = csf & (depth >= 0.5 * depth.max())
    if not deep.any():
        deep = depth >= depth.max()
    dist = ndimage.distance_transform_edt(~deep)
    cand = np.flatnonzero(eligible)
    order = cand[np.lexsort((cand, dist.ravel()[cand]))]  # nearest first, ties by voxel index
    region = np.zeros(labels.size, dtype=bool)
    region[order[:need]] = True
    region = region.reshape(labels.shape)

    image = cohort.images[row, 0].numpy()
    sigma = _sigma(labels.shape)
    csf_field = _tissue_field(image, csf, sigma)
    rng = np.random.default_rng([seed, int(subject), 1])
    painted = _paint(image, region, csf_field, _noise_sd(image, labels == _label_index(cohort, "WM")), rng)

    images, new_labels = cohort.images.clone(), cohort.labels.clone()
    images[row, 0] = torch.from_numpy(painted)
    new_labels[row] = torch.from_numpy(np.where(region, csf_k, labels).astype(np.int64))
    return _rebuilt(cohort, images, new_labels, **{DESIGN_KEY: _add_design(_designs(cohort), row, "ventricles")})


def _check_lesions(cohort: Cohort, subject: object, load: object, seed: object) -> tuple[Cohort, int, float, int]:
    cohort = _check_cohort(cohort)
    row = _row_of(cohort, subject)
    load = _check_float("load", load, 0.0, 0.5, low_open=True)
    seed = _check_seed(seed)
    _check_has(cohort, row, ("CSF", "GM", "WM"), "to carry lesions and set their intensity")
    return cohort, row, load, seed


def _lesion_region(cohort: Cohort, row: int, load: float, seed: int) -> np.ndarray:
    labels = cohort.labels[row].numpy()
    wm = labels == _label_index(cohort, "WM")
    rng = np.random.default_rng([seed, int(cohort.meta["subject"][row]), 2])
    coords = np.argwhere(wm).astype(np.float64)
    deep = ndimage.distance_transform_edt(wm)[wm] >= 2.0  # centres off the WM border
    target = max(1, round(load * len(coords)))
    edge = max(labels.shape)
    lesion = np.zeros(len(coords), dtype=bool)
    while lesion.sum() < target:
        free = np.flatnonzero(deep & ~lesion)
        if free.size == 0:
            free = np.flatnonzero(~lesion)
        centre = coords[rng.choice(free)]
        radius = max(1.0, rng.uniform(0.03, 0.07) * edge)
        d = np.linalg.norm(coords - centre, axis=1)
        new = np.flatnonzero((d <= radius) & ~lesion)
        lesion[new[np.argsort(d[new], kind="stable")][: target - int(lesion.sum())]] = True
    region = np.zeros(labels.shape, dtype=bool)
    region[tuple(coords[lesion].astype(np.int64).T)] = True
    return region


def lesion_mask(cohort: Cohort, subject: int, load: float = 0.2, seed: int = 0) -> np.ndarray:
    """The lesion voxels :func:`add_wm_lesions` plants with the same arguments (bool, the volume's shape).

    Spherical lesions (radius 3-7 % of the volume's edge, about 6-13 mm at 64^3) are centred in deep white
    matter and clipped to it, until ``load`` of the subject's WM voxels are lesion. Why public: Dice or
    accuracy on exactly these voxels is the most direct read-out of whether a model learnt (or forgot) them.
    """
    cohort, row, load, seed = _check_lesions(cohort, subject, load, seed)
    return _lesion_region(cohort, row, load, seed)


def add_wm_lesions(cohort: Cohort, subject: int, load: float = 0.2, intensity: float = 0.5, seed: int = 0) -> Cohort:
    """T1-hypointense white-matter lesions in ``subject``, kept under the WM label: an image-to-label
    mapping that no other subject shows, so only this subject can teach it.

    The lesions are :func:`lesion_mask`'s. Their intensity is the subject's own local pure-CSF intensity
    plus ``intensity`` of its local GM - CSF contrast, with the subject's noise. Labels are unchanged.

    Args:
        cohort: the cohort (not modified).
        subject: a subject id of ``cohort.meta["subject"]``.
        load: fraction of the subject's WM voxels that become lesion, in (0, 0.5].
        intensity: 0 looks like CSF, 1 like GM, in [0, 1]; 0.5 is between them, as black holes are.
        seed: seeds where the lesions go, their sizes and the painted noise.

    Raises:
        ValueError: an unknown subject or a parameter out of range.
    """
    cohort, row, load, seed = _check_lesions(cohort, subject, load, seed)
    intensity = _check_float("intensity", intensity, 0.0, 1.0)
    region = _lesion_region(cohort, row, load, seed)

    labels = cohort.labels[row].numpy()
    image = cohort.images[row, 0].numpy()
    sigma = _sigma(labels.shape)
    csf_f = _tissue_field(image, labels == _label_index(cohort, "CSF"), sigma)
    gm_f = _tissue_field(image, labels == _label_index(cohort, "GM"), sigma)
    noise = _noise_sd(image, labels == _label_index(cohort, "WM"))
    rng = np.random.default_rng([seed, int(subject), 4])
    painted = _paint(image, region, csf_f + intensity * (gm_f - csf_f), noise, rng)

    images = cohort.images.clone()
    images[row, 0] = torch.from_numpy(painted)
    return _rebuilt(cohort, images, cohort.labels.clone(), **{DESIGN_KEY: _add_design(_designs(cohort), row, "lesions")})


# --- a site ---------------------------------------------------------------------------------------


def _coil_profile(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """One smooth receive-coil profile for a whole site (coarse 3^3 noise, trilinear), unit spread."""
    coarse = torch.from_numpy(rng.standard_normal((1, 1, 3, 3, 3)).astype(np.float32))
    field = F.interpolate(coarse, size=shape, mode="trilinear", align_corners=True)[0, 0].numpy().astype(np.float64)
    return (field - field.mean()) / max(float(field.std()), 1e-6)


def _thick_slices(x: np.ndarray, thickness: int, axis: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Acquire ``thickness``-voxel slices along ``axis`` (signal averaged over each slice, noise drawn per
    acquired voxel), then put them back on the grid by repetition, as a thick-slice series resliced."""
    moved = np.moveaxis(x, axis, 0)
    starts = np.arange(0, moved.shape[0], thickness)
    counts = np.diff(np.append(starts, moved.shape[0]))
    blocks = np.add.reduceat(moved, starts, axis=0) / counts[:, None, None]
    blocks = blocks + noise * rng.standard_normal(blocks.shape)
    return np.moveaxis(np.repeat(blocks, counts, axis=0), 0, axis)


def _site_names(cohort: Cohort) -> list[str]:
    return sorted(set(_sites(cohort).tolist()))


def plant_site(
    cohort: Cohort,
    subjects: Sequence[int],
    scanner: Scanner = SITE_SCANNER,
    slice_thickness: int = 2,
    axis: int = 2,
    name: str | None = None,
    seed: int = 0,
) -> Cohort:
    """Move ``subjects`` to a new site whose protocol no other site shares, and re-acquire them under it.

    Applied to each subject's image (so it composes with the subject's own scanner): the contrast
    ``x ** scanner.gamma``, one coil profile for the whole site of log-amplitude ``scanner.bias``,
    ``slice_thickness``-voxel slices along ``axis`` with Gaussian noise ``scanner.noise`` per acquired
    voxel, then the cohort's normalisation (0.5/99.5 percentiles inside the brain to [0, 1]). Labels are
    unchanged: the site's images must be mapped to the same anatomy, which only the site can teach.
    ``meta["site"]`` becomes ``name`` and ``meta["scanner"]`` a new scanner id for these subjects.

    Args:
        cohort: the cohort (not modified).
        subjects: subject ids (non-empty, distinct, leaving at least one subject at another site).
        scanner: the protocol's contrast (gamma in [0.25, 4]), noise ([0, 0.3]) and bias ([0, 1.5]).
        slice_thickness: voxels per acquired slice, in [1, edge // 2].
        axis: the slice axis, 0, 1 or 2.
        name: the new site's name (default ``"S<k>"``, the first unused); must not name an existing site.
        seed: seeds the coil profile and the noise.

    Raises:
        ValueError: a bad subject list, protocol, thickness, axis, name or seed; or a protocol that is the
            identity (it would not be a site of its own).
    """
    cohort = _check_cohort(cohort)
    if isinstance(subjects, np.ndarray):
        subjects = subjects.tolist()
    if isinstance(subjects, (str, bytes)) or not isinstance(subjects, Sequence) or len(subjects) == 0:
        raise ValueError(f"subjects must be a non-empty list of subject ids, got {subjects!r}")
    rows = [_row_of(cohort, s, "subjects") for s in subjects]
    if len(set(rows)) != len(rows):
        raise ValueError(f"subjects must be distinct, got {list(subjects)!r}")
    if len(rows) >= len(cohort.images):
        raise ValueError(f"subjects must leave at least one subject at another site, got all {len(rows)}")
    if not isinstance(scanner, Scanner):
        raise ValueError(f"scanner must be a Scanner(gamma, noise, bias), got {type(scanner).__name__}")
    gamma = _check_float("scanner.gamma", scanner.gamma, 0.25, 4.0)
    noise = _check_float("scanner.noise", scanner.noise, 0.0, 0.3)
    bias = _check_float("scanner.bias", scanner.bias, 0.0, 1.5)
    edge = int(cohort.images.shape[2 + _check_int("axis", axis, 0, 2)])
    thickness = _check_int("slice_thickness", slice_thickness, 1, max(1, edge // 2))
    if gamma == 1.0 and noise == 0.0 and bias == 0.0 and thickness == 1:
        raise ValueError(
            "scanner and slice_thickness: the protocol is the identity (gamma 1, no noise, no bias, 1-voxel slices); it would not be a site of its own"
        )
    existing = _site_names(cohort)
    if name is None:
        name = next(f"S{k}" for k in range(len(existing) + 1) if f"S{k}" not in existing)
    if not isinstance(name, str) or not name or name in existing:
        raise ValueError(f"name must be a new site name, not one of {existing}, got {name!r}")
    seed = _check_seed(seed)

    shape = tuple(cohort.images.shape[2:])
    coil = np.exp(bias * _coil_profile(shape, np.random.default_rng([seed, 3, len(existing)])))
    images = cohort.images.clone()
    for row in rows:
        x = cohort.images[row, 0].numpy().astype(np.float64) ** gamma * coil
        x = _thick_slices(x, thickness, axis, noise, np.random.default_rng([seed, int(cohort.meta["subject"][row]), 3]))
        lo, hi = np.percentile(x[cohort.labels[row].numpy() > 0], [0.5, 99.5])
        images[row, 0] = torch.from_numpy(np.clip((x - lo) / max(hi - lo, 1e-6), 0.0, 1.0).astype(np.float32))

    sites = _sites(cohort).astype(object)
    designs = _designs(cohort)
    for row in rows:
        sites[row] = name
        designs = _add_design(designs, row, "site")
    columns = {SITE_KEY: sites.astype(str), DESIGN_KEY: designs}
    if "scanner" in cohort.meta:
        scan = np.array(cohort.meta["scanner"], copy=True)
        scan[rows] = int(np.max(scan)) + 1
        columns["scanner"] = scan
    return _rebuilt(cohort, images, cohort.labels.clone(), **columns)


def site_request(cohort: Cohort, site: str) -> list[int]:
    """The subject ids of ``site``: the forget request "forget site ``site``"."""
    sites = _sites(_check_cohort(cohort))
    if site not in set(sites.tolist()):
        raise ValueError(f"site must be one of {sorted(set(sites.tolist()))}, got {site!r}")
    return [int(s) for s in np.asarray(cohort.meta["subject"])[sites == site]]


# --- descriptors ----------------------------------------------------------------------------------

#: Descriptors of anatomy (tissue shares of the brain, so that head size and sex are not distinctiveness)
#: and of appearance (intensity statistics: a scanner, a protocol, lesions).
_ANATOMY = tuple(f"frac_{t}" for t in _TISSUES)
_APPEARANCE = ("med_CSF", "med_GM", "med_WM", "contrast_CSF_WM", "wm_spread", "wm_below_gm", "through_plane")


def _subject_stats(image: np.ndarray, labels: np.ndarray, index: dict[str, int]) -> dict[str, float]:
    """Volumes and intensity statistics of one subject (NaN where a tissue is absent)."""
    out: dict[str, float] = {}
    vals = {t: image[labels == index[t]] for t in _TISSUES}
    n_brain = max(int((labels > 0).sum()), 1)
    for t in _TISSUES:
        out[f"vol_{t}"] = float(vals[t].size)
        out[f"frac_{t}"] = vals[t].size / n_brain
        out[f"med_{t}"] = float(np.median(vals[t])) if vals[t].size else math.nan
    wm = vals["WM"]
    out["contrast_CSF_WM"] = out["med_CSF"] / out["med_WM"] if out["med_WM"] > 0 else math.nan
    q1, q3 = np.percentile(wm, [25, 75]) if wm.size else (math.nan, math.nan)
    out["wm_spread"] = float((q3 - q1) / out["med_WM"]) if wm.size and out["med_WM"] > 0 else math.nan
    out["wm_below_gm"] = float((wm < out["med_GM"]).mean()) if wm.size else math.nan
    # Thick slices: neighbouring voxels along the slice axis are far more alike than across it.
    brain = labels > 0
    steps = []
    for ax in range(3):
        a, b = [slice(None)] * 3, [slice(None)] * 3
        a[ax], b[ax] = slice(1, None), slice(None, -1)
        both = brain[tuple(a)] & brain[tuple(b)]
        steps.append(float(np.abs(image[tuple(a)] - image[tuple(b)])[both].mean()))
    ax = int(np.argmin(steps))
    others = [s for i, s in enumerate(steps) if i != ax]
    out["through_plane"] = steps[ax] / max(float(np.mean(others)), 1e-12)
    return out


def _z(value: float, reference: np.ndarray) -> float:
    """How many standard deviations of ``reference`` ``value`` lies from its mean (NaN with < 2 references)."""
    ref = reference[np.isfinite(reference)]
    if ref.size < 2 or not np.isfinite(value):
        return math.nan
    sd = max(float(ref.std(ddof=1)), 1e-9 * max(abs(float(ref.mean())), 1.0))
    return float((value - ref.mean()) / sd)


def _yardstick(designs: np.ndarray, others: np.ndarray) -> np.ndarray:
    """The references among ``others``: its typical subjects when there are at least three, else all of it.
    Why: two planted subjects (or a site's members) must not widen each other's yardstick, and a planted
    subject that is not in fact different from the typical ones still scores low."""
    typical = others & (designs == _TYPICAL)
    return typical if typical.sum() >= 3 else others


def _stats_frame(cohort: Cohort) -> pd.DataFrame:
    index = {t: _label_index(cohort, t) for t in _TISSUES}
    rows = [_subject_stats(cohort.images[i, 0].numpy(), cohort.labels[i].numpy(), index) for i in range(len(cohort.images))]
    return pd.DataFrame(rows, index=pd.Index(np.asarray(cohort.meta["subject"]).astype(int), name="subject"))


def describe_subjects(cohort: Cohort) -> pd.DataFrame:
    """One row per subject: metadata, site, design, tissue volumes and intensity statistics, their z-scores,
    and how distinctive the subject is, so that a request is labelled by its design before it is measured.

    ``vol_<tissue>`` are voxel counts; ``frac_<tissue>`` the tissue's share of the brain. Appearance:
    ``med_<tissue>`` (median intensity), ``contrast_CSF_WM`` (CSF over WM median), ``wm_spread`` (WM
    interquartile range over median: bias field), ``wm_below_gm`` (share of WM darker than the subject's GM
    median: lesions, bias), ``through_plane`` (mean voxel step along the smoothest axis over the others:
    thick slices). Each ``<column>_z`` compares the subject with the *typical* other subjects (every other
    one when fewer than three are typical). ``anatomy_score`` and ``appearance_score`` are the largest
    |z| over the ``frac_*`` and the appearance columns, ``distinctiveness`` the larger of the two and
    ``top_descriptor`` the column that gave it.
    """
    cohort = _check_cohort(cohort)
    stats = _stats_frame(cohort)
    ids, designs = stats.index.to_numpy(), _designs(cohort)
    out = pd.DataFrame(index=stats.index)
    for key in ("sex", "age", "scanner"):
        if key in cohort.meta:
            out[key] = np.asarray(cohort.meta[key])
    out[SITE_KEY] = _sites(cohort)
    out[DESIGN_KEY] = designs
    out = out.join(stats)
    refs = [_yardstick(designs, ids != ids[i]) for i in range(len(ids))]
    for col in (*_ANATOMY, *_APPEARANCE):
        v = stats[col].to_numpy()
        out[f"{col}_z"] = [_z(v[i], v[refs[i]]) for i in range(len(v))]
    anat = out[[f"{c}_z" for c in _ANATOMY]].abs()
    app = out[[f"{c}_z" for c in _APPEARANCE]].abs()
    out["anatomy_score"] = anat.max(axis=1)
    out["appearance_score"] = app.max(axis=1)
    out["distinctiveness"] = out[["anatomy_score", "appearance_score"]].max(axis=1)
    out["top_descriptor"] = pd.concat([anat, app], axis=1).fillna(-1.0).idxmax(axis=1).str.removesuffix("_z")
    return out


def describe_sites(cohort: Cohort) -> pd.DataFrame:
    """One row per site: its subjects, the mean of its appearance statistics (over the members not planted
    on their own, when there are any), their z-scores against the typical subjects of every other site,
    and ``distinctiveness`` (the largest |z|): how far the site's protocol is from everyone else's, the
    design label of a "forget site S" request."""
    cohort = _check_cohort(cohort)
    stats = _stats_frame(cohort)
    sites, designs = _sites(cohort), _designs(cohort)
    rows = []
    # A member planted on its own (lesions, ventricles) speaks for itself, not for its site's protocol.
    own = np.array([any(part not in (_TYPICAL, "site") for part in d.split("+")) for d in designs])
    for site in sorted(set(sites.tolist())):
        mine = sites == site
        ref = _yardstick(designs, ~mine)
        if (mine & ~own).any():
            mine = mine & ~own
        row: dict[str, object] = {
            SITE_KEY: site,
            "subjects": [int(s) for s in stats.index[sites == site]],
            "n_subjects": int((sites == site).sum()),
        }
        for col in _APPEARANCE:
            v = stats[col].to_numpy()
            row[col] = float(np.nanmean(v[mine])) if np.isfinite(v[mine]).any() else math.nan
            row[f"{col}_z"] = _z(row[col], v[ref])
        rows.append(row)
    out = pd.DataFrame(rows).set_index(SITE_KEY)
    out["distinctiveness"] = out[[f"{c}_z" for c in _APPEARANCE]].abs().max(axis=1)
    return out
