"""MRBrainS18 (https://mrbrains18.isi.uu.nl) from a directory in its on-disk layout, through MONAI.

Layout (the training release, 7 labelled subjects)::

    ROOT/training/<id>/pre/T1.nii.gz        T1
    ROOT/training/<id>/pre/reg_IR.nii.gz    T1-weighted inversion recovery, registered to the FLAIR
    ROOT/training/<id>/pre/FLAIR.nii.gz     T2-FLAIR
    ROOT/training/<id>/segm.nii.gz          labels 0-10

Labels: 1 cortical grey matter, 2 basal ganglia, 3 white matter, 4 white-matter lesions,
5 cerebrospinal fluid in the extracerebral space, 6 ventricles, 7 cerebellum, 8 brain stem,
9 infarction, 10 other. Merging:

* ``"structures"``: the 8 structures kept as 1-8, 9 and 10 to background (9 classes).
* ``"tissues"``: CSF = {5, 6}, GM = {1, 2}, WM = {3, 4}; cerebellum, brain stem, infarction and other
  to background (as in MRBrainS13's three-tissue evaluation) - 4 classes in the order of the
  simulated cohort (background, CSF, GM, WM), so models and notebooks swap one for the other.

The data cannot be downloaded here (registration required); bring it and point ``root`` at it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from .datasets import ArrayDataset

__all__ = ["MRBRAINS_CHANNELS", "MRBRAINS_LABEL_NAMES", "MRBRAINS_MERGES", "load_mrbrains18", "mrbrains_label_map"]

#: Channel name -> file under ``pre/``.
MRBRAINS_CHANNELS = {"T1": "T1.nii.gz", "IR": "reg_IR.nii.gz", "FLAIR": "FLAIR.nii.gz"}
MRBRAINS_LABEL_NAMES = {
    "structures": (
        "background",
        "cortical GM",
        "basal ganglia",
        "WM",
        "WM lesions",
        "CSF",
        "ventricles",
        "cerebellum",
        "brain stem",
    ),
    "tissues": ("background", "CSF", "GM", "WM"),
}
MRBRAINS_MERGES = tuple(MRBRAINS_LABEL_NAMES)


def mrbrains_label_map(merge: Literal["structures", "tissues"]) -> np.ndarray:
    """Lookup table ``new = table[old]`` for the original labels 0-10."""
    if merge == "structures":
        return np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0], dtype=np.int64)
    if merge == "tissues":
        #               0  1  2  3  4  5  6  7  8  9  10
        return np.array([0, 2, 2, 3, 3, 1, 1, 0, 0, 0, 0], dtype=np.int64)
    raise ValueError(f"merge must be one of {MRBRAINS_MERGES}, got {merge!r}")


def _nifti_shape(path: Path) -> tuple[int, ...]:
    """The voxel grid in ``path``'s header; a file that is not NIfTI (or is truncated) is refused by name."""
    import nibabel as nib

    try:
        img = nib.load(str(path))
        shape = tuple(int(n) for n in img.shape)
        if path.suffix == ".gz":  # a truncated or corrupt gzip shows only when the voxels are read
            np.asarray(img.dataobj[(slice(None),) * (len(shape) - 1) + (slice(-1, None),)])
    except Exception as err:  # nibabel raises many types (ImageFileError, EOFError, zlib.error, OSError)
        raise ValueError(f"{path}: not a readable NIfTI volume ({type(err).__name__}: {err})") from None
    return shape


def _check_grids(rec: dict[str, Path]) -> None:
    """Every file of one subject is a 3-D volume on one grid: a 2-D slice, a 4-D series or a label grid
    other than the image grid would otherwise be resized into something that only looks right."""
    shapes = {key: _nifti_shape(path) for key, path in rec.items()}
    for key, shape in shapes.items():
        if len(shape) != 3:
            raise ValueError(f"{rec[key]}: expected a 3-D volume (D, H, W), got a {len(shape)}-D array of shape {shape}")
    first = next(iter(shapes))
    for key, shape in shapes.items():
        if shape != shapes[first]:
            raise ValueError(
                f"{rec[key]}: grid {shape} differs from {rec[first].name}'s {shapes[first]}; every file of a subject must share it"
            )


def _subject_id(name: str) -> int | str:
    return int(name) if name.isdigit() else name


def load_mrbrains18(
    root: str | os.PathLike,
    channels: Sequence[str] = ("T1", "IR", "FLAIR"),
    merge: Literal["structures", "tissues"] = "tissues",
    size: int | Sequence[int] | None = 64,
    pixdim: Sequence[float] | None = None,
    subjects: Sequence[str] | None = None,
) -> ArrayDataset:
    """Load MRBrainS18 training subjects as an :class:`ArrayDataset` (one volume per subject).

    MONAI pipeline: ``LoadImaged`` -> ``EnsureChannelFirstd`` -> optional ``Spacingd`` (``pixdim``) ->
    ``Resized`` (``size``; labels nearest-neighbour) -> ``ScaleIntensityd`` (each channel to [0, 1]) ->
    ``ConcatItemsd`` (channels stacked), then the label table of ``merge``.

    Args:
        root: the directory that holds ``training/``.
        channels: any of ``"T1"``, ``"IR"``, ``"FLAIR"`` in the order wanted.
        merge: ``"tissues"`` (background/CSF/GM/WM) or ``"structures"`` (the 8 structures).
        size: cubic edge or (D, H, W) to resize to; ``None`` keeps the native grid (all subjects
            must then share it).
        pixdim: resample to this voxel spacing (mm) first; ``None`` keeps the native ~0.96x0.96x3 mm.
        subjects: subject directory names to load (default: every one under ``training/``).

    Raises:
        FileNotFoundError: ``root/training`` or any expected file is missing (the path is named).
        ValueError: an unknown channel or merge, an empty channel list, or a bad size; a file that is
            not a readable NIfTI, not 3-D, or on another grid than the subject's other files (named).
    """
    channels = list(channels)
    unknown = [c for c in channels if c not in MRBRAINS_CHANNELS]
    if not channels or unknown:
        raise ValueError(f"channels must be a non-empty subset of {list(MRBRAINS_CHANNELS)}, got {channels}")
    table = mrbrains_label_map(merge)
    if size is not None:
        spatial = (size,) * 3 if isinstance(size, int) else tuple(size)
        if len(spatial) != 3 or not all(isinstance(s, int) and s > 0 for s in spatial):
            raise ValueError(f"size must be a positive int or three positive ints, got {size!r}")
    train_dir = Path(root) / "training"
    if not train_dir.is_dir():
        raise FileNotFoundError(f"MRBrainS18 training directory not found: {train_dir} (expected ROOT/training/<id>/...)")
    names = sorted((p.name for p in train_dir.iterdir() if p.is_dir()), key=lambda n: (not n.isdigit(), int(n) if n.isdigit() else 0, n))
    if subjects is not None:
        names = [str(s) for s in subjects]
    if not names:
        raise FileNotFoundError(f"no subject directories under {train_dir}")
    records = []
    for name in names:
        rec = {c: train_dir / name / "pre" / MRBRAINS_CHANNELS[c] for c in channels}
        rec["label"] = train_dir / name / "segm.nii.gz"
        for path in rec.values():
            if not path.is_file():
                raise FileNotFoundError(f"MRBrainS18 file missing: {path}")
        _check_grids(rec)
        records.append({k: str(v) for k, v in rec.items()})

    from monai import transforms as mt

    steps: list = [mt.LoadImaged(keys=[*channels, "label"], image_only=True), mt.EnsureChannelFirstd(keys=[*channels, "label"])]
    if pixdim is not None:
        steps.append(mt.Spacingd(keys=[*channels, "label"], pixdim=tuple(pixdim), mode=["bilinear"] * len(channels) + ["nearest"]))
    if size is not None:
        steps.append(mt.Resized(keys=[*channels, "label"], spatial_size=spatial, mode=["trilinear"] * len(channels) + ["nearest"]))
    steps += [mt.ScaleIntensityd(keys=channels, minv=0.0, maxv=1.0), mt.ConcatItemsd(keys=channels, name="image")]
    pipeline = mt.Compose(steps)

    images, labels = [], []
    for rec in records:
        out = pipeline(rec)
        images.append(torch.as_tensor(np.asarray(out["image"]), dtype=torch.float32))
        raw = np.rint(np.asarray(out["label"])[0]).astype(np.int64)
        if raw.min() < 0 or raw.max() > 10:
            raise ValueError(f"{rec['label']}: labels must be in 0-10, found {raw.min()}..{raw.max()}")
        labels.append(torch.from_numpy(table[raw]))
    shapes = {tuple(t.shape) for t in images}
    if len(shapes) > 1:
        raise ValueError(f"subjects have different grids {sorted(shapes)}: pass size= to resize them")
    meta = {"subject": np.array([_subject_id(n) for n in names])}
    return ArrayDataset(torch.stack(images), torch.stack(labels), meta, "mrbrains18", len(MRBRAINS_LABEL_NAMES[merge]))
