"""The Segmentation view's numbers: Dice per subject and tissue, and kept slices with each model's overlay.

Its own module because segmentation runs keep their own outputs (``slices.npz``, read through
:mod:`unlearn_lib.studies.segmentation`) that no other study has.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ...studies.segmentation import SavedSlices, read_slices
from .load import Missing

__all__ = ["saved_slices", "segmentation_dice", "segmentation_figure", "subject_dice_at"]


def segmentation_dice(ex: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Dice per subject (split, group) and tissue, one column per model."""
    sel = ex[ex.method.isin(methods)]
    if sel.empty or "dice" not in sel:
        raise Missing(f"no per-subject Dice for {methods} in these results")
    table = sel.pivot_table(index=["split", "group", "label_name"], columns="method", values="dice", aggfunc="mean")
    return table[[m for m in methods if m in table.columns]]


def subject_dice_at(
    slices: SavedSlices, subject: str, methods: list[str], epoch: int | None, tissues: list[str] | None = None
) -> pd.DataFrame:
    """Whole-volume Dice of ``subject`` per tissue, one column per model, at unlearning ``epoch`` (None:
    final), from the Dice the run kept beside its slices: the same seed and epoch as the slices shown."""
    cols = {m: d for m in methods if (d := slices.dice(subject, m, epoch)) is not None}
    if not cols:
        raise Missing("this run kept no Dice beside its slices (it predates that record): re-run notebook 03")
    n = len(next(iter(cols.values())))
    names = list(tissues)[:n] if tissues and len(tissues) >= n else [str(k) for k in range(1, n + 1)]
    table = pd.DataFrame({m: np.asarray(d, dtype=float) for m, d in cols.items()}, index=pd.Index(names, name="tissue"))
    table.loc["mean"] = table.mean()
    return table


def saved_slices(slices: SavedSlices | dict[str, np.ndarray]) -> SavedSlices:
    """A run's ``slices.npz`` arrays (either layout) as :class:`SavedSlices`, or :class:`Missing`."""
    if isinstance(slices, SavedSlices):
        return slices
    try:
        return read_slices(slices)
    except (ValueError, KeyError) as err:
        raise Missing(f"this run's slices.npz is not readable: {err}") from err


def segmentation_figure(
    slices: SavedSlices | dict[str, np.ndarray],
    subject: str,
    methods: list[str],
    alpha: float = 0.45,
    epoch: int | None = None,
    slice_pos: int | None = None,
) -> plt.Figure:
    """One kept slice of ``subject``: image, truth overlay, then each model's prediction overlay at unlearning
    ``epoch`` (None: each model's final one; original and retrain do not change with the epoch).

    ``slice_pos`` is a position among the kept slices (None: the middle one); older runs kept one."""
    saved = saved_slices(slices)
    if subject not in saved.subjects:
        raise Missing(f"no slice of the {subject!r} subject in this run's slices.npz (kept: {', '.join(saved.subjects)})")
    if epoch is not None and epoch not in saved.epochs:
        raise Missing(f"no slices at unlearning epoch {epoch} in this run (kept: {saved.epochs or 'final only'})")
    image, truth = saved.image(subject), saved.truth(subject)
    n = len(truth)
    pos = n // 2 if slice_pos is None else int(slice_pos)
    if not 0 <= pos < n:
        raise Missing(f"slice_pos {pos} is outside the {n} kept slice(s) of {subject!r}")
    image, truth = image[pos], truth[pos]
    panels: list[tuple[str, np.ndarray | None]] = [("image", None), ("truth", truth)]
    for m in methods:
        pred = saved.prediction(subject, m, epoch)
        fixed = epoch is not None and f"{subject}/epoch{epoch}/{m}" not in saved.data
        panels.append((f"{m} (final)" if fixed and pred is not None else m, None if pred is None else pred[pos]))
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 2.8), squeeze=False)
    where = f"axial slice {int(saved.slice_index[pos])}" if saved.slice_index is not None else "middle slice"
    fig.suptitle(f"{subject} ({saved.subjects[subject]}), {where}, {'final' if epoch is None else f'epoch {epoch}'}", fontsize=9)
    cmap = plt.get_cmap("viridis", 4)
    for ax, (name, mask) in zip(axes[0], panels):  # transposed, origin lower: as the study's own slices figure
        ax.imshow(image.T, cmap="gray", origin="lower")
        if mask is not None:
            ax.imshow(np.ma.masked_equal(mask.T, 0), cmap=cmap, vmin=0, vmax=3, alpha=alpha, origin="lower", interpolation="nearest")
        elif name != "image":
            ax.text(0.5, 0.5, "not saved", transform=ax.transAxes, ha="center", color="w")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig
