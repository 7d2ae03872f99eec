"""CheXpert (Irvin et al., 2019): the CSV and its images as a binary task of one finding, with sex and age.

Read from the files the dataset ships (``train.csv`` / ``valid.csv`` and the JPEGs they list); nothing
is downloaded. Uncertain (-1) labels follow the paper's policies (U-Zeros, U-Ones, or dropped).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch

from .datasets import ArrayDataset

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CHEXPERT_FINDINGS", "UNCERTAIN_POLICIES", "load_chexpert"]

#: The 14 observation columns of CheXpert's CSV (Irvin et al., 2019).
CHEXPERT_FINDINGS = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)
#: What to do with CheXpert's uncertain (-1) labels: U-Zeros, U-Ones (Irvin et al.) or drop the row.
UNCERTAIN_POLICIES = ("zeros", "ones", "ignore")


_CHEXPERT_CSV = {"train": "train.csv", "valid": "valid.csv"}
_PATIENT = re.compile(r"patient(\d+)")


def _numeric_column(csv: Path, df: pd.DataFrame, col: str, expected: str) -> pd.Series:
    """``df[col]`` as floats (blank stays NaN); text such as "unknown" or "yes" is refused, naming rows."""
    import pandas as pd

    values = pd.to_numeric(df[col], errors="coerce")
    bad = df[col][values.isna() & df[col].notna()]
    if len(bad):
        rows = [int(i) + 2 for i in bad.index[:3]]  # +2: the header is line 1
        raise ValueError(f"{csv}: column {col!r} has {sorted(set(map(str, bad)))[:5]} on line(s) {rows}; expected {expected}")
    return values.astype(float)


def _chexpert_csv(root: Path, split: str) -> Path:
    for base in (root, root / "CheXpert-v1.0-small", root / "CheXpert-v1.0"):
        if (base / _CHEXPERT_CSV[split]).is_file():
            return base / _CHEXPERT_CSV[split]
    raise FileNotFoundError(f"CheXpert directory {root} has no {_CHEXPERT_CSV[split]} (looked in it and in CheXpert-v1.0-small/)")


def _chexpert_image(root: Path, csv_dir: Path, rel: str) -> Path:
    """CSV paths start with ``CheXpert-v1.0-small/``; accept a root above or at that directory."""
    rel_path = Path(rel)
    for candidate in (root / rel_path, csv_dir.parent / rel_path, csv_dir / Path(*rel_path.parts[1:])):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"CheXpert image {rel!r} listed in the CSV was not found under {root}")


def load_chexpert(
    root: str | os.PathLike,
    split: str = "train",
    *,
    target: str = "Pleural Effusion",
    uncertain: Literal["zeros", "ones", "ignore"] = "zeros",
    image_size: int = 64,
    frontal_only: bool = True,
    max_images: int | None = None,
    seed: int = 0,
) -> ArrayDataset:
    """Load CheXpert (or CheXpert-small) as a binary classification of one finding, with sex and age.

    Blank finding cells are negatives, as in the CheXpert paper. Uncertain (-1) labels follow
    ``uncertain``: ``"zeros"`` (U-Zeros), ``"ones"`` (U-Ones) or ``"ignore"`` (drop those studies).
    Images are read with PIL as greyscale and resized to ``image_size`` on load.

    Args:
        root: the directory holding ``train.csv`` / ``valid.csv``, or its parent.
        split: ``train`` or ``valid``.
        target: the finding column used as the label.
        uncertain: policy for -1 labels.
        image_size: square side after resizing.
        frontal_only: keep frontal views only (the column ``Frontal/Lateral`` if present).
        max_images: a seeded random subset of at most this many rows, drawn *before* images are read.
        seed: the subset.

    Returns:
        An :class:`ArrayDataset` with ``x`` (N, 1, image_size, image_size), ``y`` in {0, 1} and metadata
        ``subject`` (patient id), ``sex`` (``F`` / ``M`` / ``U``), ``age`` and ``path``.

    Raises:
        FileNotFoundError: the CSV or a listed image is missing (naming it).
        ValueError: a missing column, an unknown policy, or no rows left.
    """
    import pandas as pd
    from PIL import Image

    if split not in _CHEXPERT_CSV:
        raise ValueError(f"split must be one of {sorted(_CHEXPERT_CSV)}, got {split!r}")
    if uncertain not in UNCERTAIN_POLICIES:
        raise ValueError(f"uncertain must be one of {UNCERTAIN_POLICIES}, got {uncertain!r}")
    if not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"image_size must be an int >= 8, got {image_size!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"CheXpert directory {root} does not exist")
    csv = _chexpert_csv(root, split)
    try:
        df = pd.read_csv(csv)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{csv}: not a CheXpert CSV (a header with Path, Sex, Age and the findings, then one row per image): {err}"
        ) from None
    for col in ("Path", "Sex", "Age", target):
        if col not in df.columns:
            raise ValueError(f"{csv} has no column {col!r} (columns: {list(df.columns)})")
    if len(df) == 0:
        raise ValueError(f"{csv} has a header but no rows")
    df = df.assign(Age=_numeric_column(csv, df, "Age", "ages in years"))
    if (df["Age"] < 0).any():
        raise ValueError(f"{csv}: column 'Age' must hold ages >= 0, found {df['Age'].min():g}")
    df[target] = _numeric_column(csv, df, target, "1, 0, -1 or blank")
    if frontal_only and "Frontal/Lateral" in df.columns:
        df = df[df["Frontal/Lateral"].astype(str).str.lower() == "frontal"]
    labels = df[target].fillna(0.0).astype(float)
    if uncertain == "ignore":
        df, labels = df[labels != -1.0], labels[labels != -1.0]
    else:
        labels = labels.replace(-1.0, 1.0 if uncertain == "ones" else 0.0)
    bad = sorted(set(labels.unique()) - {0.0, 1.0})
    if bad:
        raise ValueError(f"{csv}: column {target!r} has values {bad}; expected 1, 0, -1 or blank")
    if max_images is not None:
        if not isinstance(max_images, int) or max_images < 1:
            raise ValueError(f"max_images must be a positive int, got {max_images!r}")
        if max_images < len(df):
            keep = np.sort(np.random.default_rng(seed).choice(len(df), size=max_images, replace=False))
            df, labels = df.iloc[keep], labels.iloc[keep]
    if len(df) == 0:
        raise ValueError(f"{csv}: no rows left for target {target!r} with uncertain={uncertain!r}")
    x = np.empty((len(df), 1, image_size, image_size), dtype=np.float32)
    for i, rel in enumerate(df["Path"].astype(str)):
        with Image.open(_chexpert_image(root, csv.parent, rel)) as img:
            small = img.convert("L").resize((image_size, image_size), Image.Resampling.BILINEAR)
        x[i, 0] = np.asarray(small, dtype=np.float32) / 255.0
    sex = df["Sex"].astype(str).map({"Female": "F", "Male": "M"}).fillna("U").to_numpy()
    subject = np.asarray([m.group(0) if (m := _PATIENT.search(p)) else p for p in df["Path"].astype(str)])
    meta = {"subject": subject, "sex": sex, "age": df["Age"].astype(float).to_numpy(), "path": df["Path"].astype(str).to_numpy()}
    y = torch.from_numpy(labels.to_numpy().astype(np.int64))
    return ArrayDataset(torch.from_numpy(x), y, meta, name=f"chexpert-{split}-{target.lower().replace(' ', '_')}", num_classes=2)
