"""What every part of :mod:`unlearn_lib.data.distinctive` shares: metadata keys, argument checks, and
reading and writing a cohort's ``site`` and ``design`` columns.

Shared by the package's modules (none over 500 lines): the
anatomy planting, the sites and the descriptors all check their cohort and write its metadata the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch

from ..cohort import Cohort, Scanner
from ..splits import _check_int

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

#: Every planting setting a caller may set, with its range ``(low, high, low_open)``: declared once, read
#: by the planting functions and by notebook 03's plan (:mod:`unlearn_lib.studies.segmentation.design`), which
#: names a bad value by its key path before any data is made. ``slice_thickness`` has no fixed upper end
#: (half the volume's edge, known only from the data).
SETTINGS: dict[str, tuple[float, float | None, bool]] = {
    "factor": (1.0, 4.0, True),  # ventricles: CSF volume over the largest other subject's
    "load": (0.0, 0.5, True),  # lesions: share of the subject's WM
    "intensity": (0.0, 1.0, False),  # lesions: 0 CSF-like, 1 GM-like
    "gamma": (0.25, 4.0, False),  # site: contrast exponent relative to the subject's own scan
    "noise": (0.0, 0.3, False),  # site: added noise level
    "bias": (0.0, 1.5, False),  # site: coil-profile strength
    "axis": (0, 2, False),  # site: the slice axis
    "slice_thickness": (1, None, False),  # site: voxels per thick slice
}
_INT_SETTINGS = ("axis", "slice_thickness")


def check_setting(key: str, value: object, name: str | None = None, high: float | None = None) -> float | int:
    """``value`` of planting setting ``key``, checked against :data:`SETTINGS` (an int for the integer
    ones); ``name`` is what an error calls it (default ``key``), ``high`` an upper end the data sets."""
    low, top, low_open = SETTINGS[key]
    top = high if high is not None else top
    if key in _INT_SETTINGS:
        return _check_int(name or key, value, int(low), None if top is None else int(top))
    return _check_float(name or key, value, low, float(top), low_open=low_open)


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


# --- labels ---------------------------------------------------------------------------------------


def _label_index(cohort: Cohort, tissue: str) -> int:
    return cohort.label_names.index(tissue)
