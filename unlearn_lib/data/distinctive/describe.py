"""How distinctive each subject and each site is: volume and intensity statistics and their z-scores.

A module of its own (no module over 500 lines): the
descriptors read any cohort (planted or not) and plant nothing, so a request is labelled by its design
before it is measured.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..cohort import Cohort
from .common import _TISSUES, _TYPICAL, DESIGN_KEY, SITE_KEY, _check_cohort, _designs, _label_index, _sites

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
