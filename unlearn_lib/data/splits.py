"""Seeded, disjoint forget / retain / validation splits of a training set: one builder, one type.

A split is index arrays into the *training* set; the test set stays separate. For every kind but
``subject`` the validation part is carved out first (stratified), so it always holds examples "like
the forget set" that the model never saw - which SCRUB+R and the membership-inference attacks need -
and every forget set of one seed shares one validation part (so one original model serves them all).
For ``subject`` the validation part is the held-out subjects: whole patients the model never saw.

:func:`make_forget_split` works on label (or subject) arrays; :func:`forget_split` takes an
:class:`~unlearn_lib.data.ArrayDataset` and reads labels and metadata columns from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .datasets import ArrayDataset

__all__ = [
    "FORGET_KINDS",
    "ForgetSplit",
    "forget_split",
    "make_forget_split",
    "stratified_partition",
    "subsample_forget",
    "validation_partition",
]

FORGET_KINDS = ("class", "selective", "random", "attribute", "subject", "index")


@dataclass(frozen=True)
class ForgetSplit:
    """Disjoint index arrays into the training set, plus what the forget set is.

    ``meta`` carries kind-specific facts (``forget_subjects`` / ``heldout_subjects`` for a subject
    split, ``n_samples`` of the training set when the builder knew it); it takes no part in equality.
    """

    retain: np.ndarray
    forget: np.ndarray
    val: np.ndarray
    kind: str
    description: str
    forget_class: int | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if len(self.forget) == 0:
            raise ValueError(f"the forget set is empty ({self.description}); choose a non-empty forget set")
        if len(self.retain) == 0:
            raise ValueError(
                f"the retain set is empty: the forget set ({self.description}) is the whole training pool; "
                "unlearning needs data to keep, so forget less"
            )
        parts = {"retain": self.retain, "forget": self.forget, "val": self.val}
        for a, b in (("retain", "forget"), ("retain", "val"), ("forget", "val")):
            both = np.intersect1d(parts[a], parts[b])
            if both.size:
                raise ValueError(f"{a} and {b} overlap in {both.size} indices (e.g. {both[:5].tolist()})")
        for name, idx in parts.items():
            if np.unique(idx).size != idx.size:
                raise ValueError(f"{name} indices contain duplicates")

    @property
    def trained(self) -> np.ndarray:
        """Indices the original model trains on: retain and forget (validation stays held out)."""
        return np.union1d(self.retain, self.forget)

    def sizes(self) -> dict[str, int]:
        return {"retain": len(self.retain), "forget": len(self.forget), "val": len(self.val)}

    def datasets(self, train: ArrayDataset) -> dict[str, ArrayDataset]:
        """``{"retain", "forget", "val"}`` subsets of ``train`` (metadata follows), so callers need not rebuild them.

        Raises:
            ValueError: ``train`` is not the dataset the split was built on (a different length, when
                the split knows it, or indices out of range).
        """
        n = self.meta.get("n_samples")
        if n is not None and len(train) != n:
            raise ValueError(f"train has {len(train)} samples but this split was built on {n}; pass the training set it was made from")
        return {part: train.subset(getattr(self, part), part) for part in ("retain", "forget", "val")}


def stratified_partition(labels: np.ndarray, n_first: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (first, rest) with ``n_first`` samples spread evenly over the classes."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError("stratified_partition needs one label per sample")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    # Largest-remainder allocation: every class gets its share, rounding spread fairly.
    quota = counts / counts.sum() * n_first
    take = np.floor(quota).astype(int)
    for i in np.argsort(-(quota - take))[: n_first - take.sum()]:
        take[i] += 1
    first = []
    for c, k in zip(classes, take):
        idx = np.flatnonzero(labels == c)
        first.append(rng.permutation(idx)[:k])
    first_idx = np.sort(np.concatenate(first))
    rest_idx = np.setdiff1d(np.arange(len(labels)), first_idx)
    return first_idx, rest_idx


def _check_val_fraction(val_fraction: object) -> float:
    if not isinstance(val_fraction, (int, float)) or isinstance(val_fraction, bool) or not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be a float in [0, 1), got {val_fraction!r}")
    return float(val_fraction)


def validation_partition(labels: Sequence[int] | np.ndarray, *, seed: int = 0, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """``(val, pool)``: the stratified validation part every split of ``seed`` shares, and the rest.

    Every builder that wants "the same original model as make_forget_split" draws its forget set from
    ``pool`` (the confusion split, the difficulty split).
    """
    labels = np.asarray(labels)
    return stratified_partition(labels, round(_check_val_fraction(val_fraction) * len(labels)), seed)


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}" if high is not None else f"{name} must be >= {low}, got {value}")
    return int(value)


def subsample_forget(split: ForgetSplit, n_forget: int, *, seed: int = 0) -> ForgetSplit:
    """Keep a random ``n_forget`` of a split's forget set; the rest goes back to the retain set.

    Used to give "only female" and "only male" forget sets the same size, so a difference between
    them cannot come from how much was forgotten.

    Raises:
        ValueError: ``n_forget`` not in [1, len(split.forget)].
    """
    if not isinstance(n_forget, (int, np.integer)) or isinstance(n_forget, bool) or not 1 <= n_forget <= len(split.forget):
        raise ValueError(f"n_forget must be an int in [1, {len(split.forget)}] for this split, got {n_forget!r}")
    rng = np.random.default_rng(seed + 2)
    keep = np.sort(rng.choice(split.forget, size=int(n_forget), replace=False))
    retain = np.union1d(split.retain, np.setdiff1d(split.forget, keep))
    return ForgetSplit(retain, keep, split.val, split.kind, f"{n_forget} of {split.description}", split.forget_class, dict(split.meta))


def _as_list(ids: object, name: str) -> list:
    """Subject ids as a list; one id (a str or an int) is accepted on its own."""
    if ids is None:
        return []
    if isinstance(ids, (str, bytes, int, np.integer)):
        return [ids.item() if isinstance(ids, np.generic) else ids]
    try:
        return [v.item() if isinstance(v, np.generic) else v for v in ids]  # type: ignore[union-attr]
    except TypeError:
        raise ValueError(f"{name} must be a list of subject ids, got {ids!r}") from None


def _subject_split(subjects: np.ndarray, forget: object, heldout: object) -> ForgetSplit:
    """All samples of the ``forget`` subjects; the ``heldout`` subjects' samples are the validation part."""
    if subjects.ndim != 1:
        raise ValueError(f"kind='subject' needs one subject id per sample, got an array of shape {subjects.shape}")
    known = set(subjects.tolist())
    fids, hids = _as_list(forget, "forget"), _as_list(heldout, "heldout")
    if not fids:
        raise ValueError("forget is empty: name at least one subject to forget (kind='subject')")
    for name, ids in (("forget", fids), ("heldout", hids)):
        missing = [s for s in ids if s not in known]
        if missing:
            raise ValueError(f"{name} lists subjects {missing} that are not in the dataset's subjects {sorted(known, key=str)}")
    both = set(fids) & set(hids)
    if both:
        raise ValueError(f"a subject cannot be both forgotten (forget) and held out (heldout): {sorted(both, key=str)}")
    is_f, is_h = np.isin(subjects, fids), np.isin(subjects, hids)
    retain = np.flatnonzero(~is_f & ~is_h)
    if retain.size == 0:
        raise ValueError("no retain subject left: forget + heldout cover the whole cohort")
    desc = f"all samples of subject(s) {fids}" + (f"; subject(s) {hids} held out as validation" if hids else "")
    meta = {"forget_subjects": fids, "heldout_subjects": hids, "n_samples": len(subjects)}
    return ForgetSplit(retain, np.flatnonzero(is_f), np.flatnonzero(is_h), "subject", desc, None, meta)


def _index_forget(forget: object, n: int) -> np.ndarray:
    raw = np.asarray(forget if forget is not None else [])
    if raw.size == 0:
        raise ValueError("forget must name at least one training index")
    if raw.dtype.kind not in "iu":
        raise ValueError(
            f"forget must be integer indices into the training set, got dtype {raw.dtype} (a boolean mask? use np.flatnonzero)"
        )
    idx = np.unique(raw.astype(np.int64).ravel())
    if idx.min() < 0 or idx.max() >= n:
        raise ValueError(f"forget indices must be in [0, {n - 1}]")
    return idx


def make_forget_split(
    labels: Sequence[int] | np.ndarray,
    kind: str,
    *,
    seed: int = 0,
    val_fraction: float | None = None,
    forget_class: int | None = None,
    n_forget: int | None = None,
    fraction: float | None = None,
    attribute: np.ndarray | Sequence | None = None,
    value: object = None,
    forget: Sequence | np.ndarray | None = None,
    heldout: Sequence | None = None,
) -> ForgetSplit:
    """Build a forget split of a training set.

    Args:
        labels: class label of every training sample (used to stratify validation and to pick
            classes); for ``kind="subject"`` the subject id of every sample instead.
        kind: one of :data:`FORGET_KINDS`:

            * ``"class"``: every sample of ``forget_class``;
            * ``"selective"``: ``n_forget`` samples of ``forget_class``;
            * ``"random"``: a ``fraction`` of all samples;
            * ``"attribute"``: every sample whose ``attribute`` equals ``value`` (a sex, a site, ...),
              or a seeded ``n_forget`` of them;
            * ``"subject"``: every sample of the subject ids in ``forget``; the samples of the
              subjects in ``heldout`` (optional) form the validation part, nothing else is held out;
            * ``"index"``: exactly the training indices in ``forget`` (duplicates dropped), which must
              avoid the seed's validation part.
        seed: makes the split reproducible.
        val_fraction: share of the training set held out, stratified, before the forget set is drawn
            (default 0.1); not used by ``"subject"``, whose validation part is ``heldout``.

    Raises:
        ValueError: unknown ``kind``, a missing or ill-typed parameter (named), or an empty forget set.
    """
    labels = np.asarray(labels)
    if kind not in FORGET_KINDS:
        raise ValueError(f"kind must be one of {FORGET_KINDS}, got {kind!r}")
    if kind == "subject":
        if val_fraction is not None:
            raise ValueError("val_fraction does not apply to kind='subject': the heldout subjects are the validation part")
        return _subject_split(labels, forget, heldout)
    if heldout is not None:
        raise ValueError(f"heldout applies only to kind='subject', not kind={kind!r}")
    if forget is not None and kind != "index":
        raise ValueError(f"forget applies only to kind='subject' or 'index', not kind={kind!r}")
    val_fraction = _check_val_fraction(0.1 if val_fraction is None else val_fraction)
    n = len(labels)
    classes = np.unique(labels)
    if kind in ("class", "selective"):
        exact = isinstance(forget_class, (int, np.integer)) and not isinstance(forget_class, bool)
        if not exact or int(forget_class) not in set(classes.tolist()):  # 3.7 or True must not become 3 or 1
            raise ValueError(f"forget_class must be one of the classes {classes.tolist()} (an int), got {forget_class!r}")
        forget_class = int(forget_class)
    if kind == "selective" or (kind == "attribute" and n_forget is not None):
        n_forget = _check_int("n_forget", n_forget, 1)
    if kind == "random":
        if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0 < fraction < 1:
            raise ValueError(f"fraction must be a float in (0, 1), got {fraction!r}")
    if kind == "attribute":
        if attribute is None or len(attribute) != n:
            raise ValueError("attribute must give one value per training sample for kind='attribute'")
    if kind == "index":
        chosen = _index_forget(forget, n)

    val, pool = stratified_partition(labels, round(val_fraction * n), seed)
    meta: dict[str, Any] = {"n_samples": n}
    if kind == "index":
        clash = np.intersect1d(chosen, val)
        if clash.size:
            raise ValueError(f"{clash.size} forget indices are in the validation partition of seed {seed} (e.g. {clash[:5].tolist()})")
        return ForgetSplit(np.setdiff1d(pool, chosen), chosen, val, "index", f"{chosen.size} chosen samples", None, meta)
    rng = np.random.default_rng(seed + 1)
    if kind == "class":
        chosen = pool[labels[pool] == forget_class]
        desc = f"all training samples of class {forget_class}"
    elif kind == "selective":
        candidates = pool[labels[pool] == forget_class]
        if n_forget > len(candidates):
            raise ValueError(f"n_forget={n_forget} but class {forget_class} has only {len(candidates)} training samples")
        chosen = np.sort(rng.choice(candidates, size=n_forget, replace=False))
        desc = f"{n_forget} samples of class {forget_class}"
    elif kind == "random":
        k = max(1, round(fraction * len(pool)))
        chosen = np.sort(rng.choice(pool, size=k, replace=False))
        desc = f"random {fraction:.0%} of the training samples"
    else:
        attr = np.asarray(attribute)
        chosen = pool[attr[pool] == value]
        desc = f"all training samples with attribute == {value!r}"
    retain = np.setdiff1d(pool, chosen)
    split = ForgetSplit(retain, chosen, val, kind, desc, forget_class if kind in ("class", "selective") else None, meta)
    return subsample_forget(split, n_forget, seed=seed) if kind == "attribute" and n_forget is not None else split


def forget_split(dataset: ArrayDataset, kind: str, **kwargs: Any) -> ForgetSplit:
    """:func:`make_forget_split` on a dataset: labels from ``dataset.y``, columns from ``dataset.meta``.

    ``attribute`` may name a metadata column (``forget_split(train, "attribute", attribute="sex",
    value="F")``); ``kind="subject"`` reads the ``subject`` column. Datasets whose targets are not one
    label per sample (segmentation masks) support ``"random"``, ``"attribute"``, ``"index"`` (with an
    unstratified validation part) and ``"subject"``, not the class-based kinds.

    Raises:
        ValueError: a missing metadata column (the columns present are listed), a class-based kind on
            per-voxel targets, or anything :func:`make_forget_split` refuses.
    """
    if kind == "subject":
        if "subject" not in dataset.meta:
            raise ValueError(f"dataset {dataset.name!r} has no 'subject' metadata column (it has {sorted(dataset.meta)})")
        return make_forget_split(np.asarray(dataset.meta["subject"]), kind, **kwargs)
    attribute = kwargs.get("attribute")
    if kind == "attribute" and isinstance(attribute, str):
        if attribute not in dataset.meta:
            raise ValueError(
                f"attribute={attribute!r} is not a metadata column of dataset {dataset.name!r} (it has {sorted(dataset.meta)})"
            )
        kwargs["attribute"] = np.asarray(dataset.meta[attribute])
    if dataset.y.ndim == 1:
        labels = dataset.labels
    elif kind in ("class", "selective"):
        raise ValueError(
            f"kind={kind!r} needs one class label per sample; dataset {dataset.name!r} has targets of shape {tuple(dataset.y.shape)}"
        )
    else:
        labels = np.zeros(len(dataset), dtype=np.int64)  # one stratum: a plain seeded random validation part
    return make_forget_split(labels, kind, **kwargs)
