"""Distinctive subjects: ventricles out of range and white-matter lesions, painted with the subject's own
intensities (its scanner's contrast, bias field and noise, estimated from its image).

A module of its own (no module over 500 lines): the
planting of anatomy and its intensity model, apart from sites (:mod:`.sites`) and descriptors (:mod:`.describe`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy import ndimage

from ..cohort import Cohort
from .common import (
    DESIGN_KEY,
    _add_design,
    _check_cohort,
    _check_float,
    _check_has,
    _check_seed,
    _designs,
    _label_index,
    _rebuilt,
    _row_of,
    check_setting,
)

# --- intensity model of one subject ---------------------------------------------------------------


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
    factor = check_setting("factor", factor)
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


#: Lesion radii, as fractions of the volume's edge, that :func:`lesion_mask` draws from by default.
LESION_RADIUS = (0.03, 0.07)
#: The largest radius a lesion may have (a quarter of the volume's edge: a lesion is inside white matter).
MAX_LESION_RADIUS = 0.25


def check_radius(radius: object, name: str = "radius") -> tuple[float, float]:
    """A ``(smallest, largest)`` pair of lesion radii as fractions of the volume's edge; ``name`` is what an
    error calls it (notebook 03's plan passes its key path)."""
    ok = isinstance(radius, (tuple, list)) and len(radius) == 2
    if ok:
        low = _check_float(f"{name}[0]", radius[0], 0.0, MAX_LESION_RADIUS, low_open=True)
        high = _check_float(f"{name}[1]", radius[1], 0.0, MAX_LESION_RADIUS, low_open=True)
        ok = low <= high
    if not ok:
        raise ValueError(
            f"{name} must be a pair (smallest, largest) of lesion radii as fractions of the volume's edge, each in "
            f"(0, {MAX_LESION_RADIUS}] with smallest <= largest, e.g. {list(LESION_RADIUS)}; got {radius!r}"
        )
    return low, high


def _check_lesions(
    cohort: Cohort, subject: object, load: object, seed: object, radius: object = LESION_RADIUS
) -> tuple[Cohort, int, float, int, tuple[float, float]]:
    cohort = _check_cohort(cohort)
    row = _row_of(cohort, subject)
    load = check_setting("load", load)
    seed = _check_seed(seed)
    radius = check_radius(radius)
    _check_has(cohort, row, ("CSF", "GM", "WM"), "to carry lesions and set their intensity")
    return cohort, row, load, seed, radius


def _lesion_region(cohort: Cohort, row: int, load: float, seed: int, radius: tuple[float, float]) -> np.ndarray:
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
        r = max(1.0, rng.uniform(radius[0], radius[1]) * edge)
        d = np.linalg.norm(coords - centre, axis=1)
        new = np.flatnonzero((d <= r) & ~lesion)
        lesion[new[np.argsort(d[new], kind="stable")][: target - int(lesion.sum())]] = True
    region = np.zeros(labels.shape, dtype=bool)
    region[tuple(coords[lesion].astype(np.int64).T)] = True
    return region


def lesion_mask(cohort: Cohort, subject: int, load: float = 0.2, seed: int = 0, radius: tuple[float, float] = LESION_RADIUS) -> np.ndarray:
    """The lesion voxels :func:`add_wm_lesions` plants with the same arguments (bool, the volume's shape).

    Spherical lesions (radius drawn from ``radius``, fractions of the volume's edge: by default 3-7 %, about
    6-13 mm at 64^3 and 1-2 voxels at 32^3) are centred in deep white matter and clipped to it, until ``load``
    of the subject's WM voxels are lesion. Why public: Dice or accuracy on exactly these voxels is the most
    direct read-out of whether a model learnt (or forgot) them.
    """
    cohort, row, load, seed, radius = _check_lesions(cohort, subject, load, seed, radius)
    return _lesion_region(cohort, row, load, seed, radius)


def add_wm_lesions(
    cohort: Cohort,
    subject: int,
    load: float = 0.2,
    intensity: float = 0.5,
    seed: int = 0,
    radius: tuple[float, float] = LESION_RADIUS,
) -> Cohort:
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
        radius: (smallest, largest) lesion radius as fractions of the volume's edge. On a coarse grid the
            default's 1-2 voxel lesions blur into partial volume and a model barely learns them from one
            subject; confluent lesions (e.g. 6-14 % of the edge at 32^3, 12-26 mm) are a pattern it can.

    Raises:
        ValueError: an unknown subject or a parameter out of range.
    """
    cohort, row, load, seed, radius = _check_lesions(cohort, subject, load, seed, radius)
    intensity = check_setting("intensity", intensity)
    region = _lesion_region(cohort, row, load, seed, radius)

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
