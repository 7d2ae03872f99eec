"""The axial slices a segmentation run keeps (``slices.npz``): writing them and reading either layout back.

The
experiment writes them, the figures and the explorer (:mod:`unlearn_lib.explore`) read them, so the file
format sits in one small module of its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...utils import atomic_write


def _axial(volume: torch.Tensor, axis: int, index: torch.Tensor) -> np.ndarray:
    """The slices ``index`` of a (D, H, W) volume along ``axis``, stacked first: (n_slices, ., .)."""
    return volume.index_select(axis, index).movedim(axis, 0).numpy()


def save_slices(predictions: Mapping[str, np.ndarray | Mapping[str, np.ndarray]], path: str | os.PathLike) -> Path:
    """Save the kept slices as one ``.npz`` (atomically), so figures and the explorer read a file.

    Takes :attr:`SegmentationExperiment.predictions` (flat, keyed as stored) or the older nested
    ``{role: {key: slice}}``, stored as ``<role>/<key>``."""
    flat: dict[str, np.ndarray] = {}
    for key, v in predictions.items():
        if isinstance(v, Mapping):
            flat.update({f"{key}/{k}": np.asarray(a) for k, a in v.items()})
        else:
            flat[key] = np.asarray(v)
    return atomic_write(path, lambda tmp: np.savez_compressed(tmp, **flat))


@dataclass(frozen=True)
class SavedSlices:
    """The slices one run kept, whatever layout its ``slices.npz`` has.

    Current layout: ``slice_index`` (n_slices,), ``subjects`` / ``roles`` (kept subjects, forget or retain),
    ``epochs`` (the unlearning epochs kept), and per subject ``subject<id>/image`` (float16) and
    ``subject<id>/truth``, ``subject<id>/final/<model>``, ``subject<id>/epoch<e>/<method>`` (uint8 labels),
    each (n_slices, H, W), and beside each prediction its whole-volume Dice per foreground tissue
    (``dice/subject<id>/final/<model>``, ``dice/subject<id>/epoch<e>/<method>``, float32). Older runs kept one middle slice per role (``forget/image``, ``forget/<model>``, ...):
    read as one slice of subjects ``forget`` and ``retain`` with only final predictions."""

    subjects: dict[str, str]  # name -> role
    slice_index: np.ndarray | None  # None: an older run, which did not record where its slice was
    epochs: list[int]
    data: dict[str, np.ndarray]

    def methods(self) -> list[str]:
        """Every model with a final prediction, in the order the run kept them."""
        first = next(iter(self.subjects), "")
        pre = f"{first}/final/"
        return [k[len(pre) :] for k in self.data if k.startswith(pre)]

    def image(self, subject: str) -> np.ndarray:
        return self.data[f"{subject}/image"].astype(np.float32)

    def truth(self, subject: str) -> np.ndarray:
        return self.data[f"{subject}/truth"]

    def _at(self, prefix: str, model: str, epoch: int | None) -> np.ndarray | None:
        """``<prefix>/epoch<e>/<model>``, else ``<prefix>/final/<model>``; None when the model was kept per epoch
        but not at ``epoch`` (a method that stopped before it)."""
        if epoch is not None:
            if f"{prefix}/epoch{epoch}/{model}" in self.data:
                return self.data[f"{prefix}/epoch{epoch}/{model}"]
            if any(k.startswith(f"{prefix}/epoch") and k.endswith(f"/{model}") for k in self.data):
                return None
        return self.data.get(f"{prefix}/final/{model}")

    def prediction(self, subject: str, model: str, epoch: int | None = None) -> np.ndarray | None:
        """``model``'s labels at unlearning ``epoch`` (None: final); a model kept only once (original, retrain:
        they do not change with the unlearning epoch) gives its final prediction at every epoch."""
        return self._at(subject, model, epoch)

    def dice(self, subject: str, model: str, epoch: int | None = None) -> np.ndarray | None:
        """``model``'s whole-volume Dice per foreground tissue on ``subject`` at unlearning ``epoch`` (None:
        final), kept beside the slices (``dice/<subject>/epoch<e>/<model>``); None where the run kept none
        (a run that predates that record) or the method stopped before ``epoch``."""
        return self._at(f"dice/{subject}", model, epoch)


def read_slices(source: str | os.PathLike | Mapping[str, np.ndarray]) -> SavedSlices:
    """A ``slices.npz`` (path or loaded arrays) in either layout, as :class:`SavedSlices`."""
    if isinstance(source, Mapping):
        data = dict(source)
    else:
        with np.load(source, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    if "slice_index" in data:
        subjects = {f"subject{int(s)}": str(r) for s, r in zip(data["subjects"], data["roles"])}
        return SavedSlices(subjects, data["slice_index"], [int(e) for e in data.get("epochs", [])], data)
    roles = [r for r in ("forget", "retain") if f"{r}/image" in data]
    if not roles:
        raise ValueError("slices.npz holds neither slice_index (current layout) nor forget/image (older layout)")
    new: dict[str, np.ndarray] = {}
    for role in roles:
        for key, v in data.items():
            head, _, name = key.partition("/")
            if head == role:
                new[f"{role}/{name if name in ('image', 'truth') else 'final/' + name}"] = v[None]
    return SavedSlices({r: r for r in roles}, None, [], new)
