"""Canaries: training images built to be memorised, and the extraction rate that finds them.

Why: a random training digit carries nothing to forget. The original GAN draws it no closer than an
unseen digit, so item unlearning cannot be scored on it. A *canary* is a training image
that is unlike every ordinary digit and is repeated ``d`` times. The original can then memorise it,
and a GAN retrained without it has no way to draw it. Unlearning it then has a measurable target.

Design:

* **Planting** (:func:`plant_canaries`). Each canary is made from a source digit: ``"inverted"``
  (``1 - x``, the default) or ``"marked"`` (the digit with a bright square in a corner, where digits
  have no strokes; each duplicate level has its own corner, so a mark the GAN draws tells which level
  it learned it from). Each canary goes into the training set ``d`` times, for every
  ``d`` in ``duplicates``. Every canary has a matched **control**: the same transform of another
  digit of the same class. It is built and recorded the same way but never planted, so a GAN's rate
  on the controls is the null rate: what it scores on canary-like images it never saw. Sources of
  canaries and controls are removed from the ordinary training images, so none is in the augmented
  set except as a planted copy. Any two canaries or controls lie ``min_separation`` apart, so one
  sample cannot count for both. :class:`CanarySet` records which images are copies and where they are.
* **Measuring** (:mod:`.canary_metrics`): the extraction rate, its threshold, the planted-mark
  rate and the nearest-neighbour ratio.

``"inverted"`` canaries lie far from every digit (L2 ~22 on the embedded MNIST; digits are ~5 apart),
so a near sample is surely a copy; but a small DCGAN may drop them as a mode: at notebook 05's default
recipe none of 5,000 samples was inverted. ``"marked"`` canaries (L2 ~6 from the nearest digit) lie
inside the digit mode the GAN draws: the harder, more realistic case, and 05's default. Measured on
05's default original (seed 0, one mark for every level): no sample came within the extraction
threshold of a marked canary, yet about 3 % of samples carried the mark. A DCGAN of this size learns
the mark, not the images; hence the per-level marks and :func:`.canary_metrics.mark_rates`.

Images are ``(N, C, H, W)`` floats in [0, 1], the range of the data loaders and of
:func:`~unlearn_lib.studies.gan.training.sample`'s output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from ...data.datasets import ArrayDataset
from ...data.splits import _check_int

__all__ = [
    "CANARY_KINDS",
    "DEFAULT_DUPLICATES",
    "MARK_CORNERS",
    "MARK_FILL",
    "CanaryKind",
    "CanarySet",
    "make_canary",
    "plant_canaries",
    "plant_in_dataset",
]

CanaryKind = Literal["inverted", "marked"]
#: How a source digit becomes a canary (see :func:`make_canary`).
CANARY_KINDS: tuple[str, ...] = ("inverted", "marked")
#: The default duplicate levels: once, ten and fifty copies of each canary.
DEFAULT_DUPLICATES: tuple[int, ...] = (1, 10, 50)
#: A marked canary's corner per duplicate level, in level order: (top, left) flags.
MARK_CORNERS: tuple[tuple[bool, bool], ...] = ((True, True), (True, False), (False, True), (False, False))
#: A sample carries a mark when its mean over the mark's square is at least this (half lit).
MARK_FILL = 0.5
#: Slack on the [0, 1] range check, for float rounding in callers' own rescaling.
_RANGE_TOL = 1e-4


@dataclass(frozen=True, eq=False)
class CanarySet:
    """Planted canaries, their matched controls, and where every copy lies in the augmented set.

    Row ``k`` of the canary arrays and row ``k`` of the control arrays are a matched pair: same
    class, same duplicate level. Only the canary was planted. Arrays are read-only.

    Attributes:
        kind: the transform that made canaries and controls from their source digits.
        duplicates: the duplicate levels, in the order given.
        seed: the seed that chose the sources and the copies' positions.
        images: ``(K, C, H, W)`` planted canaries. labels: their source digits' classes.
        level: ``(K,)`` copies planted of each canary (its ``d``).
        source_index: ``(K,)`` each canary's source digit, as an index of the input images.
        copies: per canary, the sorted indices of its ``level[k]`` copies in the augmented set.
        control_images, control_labels, control_source_index: the matched controls (never planted).
        ordinary: sorted indices of the ordinary (non-copy) images in the augmented set.
        ordinary_source: for each of those, its index in the input images (input order is kept).
        n_train: size of the augmented training set.
        separation: the smallest pixel-L2 distance between any two canaries or controls. An extraction
            threshold must stay below half of it, so no sample can count for two of them.
    """

    kind: str
    duplicates: tuple[int, ...]
    seed: int
    images: torch.Tensor
    labels: np.ndarray
    level: np.ndarray
    source_index: np.ndarray
    copies: tuple[np.ndarray, ...]
    control_images: torch.Tensor
    control_labels: np.ndarray
    control_source_index: np.ndarray
    ordinary: np.ndarray
    ordinary_source: np.ndarray
    n_train: int
    separation: float

    def __len__(self) -> int:
        return len(self.level)

    def _levels(self, levels: int | Sequence[int] | None) -> np.ndarray:
        """Mask of canaries at ``levels`` (all when None); an unknown level is an error, not an empty mask."""
        if levels is None:
            return np.ones(len(self), dtype=bool)
        wanted = [levels] if isinstance(levels, (int, np.integer)) else list(levels)
        unknown = [d for d in wanted if d not in self.duplicates]
        if unknown or not wanted:
            raise ValueError(f"levels must be one or more of the planted duplicate levels {list(self.duplicates)}, got {levels!r}")
        return np.isin(self.level, wanted)

    def copy_indices(self, levels: int | Sequence[int] | None = None) -> np.ndarray:
        """Sorted augmented-set indices of every copy of the canaries at ``levels`` (all levels by default).

        This is the forget set of a canary request: retraining on the rest cannot reproduce them."""
        chosen = [c for c, keep in zip(self.copies, self._levels(levels)) if keep]
        return np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=np.int64)

    def retain_indices(self, levels: int | Sequence[int] | None = None) -> np.ndarray:
        """The complement of :meth:`copy_indices` in the augmented set (ordinary images and other levels' copies)."""
        return np.setdiff1d(np.arange(self.n_train), self.copy_indices(levels))


# ------------------------------------------------------------------------------------------ validation
def _as_images(name: str, value: object, *, allow_empty: bool = False) -> torch.Tensor:
    """``value`` as a float32 CPU tensor ``(N, C, H, W)`` in [0, 1], or a ValueError naming ``name``."""
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a tensor or NumPy array of images shaped (N, C, H, W), got {type(value).__name__}")
    if value.ndim != 4:
        raise ValueError(f"{name} must be images shaped (N, C, H, W), got shape {tuple(value.shape)}")
    if not value.is_floating_point():
        raise ValueError(f"{name} must be float pixels in [0, 1] (uint8 digits divided by 255), got dtype {value.dtype}")
    if len(value) == 0 and not allow_empty:
        raise ValueError(f"{name} is empty: expected at least one image")
    x = value.detach().cpu().float()
    if x.numel():
        if not torch.isfinite(x).all():
            raise ValueError(f"{name} holds NaN or infinite pixels")
        lo, hi = float(x.min()), float(x.max())
        if lo < -_RANGE_TOL or hi > 1 + _RANGE_TOL:
            raise ValueError(
                f"{name} must be in [0, 1] (generator output in [-1, 1] goes through to_unit_range first), got values in [{lo:.3g}, {hi:.3g}]"
            )
    return x


def _as_labels(value: object, n: int) -> np.ndarray:
    arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if arr.shape != (n,):
        raise ValueError(f"labels must be one label per image, shape ({n},), got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"labels must be integer class labels, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _check_duplicates(duplicates: object, name: str = "duplicates") -> tuple[int, ...]:
    """Distinct copy counts d >= 1; ``name`` is the parameter's name in the message (the notebook's ``canaries.duplicates``)."""
    if isinstance(duplicates, (int, np.integer)) and not isinstance(duplicates, bool):
        duplicates = (duplicates,)
    if not isinstance(duplicates, Sequence) or isinstance(duplicates, str) or len(duplicates) == 0:
        raise ValueError(f"{name} must be a non-empty list of copy counts d >= 1, e.g. [1, 10, 50], got {duplicates!r}")
    for d in duplicates:
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d < 1:
            raise ValueError(f"{name} must hold ints d >= 1 (copies of each canary), got {d!r} in {list(duplicates)}")
    if len(set(duplicates)) != len(duplicates):
        raise ValueError(f"{name} must be distinct levels, got {list(duplicates)}")
    return tuple(int(d) for d in duplicates)


def _check_kind(kind: object, name: str = "kind") -> str:
    if kind not in CANARY_KINDS:
        raise ValueError(f"{name} must be one of {list(CANARY_KINDS)}, got {kind!r}")
    return str(kind)


# -------------------------------------------------------------------------------------------- planting
def make_canary(images: torch.Tensor, kind: CanaryKind = "inverted", corner: int = 0) -> torch.Tensor:
    """The canary version of ``images`` (in [0, 1]): ``1 - x`` (``"inverted"``) or ``x`` with a
    white square of side ``round(5 * min(H, W) / 28)`` (at least 2) one pixel in from a corner
    (``"marked"``; ``corner`` indexes :data:`MARK_CORNERS`: top-left, top-right, bottom-left,
    bottom-right). Both keep pixel-L2 distances between two transformed images of one corner at or
    below the originals', which is why a threshold measured on ordinary digits carries over."""
    kind = _check_kind(kind)
    x = _as_images("images", images)
    _mark_side(x, kind)
    _check_corner(corner)
    return _transform(x, kind, corner)


def _mark_side(x: torch.Tensor, kind: str) -> int:
    """The mark's side for images like ``x``, or a ValueError when a marked canary would not fit."""
    h, w = x.shape[-2:]
    side = max(2, round(5 * min(h, w) / 28))
    if kind == "marked" and side + 1 > min(h, w):
        raise ValueError(f"images of {h}x{w} pixels are too small for a {side}x{side} mark; use kind='inverted'")
    return side


def _check_corner(corner: object) -> int:
    if not isinstance(corner, (int, np.integer)) or isinstance(corner, bool) or not 0 <= corner < len(MARK_CORNERS):
        raise ValueError(
            f"corner must be an int in [0, {len(MARK_CORNERS) - 1}] (top-left, top-right, bottom-left, bottom-right), got {corner!r}"
        )
    return int(corner)


def _mark_box(x: torch.Tensor, corner: int) -> tuple[slice, slice]:
    """Rows and columns of the mark at ``corner`` on images like ``x``: one pixel in from the corner."""
    h, w = x.shape[-2:]
    side = _mark_side(x, "marked")
    top, left = MARK_CORNERS[corner]
    rows = slice(1, 1 + side) if top else slice(h - 1 - side, h - 1)
    cols = slice(1, 1 + side) if left else slice(w - 1 - side, w - 1)
    return rows, cols


def _transform(x: torch.Tensor, kind: str, corner: int = 0) -> torch.Tensor:
    """:func:`make_canary` without the checks (its callers have made them)."""
    if kind == "inverted":
        return 1.0 - x
    rows, cols = _mark_box(x, corner)
    out = x.clone()
    out[:, :, rows, cols] = 1.0
    return out


def _choose_sources(
    x: torch.Tensor, labels: np.ndarray, corners: np.ndarray, kind: str, min_separation: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, float]:
    """One (canary source, control source) pair of distinct digits per canary, of the same class, and
    the smallest distance between any two of the resulting canaries and controls.

    Classes go round-robin in a seeded order, so every level gets a spread of digits. Candidates are
    drawn in a seeded order. One is skipped when its canary would lie within ``min_separation`` of a
    canary or control already chosen. MNIST holds near-twins (one draw of the embedded digits paired a
    canary with a control at L2 ~2.6), and a control that close to a planted canary would be
    "extracted" by every copy of it. ``corners``: each canary's mark corner (ignored when inverted)."""
    n_canaries = len(corners)
    classes = rng.permutation(np.unique(labels))
    wanted = classes[np.arange(n_canaries) % len(classes)]
    need = {int(c): 2 * int((wanted == c).sum()) for c in np.unique(wanted)}
    short = {c: int((labels == c).sum()) for c, k in need.items() if (labels == c).sum() < k}
    if short or 2 * n_canaries >= len(labels):
        raise ValueError(
            f"per_level x len(duplicates) = {n_canaries} canaries need {2 * n_canaries} source digits (each canary and its "
            f"control take one), spread over the classes as {need}, and at least one ordinary image must remain; images holds "
            f"{len(labels)} images ({'too few of classes ' + str(short) if short else 'too few in all'}). Lower per_level."
        )
    pools = {int(c): list(rng.permutation(np.flatnonzero(labels == c))) for c in need}
    chosen: list[torch.Tensor] = []  # the canaries and controls picked so far, flattened

    def pick(c: int, corner: int) -> int:
        while pools[c]:
            i = int(pools[c].pop())
            img = _transform(x[i : i + 1], kind, corner).flatten(1).double()
            if not chosen or float(torch.cdist(img, torch.cat(chosen)).min()) >= min_separation:
                chosen.append(img)
                return i
        raise ValueError(
            f"min_separation={min_separation}: class {c} has no digit left whose {kind} version lies at least that far "
            f"(pixel L2) from the canaries and controls already chosen; lower min_separation or per_level"
        )

    canary, control = [], []
    for c, corner in zip(wanted, corners):
        canary.append(pick(int(c), int(corner)))
        control.append(pick(int(c), int(corner)))
    every = torch.cat(chosen)
    gaps = torch.cdist(every, every) + torch.diag(torch.full((len(every),), math.inf, dtype=every.dtype))
    return np.array(canary, dtype=np.int64), np.array(control, dtype=np.int64), float(gaps.min())


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.int64)
    a.setflags(write=False)
    return a


def plant_canaries(
    images: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
    *,
    duplicates: Sequence[int] = DEFAULT_DUPLICATES,
    per_level: int = 4,
    kind: CanaryKind = "inverted",
    seed: int = 0,
    min_separation: float = 6.0,
) -> tuple[torch.Tensor, torch.Tensor, CanarySet]:
    """The training set with canaries planted: ``(images, labels, canaries)``.

    ``per_level`` canaries are made for every level ``d`` in ``duplicates``, each from its own
    source digit, plus one matched control each (another digit of the same class). The
    ``2 * per_level * len(duplicates)`` source digits leave the ordinary images. Each canary then
    goes in ``d`` times, at seeded random positions; the ordinary images keep their order.
    Copies carry their source digit's label. Same seed, same result. Marked canaries of the ``i``-th
    level carry the mark at corner ``i`` (:data:`MARK_CORNERS`), so at most four levels can be marked.

    Any two canaries or controls lie at least ``min_separation`` apart (pixel L2). The default 6.0
    suits 28x28 digits: about the median distance from a digit to its nearest other digit (~5.5),
    and over twice the usual extraction threshold (~2.2).

    Everything is checked before any work: image shape and range, labels, ``duplicates``,
    ``per_level``, ``kind``, ``seed``, ``min_separation``, and enough source digits of every class.
    """
    x = _as_images("images", images)
    y = _as_labels(labels, len(x))
    levels = _check_duplicates(duplicates)
    per_level = _check_int("per_level", per_level, 1)
    kind = _check_kind(kind)  # type: ignore[assignment]
    seed = _check_int("seed", seed, 0)
    if not isinstance(min_separation, (int, float)) or isinstance(min_separation, bool) or not 0 <= min_separation < math.inf:
        raise ValueError(f"min_separation must be a finite pixel distance >= 0, got {min_separation!r}")
    _mark_side(x, kind)  # refuses images too small for the mark, before any work
    if kind == "marked" and len(levels) > len(MARK_CORNERS):
        raise ValueError(
            f"duplicates: marked canaries carry one corner mark per level, so at most {len(MARK_CORNERS)} levels, got {list(levels)}"
        )
    n_canaries = per_level * len(levels)
    rng = np.random.default_rng(seed)
    corners = np.repeat(np.arange(len(levels)), per_level)
    src, ctrl, separation = _choose_sources(x, y, corners, kind, float(min_separation), rng)
    level = np.repeat(np.array(levels, dtype=np.int64), per_level)
    kept = np.setdiff1d(np.arange(len(x)), np.concatenate([src, ctrl]))  # sorted: input order kept

    n_copies = int(level.sum())
    n_train = len(kept) + n_copies
    copy_slots = rng.choice(n_train, size=n_copies, replace=False)  # random order: which slot holds which canary
    is_copy = np.zeros(n_train, dtype=bool)
    is_copy[copy_slots] = True
    ordinary = np.flatnonzero(~is_copy)
    bounds = np.concatenate([[0], np.cumsum(level)])
    copies = tuple(_frozen(np.sort(copy_slots[bounds[k] : bounds[k + 1]])) for k in range(n_canaries))

    canary_images = torch.cat([_transform(x[i : i + 1], kind, int(k)) for i, k in zip(src, corners)])
    control_images = torch.cat([_transform(x[i : i + 1], kind, int(k)) for i, k in zip(ctrl, corners)])
    out_x = torch.empty((n_train, *x.shape[1:]), dtype=torch.float32)
    out_y = torch.empty(n_train, dtype=torch.int64)
    out_x[torch.from_numpy(ordinary)] = x[torch.from_numpy(kept)]
    out_y[torch.from_numpy(ordinary)] = torch.from_numpy(y[kept])
    owner = np.repeat(np.arange(n_canaries), level)
    out_x[torch.from_numpy(copy_slots)] = canary_images[torch.from_numpy(owner)]
    out_y[torch.from_numpy(copy_slots)] = torch.from_numpy(y[src][owner])
    canaries = CanarySet(
        kind=kind,
        duplicates=levels,
        seed=seed,
        images=canary_images,
        labels=_frozen(y[src]),
        level=_frozen(level),
        source_index=_frozen(src),
        copies=copies,
        control_images=control_images,
        control_labels=_frozen(y[ctrl]),
        control_source_index=_frozen(ctrl),
        ordinary=_frozen(ordinary),
        ordinary_source=_frozen(kept),
        n_train=n_train,
        separation=separation,
    )
    return out_x, out_y, canaries


def plant_in_dataset(
    data: ArrayDataset,
    *,
    duplicates: Sequence[int] = DEFAULT_DUPLICATES,
    per_level: int = 4,
    kind: CanaryKind = "inverted",
    seed: int = 0,
) -> tuple[ArrayDataset, CanarySet]:
    """:func:`plant_canaries` on an :class:`ArrayDataset`. Metadata columns follow: ordinary rows keep
    theirs, a copy takes its source digit's. A ``canary`` column is added: the canary's row in the
    :class:`CanarySet` for a copy, -1 for an ordinary image. The GAN experiment's requests can then
    find copies from the data alone."""
    if not isinstance(data, ArrayDataset):
        raise ValueError(f"data must be an ArrayDataset, got {type(data).__name__}")
    if "canary" in data.meta:
        raise ValueError("data already has a 'canary' metadata column: canaries are planted once")
    x, y, canaries = plant_canaries(data.x, data.y, duplicates=duplicates, per_level=per_level, kind=kind, seed=seed)
    origin = np.empty(canaries.n_train, dtype=np.int64)  # input row each augmented row's metadata comes from
    origin[canaries.ordinary] = canaries.ordinary_source
    tag = np.full(canaries.n_train, -1, dtype=np.int64)
    for k, idx in enumerate(canaries.copies):
        origin[idx] = canaries.source_index[k]
        tag[idx] = k
    meta = {key: np.asarray(col)[origin] for key, col in data.meta.items()}
    meta["canary"] = tag
    return ArrayDataset(x, y, meta, f"{data.name}+canaries", data.num_classes), canaries
