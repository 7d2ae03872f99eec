"""3D patches of labelled volumes: random foreground/background crops for training, tiles for a full pass.

Why patches: a 3D segmenter on a CPU learns from many small crops far faster than from a few whole
volumes (more optimizer steps per second, crops balanced between tissue and background), and an
unlearning "epoch" needs a definition that costs the same for every method. The random crops are
MONAI's ``RandCropByPosNegLabeld`` (centres on foreground or background voxels with the given odds);
the tiles cut each volume into a regular grid (MONAI's ``GridPatch``), so one pass over the tiles is one
pass over the whole subject.
"""

from __future__ import annotations

import numpy as np
import torch

from .datasets import ArrayDataset

__all__ = ["random_patches", "tile_patches"]


def _check(dataset: ArrayDataset, size: int, what: str) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 4:
        raise ValueError(f"{what} patch size must be an int >= 4, got {size!r}")
    if dataset.x.ndim != 5 or dataset.y.ndim != 4:
        raise ValueError(
            f"{what} patches need volumes x (N, C, D, H, W) and labels y (N, D, H, W); got {tuple(dataset.x.shape)} and {tuple(dataset.y.shape)}"
        )
    if len(dataset) == 0:
        raise ValueError(f"{what} patches: the dataset {dataset.name!r} is empty")
    small = [s for s in dataset.x.shape[2:] if s < size]
    if small:
        raise ValueError(f"{what} patch size {size} exceeds the volume's shape {tuple(dataset.x.shape[2:])}")


def _meta_rows(dataset: ArrayDataset, rows: list[int]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v)[rows] for k, v in dataset.meta.items()}


def random_patches(dataset: ArrayDataset, size: int, per_volume: int, seed: int, pos: float = 1.0, neg: float = 1.0) -> ArrayDataset:
    """``per_volume`` random crops of edge ``size`` from each volume, centred on foreground (label > 0)
    with odds ``pos : neg``; metadata rows follow their volume. Same ``seed``, same crops."""
    from monai.transforms import RandCropByPosNegLabeld

    _check(dataset, size, "random")
    if not isinstance(per_volume, int) or isinstance(per_volume, bool) or per_volume < 1:
        raise ValueError(f"per_volume must be an int >= 1, got {per_volume!r}")
    crop = RandCropByPosNegLabeld(
        keys=("image", "label"), label_key="label", spatial_size=(size,) * 3, pos=pos, neg=neg, num_samples=per_volume, allow_smaller=False
    )
    crop.set_random_state(seed=int(seed) % (2**32))
    xs, ys, rows = [], [], []
    for i in range(len(dataset)):
        for out in crop({"image": dataset.x[i], "label": dataset.y[i][None]}):
            xs.append(torch.as_tensor(out["image"]).as_subclass(torch.Tensor))
            ys.append(torch.as_tensor(out["label"]).as_subclass(torch.Tensor)[0].long())
            rows.append(i)
    return ArrayDataset(torch.stack(xs), torch.stack(ys), _meta_rows(dataset, rows), f"{dataset.name} patches", dataset.num_classes)


def tile_patches(dataset: ArrayDataset, size: int, keep_background: bool = False) -> ArrayDataset:
    """Every volume cut into a regular grid of ``size``^3 tiles (zero-padded at the far edges); tiles with
    no foreground voxel are dropped unless ``keep_background``. Metadata rows follow their volume."""
    from monai.transforms import GridPatch

    _check(dataset, size, "tile")
    grid = GridPatch(patch_size=(size,) * 3, pad_mode="constant")
    xs, ys, rows = [], [], []
    for i in range(len(dataset)):
        img = grid(dataset.x[i])
        lab = grid(dataset.y[i][None].float())
        for x, y in zip(img, lab, strict=True):
            y = torch.as_tensor(y).as_subclass(torch.Tensor)[0].round().long()
            if keep_background or bool((y > 0).any()):
                xs.append(torch.as_tensor(x).as_subclass(torch.Tensor))
                ys.append(y)
                rows.append(i)
    if not xs:
        raise ValueError(f"no tile of {dataset.name!r} holds a foreground voxel")
    return ArrayDataset(torch.stack(xs), torch.stack(ys), _meta_rows(dataset, rows), f"{dataset.name} tiles", dataset.num_classes)
