"""Medical classification data with patient metadata, and forget splits built from that metadata.

Three sources, one output type (:class:`~unlearn_lib.data.ArrayDataset` with ``meta`` columns):

* **Embedded default** - :func:`load_brain_patches`: a TissueMNIST-like 2D set cut from the simulated
  brain cohort (:func:`unlearn_lib.data.cohort.simulate_cohort`, built from a real template). Each
  patch is an axial window centred on a voxel of one tissue class; it carries its subject id, sex and
  age, so forget sets can be "one patient", "only women" or "only men".
* **MedMNIST** - :func:`~unlearn_lib.data.medmnist.load_medmnist`: any 2D ``<flag>.npz`` (``train_images``
  / ``train_labels`` / ``val_*`` / ``test_*``). MedMNIST ships no sex column, so sex analyses cannot run on it.
* **CheXpert** - :func:`~unlearn_lib.data.chexpert.load_chexpert`: the CSV (``Path``, ``Sex``, ``Age``, 14
  findings) and its images, one binary finding as the target, with the usual policies for uncertain (-1) labels.

The two file loaders live in their own modules (as MNIST's and CIFAR's do) and are re-exported here.

The split helpers here (:func:`attribute_forget_split`, :func:`indices_forget_split`, and
:func:`subsample_forget`, now in :mod:`unlearn_lib.data.splits`) are kept for compatibility as thin
wrappers over :func:`~unlearn_lib.data.make_forget_split` (kinds ``attribute`` and ``index``), so
every forget set of one seed shares one validation partition and hence one original model.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .chexpert import CHEXPERT_FINDINGS, UNCERTAIN_POLICIES, load_chexpert
from .datasets import ArrayDataset
from .medmnist import load_medmnist
from .splits import ForgetSplit, make_forget_split, subsample_forget

__all__ = [
    "CHEXPERT_FINDINGS",
    "DEPTH_CLASSES",
    "UNCERTAIN_POLICIES",
    "attribute_forget_split",
    "depth_patches_from_cohort",
    "indices_forget_split",
    "load_brain_patches",
    "load_chexpert",
    "load_medmnist",
    "patches_from_cohort",
    "split_by_subject",
    "subsample_forget",
]

#: Class names of the depth task (:func:`depth_patches_from_cohort`), outermost first.
DEPTH_CLASSES = ("rim", "middle", "deep")
#: The tasks :func:`load_brain_patches` can cut: the centre voxel's tissue, or its depth in the brain.
PATCH_TASKS = ("tissue", "depth")


# --------------------------------------------------------------------------------------------------
# Embedded default: tissue patches from the simulated cohort
# --------------------------------------------------------------------------------------------------


def _normalise_volume(vol: np.ndarray) -> np.ndarray:
    """Robust per-volume scaling to [0, 1] (1st-99th percentile of the head), as MRI pipelines do."""
    fg = vol[vol > 0]
    lo, hi = (np.percentile(fg, [1, 99]) if fg.size else (0.0, 1.0)) if vol.max() > 0 else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    return np.clip((vol - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def patches_from_cohort(
    cohort: Any,
    *,
    patch_size: int = 28,
    patches_per_subject: int = 150,
    classes: Sequence[int] = (1, 2, 3),
    axis: int = -1,
    normalise: bool = False,
    seed: int = 0,
    name: str = "brain-patches",
) -> ArrayDataset:
    """Cut a TissueMNIST-like set of 2D patches from a cohort of labelled 3D volumes.

    For every subject and every tissue class in ``classes``, ``patches_per_subject // len(classes)``
    voxels of that class are drawn at random (seeded) and the ``patch_size`` x ``patch_size`` window of
    the slice through that voxel, perpendicular to ``axis`` (axial for the cohort's last axis), is cut
    out with the voxel at its centre (zero padding at the volume's edge). The patch's label is the
    centre voxel's tissue: classes are balanced by construction, like TissueMNIST's cell crops.

    Args:
        cohort: anything with ``images`` (N, 1, D, H, W) float, ``labels`` (N, D, H, W) int and
            ``meta`` (columns ``subject``, ``sex``, ``age`` of length N), e.g. a
            :class:`~unlearn_lib.data.cohort.Cohort`; optional ``label_names``.
        patch_size: side of the square patch in voxels (>= 4).
        patches_per_subject: patches per subject, split evenly over ``classes`` (>= ``len(classes)``).
        classes: cohort label values to sample; they become classes ``0 .. len(classes) - 1``.
        axis: the volume axis the slices are perpendicular to (-1, the last, is axial for RAS volumes).
        normalise: rescale each volume to [0, 1] by its 1st-99th percentile first (the simulated
            cohort is already normalised; raw scans are not).
        seed: voxel sampling.
        name: the dataset's name.

    Returns:
        An :class:`ArrayDataset` with ``x`` (M, 1, patch_size, patch_size) in [0, 1], ``y`` (M,), and
        metadata ``subject``, ``sex``, ``age`` plus the centre voxel ``slice`` index.

    Raises:
        ValueError: a malformed cohort, a missing metadata column, a bad parameter, or a subject with
            no voxel of a requested class.
    """
    images, labels = np.asarray(cohort.images), np.asarray(cohort.labels)
    if images.ndim != 5 or images.shape[1] != 1:
        raise ValueError(f"cohort.images must have shape (N, 1, D, H, W), got {images.shape}")
    if labels.shape != (images.shape[0], *images.shape[2:]):
        raise ValueError(f"cohort.labels must have shape {(images.shape[0], *images.shape[2:])}, got {labels.shape}")
    meta = dict(cohort.meta)
    for col in ("subject", "sex", "age"):
        if col not in meta:
            raise ValueError(f"cohort.meta has no {col!r} column (it has {sorted(meta)})")
        if len(meta[col]) != len(images):
            raise ValueError(f"cohort.meta[{col!r}] has {len(meta[col])} rows for {len(images)} volumes")
    if not isinstance(patch_size, int) or patch_size < 4:
        raise ValueError(f"patch_size must be an int >= 4, got {patch_size!r}")
    classes = [int(c) for c in classes]
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise ValueError(f"classes must list at least two distinct label values, got {classes}")
    if not isinstance(patches_per_subject, int) or patches_per_subject < len(classes):
        raise ValueError(f"patches_per_subject must be an int >= len(classes)={len(classes)}, got {patches_per_subject!r}")
    if axis not in (-3, -2, -1, 0, 1, 2):
        raise ValueError(f"axis must be a spatial axis in -3..2, got {axis}")

    per_class = patches_per_subject // len(classes)
    half = patch_size // 2
    rng = np.random.default_rng(seed)
    xs, ys, rows = [], [], []
    for i in range(len(images)):
        vol = np.moveaxis(
            _normalise_volume(images[i, 0]) if normalise else images[i, 0].astype(np.float32), axis, -1
        )  # slices along the last axis
        lab = np.moveaxis(labels[i], axis, -1)
        padded = np.pad(vol, ((half, patch_size - half), (half, patch_size - half), (0, 0)))
        for k, c in enumerate(classes):
            coords = np.argwhere(lab == c)
            if len(coords) == 0:
                raise ValueError(f"subject {np.asarray(meta['subject'])[i].item()!r} has no voxel of label {c}; drop it from classes")
            pick = coords[rng.choice(len(coords), size=per_class, replace=len(coords) < per_class)]
            a, b, s = pick[:, 0], pick[:, 1], pick[:, 2]
            offs = np.arange(patch_size)
            # padded[a + o1, b + o2, s]: the window whose offset `half` is the sampled voxel.
            xs.append(padded[a[:, None, None] + offs[None, :, None], b[:, None, None] + offs[None, None, :], s[:, None, None]])
            ys.append(np.full(per_class, k, dtype=np.int64))
            rows.append((i, s))
    owner = np.concatenate([np.full(len(s), i) for i, s in rows])
    x = torch.from_numpy(np.concatenate(xs)[:, None].astype(np.float32))
    y = torch.from_numpy(np.concatenate(ys))
    sex = np.asarray([str(v) for v in np.asarray(meta["sex"])])[owner]
    out_meta = {
        "subject": np.asarray(meta["subject"])[owner],
        "sex": sex,
        "age": np.asarray(meta["age"], dtype=np.float64)[owner],
        "slice": np.concatenate([s for _, s in rows]),
    }
    return ArrayDataset(x, y, out_meta, name=name, num_classes=len(classes))


def _in_slice_depth(brain: np.ndarray) -> np.ndarray:
    """Distance (voxels) of every brain voxel to the nearest non-brain voxel of its own slice (last axis)."""
    from scipy import ndimage

    return np.stack([ndimage.distance_transform_edt(brain[..., s]) for s in range(brain.shape[-1])], axis=-1)


def depth_patches_from_cohort(
    cohort: Any,
    *,
    patch_size: int = 28,
    patches_per_subject: int = 150,
    depth_edges: Sequence[float] = (0.06, 0.13),
    female_gamma: float = 1.0,
    rotate: bool = True,
    seed: int = 0,
    name: str = "brain-depth",
) -> ArrayDataset:
    """2D patches whose label needs the neighbourhood: how deep the centre voxel lies in the brain.

    Why: the tissue at a patch's centre is given away by the centre voxel's brightness (the centre-pixel
    floor beats a CNN on that task). Here the label is the centre voxel's in-slice distance to the edge
    of the subject's own (warped) brain mask, in three classes cut at ``depth_edges`` (fractions of the
    volume's edge: about 10 mm and 25 mm at 64^3): ``rim`` / ``middle`` / ``deep``. Every tissue occurs in
    every class, so one voxel says little; the edge (or its absence) within the window decides. Images
    are the cohort's (template intensities through each subject's warp and scanner), never painted
    from labels. Classes are balanced per subject.

    ``rotate``: each patch is turned by a random multiple of 90 degrees and maybe mirrored (seeded; the
    labelled voxel stays at ``(patch_size // 2, patch_size // 2)``), so a fixed pixel template (what a logistic regression on raw pixels learns) cannot read the edge's
    position. ``female_gamma``: female subjects' intensities are raised to this power (a sex-linked
    contrast difference beyond head size: it changes how sharply the dark rim of CSF meets the
    background, which is the task's cue); 1.0 leaves them as simulated.

    Returns:
        An :class:`ArrayDataset` with ``x`` (M, 1, patch_size, patch_size) in [0, 1], ``y`` in {0, 1, 2}
        and metadata ``subject``, ``sex``, ``age``, ``slice``, ``depth`` (voxels).

    Raises:
        ValueError: a malformed cohort, a bad parameter, or a subject with no voxel of a depth class.
    """
    images, labels = np.asarray(cohort.images), np.asarray(cohort.labels)
    if images.ndim != 5 or images.shape[1] != 1 or labels.shape != (images.shape[0], *images.shape[2:]):
        raise ValueError(f"cohort.images must be (N, 1, D, H, W) with labels (N, D, H, W), got {images.shape} and {labels.shape}")
    meta = dict(cohort.meta)
    for col in ("subject", "sex", "age"):
        if col not in meta or len(meta[col]) != len(images):
            raise ValueError(f"cohort.meta needs a {col!r} column with one row per volume")
    if not isinstance(patch_size, int) or patch_size < 4:
        raise ValueError(f"patch_size must be an int >= 4, got {patch_size!r}")
    if not isinstance(patches_per_subject, int) or patches_per_subject < len(DEPTH_CLASSES):
        raise ValueError(f"patches_per_subject must be an int >= {len(DEPTH_CLASSES)}, got {patches_per_subject!r}")
    edges = [float(e) for e in depth_edges]
    if len(edges) != 2 or not 0 < edges[0] < edges[1] < 0.5:
        raise ValueError(f"depth_edges must be two increasing fractions of the volume edge in (0, 0.5), got {depth_edges!r}")
    if not 0.2 <= float(female_gamma) <= 5:
        raise ValueError(f"female_gamma must be in [0.2, 5], got {female_gamma!r}")
    per_class = patches_per_subject // len(DEPTH_CLASSES)
    half = patch_size // 2
    cuts = np.asarray(edges) * images.shape[-1]
    rng = np.random.default_rng(seed)
    sexes = np.asarray([str(v) for v in np.asarray(meta["sex"])])
    xs, ys, owner, slices, depths = [], [], [], [], []
    offs = np.arange(2 * half + 1)  # an odd window, so turning it keeps the labelled voxel at (half, half)
    for i in range(len(images)):
        vol = images[i, 0].astype(np.float32)
        if sexes[i] == "F" and female_gamma != 1.0:
            vol = np.clip(vol, 0.0, 1.0) ** np.float32(female_gamma)
        brain = labels[i] > 0
        depth = _in_slice_depth(brain)
        cls = np.digitize(depth, cuts)
        padded = np.pad(vol, ((half, half + 1), (half, half + 1), (0, 0)))
        for k in range(len(DEPTH_CLASSES)):
            coords = np.argwhere(brain & (cls == k))
            if len(coords) == 0:
                raise ValueError(
                    f"subject {np.asarray(meta['subject'])[i].item()!r} has no brain voxel of depth class {DEPTH_CLASSES[k]!r}"
                )
            pick = coords[rng.choice(len(coords), size=per_class, replace=len(coords) < per_class)]
            a, b, s = pick[:, 0], pick[:, 1], pick[:, 2]
            win = padded[a[:, None, None] + offs[None, :, None], b[:, None, None] + offs[None, None, :], s[:, None, None]]
            if rotate:
                turns, flips = rng.integers(0, 4, size=per_class), rng.integers(0, 2, size=per_class)
                win = np.stack([np.rot90(w[:, ::-1] if f else w, t) for w, t, f in zip(win, turns, flips, strict=True)])
            xs.append(win[:, :patch_size, :patch_size])
            ys.append(np.full(per_class, k, dtype=np.int64))
            owner.append(np.full(per_class, i))
            slices.append(s)
            depths.append(depth[a, b, s])
    own = np.concatenate(owner)
    out_meta = {
        "subject": np.asarray(meta["subject"])[own],
        "sex": sexes[own],
        "age": np.asarray(meta["age"], dtype=np.float64)[own],
        "slice": np.concatenate(slices),
        "depth": np.concatenate(depths).astype(np.float64),
    }
    x = torch.from_numpy(np.ascontiguousarray(np.concatenate(xs)[:, None], dtype=np.float32))
    return ArrayDataset(x, torch.from_numpy(np.concatenate(ys)), out_meta, name=name, num_classes=len(DEPTH_CLASSES))


def split_by_subject(
    dataset: ArrayDataset, n_test_subjects: int, *, seed: int = 0, stratify: str | None = "sex"
) -> tuple[ArrayDataset, ArrayDataset]:
    """Hold out whole subjects for testing (no patient in both), balanced over ``stratify`` if given.

    Patches of one patient are correlated; a test set of *other* patients is what "unseen data" means
    clinically, and it is the right non-member reference when a whole patient is forgotten.

    Raises:
        ValueError: no ``subject`` column, or ``n_test_subjects`` that leaves no training subject (or,
            when stratifying, a group with no training subject).
    """
    if "subject" not in dataset.meta:
        raise ValueError(f"dataset {dataset.name!r} has no 'subject' metadata column")
    subjects = np.unique(dataset.meta["subject"])
    if not isinstance(n_test_subjects, int) or not 1 <= n_test_subjects < len(subjects):
        raise ValueError(f"n_test_subjects must be an int in [1, {len(subjects) - 1}], got {n_test_subjects!r}")
    rng = np.random.default_rng(seed)
    if stratify is None:
        test_subjects = rng.choice(subjects, size=n_test_subjects, replace=False)
    else:
        if stratify not in dataset.meta:
            raise ValueError(f"dataset {dataset.name!r} has no {stratify!r} column to stratify on")
        group_of = {s: dataset.meta[stratify][np.flatnonzero(dataset.meta["subject"] == s)[0]] for s in subjects}
        groups = sorted({str(g) for g in group_of.values()})
        by_group = {g: rng.permutation([s for s in subjects if str(group_of[s]) == g]) for g in groups}
        # Round-robin over groups so the test subjects are as balanced as the groups allow.
        test_subjects, depth = [], 0
        while len(test_subjects) < n_test_subjects:
            for g in groups:
                if depth < len(by_group[g]) - 1 and len(test_subjects) < n_test_subjects:
                    test_subjects.append(by_group[g][depth])
            depth += 1
            if depth > len(subjects):
                raise ValueError(f"cannot hold out {n_test_subjects} subjects and keep one of each {stratify} for training")
    is_test = np.isin(dataset.meta["subject"], np.asarray(test_subjects))
    train = dataset.subset(np.flatnonzero(~is_test), f"{dataset.name}-train")
    test = dataset.subset(np.flatnonzero(is_test), f"{dataset.name}-test")
    return train, test


def load_brain_patches(
    n_subjects: int = 12,
    size: int = 64,
    *,
    patch_size: int = 28,
    patches_per_subject: int = 150,
    n_test_subjects: int = 4,
    task: str = "tissue",
    depth_edges: Sequence[float] = (0.06, 0.13),
    female_gamma: float = 1.0,
    rotate: bool = True,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> tuple[ArrayDataset, ArrayDataset]:
    """The embedded default: patches from the simulated cohort, split by patient.

    ``task="tissue"``: CSF / grey matter / white matter at the patch centre (TissueMNIST-like; the
    centre pixel nearly solves it). ``task="depth"``: the centre voxel's depth in the brain
    (:func:`depth_patches_from_cohort`, with ``depth_edges``, ``female_gamma`` and ``rotate``), a task
    where the neighbourhood matters. The cohort (:func:`unlearn_lib.data.cohort.simulate_cohort`) is
    simulated from a real brain template, so nothing is downloaded. Subjects are split into train /
    test patients (sex-balanced), then patches are cut per subject.

    Returns:
        ``(train, test)`` datasets of 1 x ``patch_size`` x ``patch_size`` patches, 3 classes.
    """
    from .cohort import simulate_cohort  # the segmentation study's cohort; imported lazily

    if not isinstance(size, int) or size < patch_size:
        raise ValueError(f"size must be an int >= patch_size={patch_size}, got {size!r}")
    if task not in PATCH_TASKS:
        raise ValueError(f"task must be one of {PATCH_TASKS}, got {task!r}")
    cohort = simulate_cohort(n_subjects=n_subjects, size=size, seed=seed, cache_dir=cache_dir)
    if task == "tissue":
        data = patches_from_cohort(cohort, patch_size=patch_size, patches_per_subject=patches_per_subject, seed=seed, name="brain-tissue")
    else:
        data = depth_patches_from_cohort(
            cohort,
            patch_size=patch_size,
            patches_per_subject=patches_per_subject,
            depth_edges=depth_edges,
            female_gamma=female_gamma,
            rotate=rotate,
            seed=seed,
        )
    return split_by_subject(data, n_test_subjects, seed=seed)


# --------------------------------------------------------------------------------------------------
# Forget splits from metadata
# --------------------------------------------------------------------------------------------------


def indices_forget_split(
    labels: np.ndarray,
    forget: Sequence[int] | np.ndarray,
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
    description: str = "",
    kind: str = "attribute",
) -> ForgetSplit:
    """A split whose forget set is exactly ``forget`` (indices into the training set).

    Kept for compatibility: ``make_forget_split(labels, "index", forget=...)`` relabelled with
    ``kind`` and ``description``. The validation part is the same stratified partition that
    :func:`make_forget_split` draws for ``seed`` and ``val_fraction``, so one original model (trained
    on everything but validation) serves every forget set of that seed; ``forget`` must avoid it.

    Raises:
        ValueError: ``forget`` empty, out of range, or overlapping the validation partition.
    """
    split = make_forget_split(labels, "index", forget=forget, seed=seed, val_fraction=val_fraction)
    return dataclasses.replace(split, kind=kind, description=description or split.description)


def attribute_forget_split(
    labels: np.ndarray,
    attribute: np.ndarray | Sequence,
    value: object,
    *,
    n_forget: int | None = None,
    seed: int = 0,
    val_fraction: float = 0.1,
) -> ForgetSplit:
    """Forget ``n_forget`` training samples whose ``attribute`` equals ``value`` (all of them if None).

    ``attribute_forget_split(y, meta["sex"], "F", n_forget=200)`` is the study's "only female" set;
    it is ``make_forget_split(y, "attribute", ...)`` after checking the value occurs at all.

    Raises:
        ValueError: no training sample has that value, or fewer than ``n_forget`` do.
    """
    attribute = np.asarray(attribute)
    if attribute.shape != (len(labels),):
        raise ValueError(f"attribute must have one value per training sample ({len(labels)}), got shape {attribute.shape}")
    if not np.any(attribute == value):
        raise ValueError(f"no training sample has attribute == {value!r} (values: {sorted(map(str, np.unique(attribute)))[:10]})")
    return make_forget_split(labels, "attribute", attribute=attribute, value=value, n_forget=n_forget, seed=seed, val_fraction=val_fraction)
