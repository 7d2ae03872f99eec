"""Measuring canaries: how often a GAN's samples copy them, or carry their planted mark.

Why a module of its own: :mod:`.canaries` builds what is planted; this reads what a trained GAN
took from it. The measures, all per duplicate level:

* **Extraction rate** (:func:`extraction_rates`), after Carlini et al. 2023, "Extracting training
  data from diffusion models" (USENIX Security). A sample counts as an extraction of a canary when
  it lies within a stated pixel-L2 distance of it. The rate is the share of samples that do, per
  duplicate level, for planted canaries and for controls.
* **The threshold** (:func:`extraction_threshold`) comes from held-out real images. It is a low
  quantile (1 % by default) of the distances from held-out digits to their nearest training digit.
  So an unseen ordinary digit comes that close to a training image only ``quantile`` of the time.
  Both transforms keep pixel-L2 distances between two images of the same kind (and, marked, the
  same corner): inversion exactly, the mark at most shrinks them. So a threshold measured on
  ordinary digits means the same on canaries.
* **Planted-mark rate** (:func:`mark_rates`, ``"marked"`` canaries only): the share of samples that
  carry a level's mark (its corner square at least half lit). A GAN can learn what only the planted
  images carry, the mark, without drawing any of them pixel for pixel. This is the secret-sharer
  canary of Carlini et al. 2019 ("The Secret Sharer", USENIX Security): no ordinary digit has the mark,
  so a GAN that never saw the canaries (retrain) draws it about never, and a sample with it
  shows what the forget set taught.
* **Nearest-neighbour ratio** (:func:`canary_nn_ratio`): the study's existing memorisation probe
  (:func:`~unlearn_lib.metrics.gan.nearest_neighbour_distances`). The controls are its denominator,
  in place of random held-out digits.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from ...data.splits import _check_int
from ...metrics.gan import nearest_neighbour_distances, nearest_neighbours
from .canaries import MARK_FILL, CanarySet, _as_images, _mark_box

__all__ = ["canary_nn_ratio", "extraction_rates", "extraction_threshold", "mark_rates"]


# ------------------------------------------------------------------------------------------ extraction
def extraction_threshold(heldout: torch.Tensor | np.ndarray, train: torch.Tensor | np.ndarray, *, quantile: float = 0.01) -> float:
    """The extraction distance: the ``quantile`` of distances from held-out images to their nearest
    training image (pixel L2).

    Why this rule: an unseen ordinary digit comes that close to some training image only
    ``quantile`` of the time. A generated sample that close to a canary is far likelier a copy than
    a coincidence. Pass the ordinary training images (canaries lie far from held-out digits and do
    not move it). It is a pixel distance: ~2.2 for the embedded MNIST at the default 1 %."""
    if not isinstance(quantile, (int, float)) or isinstance(quantile, bool) or not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be a number in (0, 1), e.g. 0.01, got {quantile!r}")
    held = _as_images("heldout", heldout)
    pool = _as_images("train", train)
    if tuple(held.shape[1:]) != tuple(pool.shape[1:]):
        raise ValueError(f"heldout images {tuple(held.shape[1:])} and train images {tuple(pool.shape[1:])} differ in shape")
    distances = nearest_neighbours(pool, held)[0]
    threshold = float(np.quantile(distances, quantile))
    if not threshold > 0:
        raise ValueError(
            f"the {quantile} quantile of heldout-to-train distances is {threshold}: heldout images duplicate train "
            "images, so they cannot set a threshold; remove the duplicates or raise quantile"
        )
    return threshold


def _check_threshold(threshold: object, canaries: CanarySet) -> float:
    if (
        not isinstance(threshold, (int, float, np.floating))
        or isinstance(threshold, bool)
        or not (math.isfinite(threshold) and threshold > 0)
    ):
        raise ValueError(f"threshold must be a finite pixel distance > 0 (see extraction_threshold), got {threshold!r}")
    if 2 * threshold >= canaries.separation:
        raise ValueError(
            f"threshold {float(threshold):.3g} must be below half the canaries' separation ({canaries.separation:.3g}): "
            "otherwise one sample could count for a canary and a control at once; plant with a larger min_separation"
        )
    return float(threshold)


def _check_generated(generated: object, canaries: CanarySet) -> torch.Tensor:
    if not isinstance(canaries, CanarySet):
        raise ValueError(f"canaries must be a CanarySet (from plant_canaries), got {type(canaries).__name__}")
    gen = _as_images("generated", generated)
    if tuple(gen.shape[1:]) != tuple(canaries.images.shape[1:]):
        raise ValueError(f"generated images are {tuple(gen.shape[1:])} but the canaries are {tuple(canaries.images.shape[1:])}")
    return gen


@torch.no_grad()
def _within(generated: torch.Tensor, targets: torch.Tensor, threshold: float, chunk_size: int) -> torch.Tensor:
    """``(n_generated, n_targets)`` bool: is sample i within ``threshold`` of target j (pixel L2).

    Chunked so that 10k samples x 100 canaries never holds more than ``chunk_size`` rows at once.
    Float64 through the matrix-product form: fast, and its rounding (~1e-6 in distance) is far below
    any threshold."""
    t = targets.flatten(1).double()
    out = [torch.cdist(g.flatten(1).double(), t) <= threshold for g in generated.split(chunk_size)]
    return torch.cat(out)


def extraction_rates(
    generated: torch.Tensor | np.ndarray, canaries: CanarySet, threshold: float, *, chunk_size: int = 2048
) -> pd.DataFrame:
    """Share of ``generated`` samples within ``threshold`` of a planted canary, and of a control, per level.

    One row per duplicate level, in ``canaries.duplicates`` order:

    * ``d``, ``rate_planted``, ``rate_control``, ``n_samples``, ``threshold``;
    * ``n_canaries`` (canaries at this level, and as many controls);
    * ``canaries_hit_planted`` and ``canaries_hit_control``: how many of them have at least one sample
      within the threshold (Carlini et al.'s count of extracted images).

    ``rate_control`` is the null rate: a GAN scores it on canary-like images it never saw. A GAN
    that memorised the canaries has ``rate_planted`` far above it. A GAN that never saw them (retrain)
    has both near 0. A sample counts for a level if it is within the threshold of any canary of that
    level."""
    gen = _check_generated(generated, canaries)
    thr = _check_threshold(threshold, canaries)
    chunk_size = _check_int("chunk_size", chunk_size, 1)
    planted = _within(gen, canaries.images, thr, chunk_size)
    control = _within(gen, canaries.control_images, thr, chunk_size)
    rows = []
    for d in canaries.duplicates:
        at = torch.from_numpy(canaries.level == d)
        rows.append(
            {
                "d": d,
                "rate_planted": float(planted[:, at].any(dim=1).float().mean()),
                "rate_control": float(control[:, at].any(dim=1).float().mean()),
                "n_samples": len(gen),
                "threshold": thr,
                "n_canaries": int(at.sum()),
                "canaries_hit_planted": int(planted[:, at].any(dim=0).sum()),
                "canaries_hit_control": int(control[:, at].any(dim=0).sum()),
            }
        )
    return pd.DataFrame(rows)


def mark_rates(generated: torch.Tensor | np.ndarray, canaries: CanarySet, *, fill: float = MARK_FILL) -> pd.DataFrame:
    """Share of ``generated`` samples carrying each level's planted mark (marked canaries only).

    A sample carries level ``i``'s mark when its mean over that corner's square is at least ``fill``.
    One row per level, in ``canaries.duplicates`` order: ``d``, ``corner``, ``mark_rate``,
    ``n_samples``. Ordinary digits have no strokes in the corners, so a GAN that never saw the
    canaries draws the mark about never (its rate on real held-out digits is the null to read it
    against); a GAN that learned from the ``d`` copies draws it. Unlike :func:`extraction_rates`, this
    counts what the canaries alone carry, not the canaries pixel for pixel."""
    gen = _check_generated(generated, canaries)
    if canaries.kind != "marked":
        raise ValueError(f"mark_rates needs marked canaries (a corner mark per level), got kind {canaries.kind!r}")
    if not isinstance(fill, (int, float)) or isinstance(fill, bool) or not 0.0 < fill <= 1.0:
        raise ValueError(f"fill must be a mean intensity in (0, 1], e.g. 0.5, got {fill!r}")
    rows = []
    for corner, d in enumerate(canaries.duplicates):
        r, c = _mark_box(gen, corner)
        lit = gen[:, :, r, c].mean(dim=(1, 2, 3)) >= fill
        rows.append({"d": d, "corner": corner, "mark_rate": float(lit.double().mean()), "n_samples": len(gen)})
    return pd.DataFrame(rows)


def canary_nn_ratio(generated: torch.Tensor | np.ndarray, canaries: CanarySet) -> pd.DataFrame:
    """The nearest-neighbour memorisation ratio per level, with the controls as the held-out images.

    Per level: the mean distance from each planted canary to its nearest sample (``nn_planted``), the
    same for the controls (``nn_control``), and ``nn_ratio = nn_planted / nn_control``. Below 1 the
    GAN draws the planted canaries closer than their never-planted twins; ~1 it does not. This is the
    study's existing item probe, with matched controls in place of random held-out digits."""
    gen = _check_generated(generated, canaries)
    planted = nearest_neighbour_distances(gen, canaries.images)
    control = nearest_neighbour_distances(gen, canaries.control_images)
    rows = []
    for d in canaries.duplicates:
        at = canaries.level == d
        p, c = float(planted[at].mean()), float(control[at].mean())
        rows.append({"d": d, "nn_planted": p, "nn_control": c, "nn_ratio": p / c if c > 0 else float("nan"), "n_samples": len(gen)})
    return pd.DataFrame(rows)
