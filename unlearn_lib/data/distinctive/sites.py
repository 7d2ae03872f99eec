"""A site of its own: subjects re-acquired under a protocol no other site shares, and "forget site S".

A module of its own (no module over 500 lines): planting a
site changes how subjects were scanned, not their anatomy (:mod:`.anatomy`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..cohort import Cohort, Scanner
from .common import (
    DESIGN_KEY,
    SITE_KEY,
    SITE_SCANNER,
    _add_design,
    _check_cohort,
    _check_seed,
    _designs,
    _rebuilt,
    _row_of,
    _sites,
    check_setting,
)

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
    gamma = check_setting("gamma", scanner.gamma, "scanner.gamma")
    noise = check_setting("noise", scanner.noise, "scanner.noise")
    bias = check_setting("bias", scanner.bias, "scanner.bias")
    edge = int(cohort.images.shape[2 + int(check_setting("axis", axis))])
    thickness = check_setting("slice_thickness", slice_thickness, high=max(1, edge // 2))
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
