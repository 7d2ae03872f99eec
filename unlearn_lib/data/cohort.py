"""A simulated multi-subject brain MRI cohort built from real anatomy (the MNI152 template).

No real multi-subject MRI data can be downloaded here, but nilearn ships the MNI152 2009 T1 template
with its grey-matter, white-matter and brain-mask maps. Each simulated subject is that anatomy under
its own seeded transformation, shaped by its metadata:

* **Labels** (0 background, 1 CSF, 2 GM, 3 WM): inside the (warped) brain mask, the arg-max of
  ``(CSF, GM, WM)`` with ``CSF = max(0, 1 - GM - WM) + atrophy(age)`` (the template's GM/WM maps are
  tissue probabilities; whatever is neither is CSF). Outside the mask: background.
* **Head size by sex**: an isotropic scale of about 0.93 (F) or 1.0 (M), jittered per subject and per
  axis, plus a small rotation and shift.
* **Ageing** (20 to 85 years): a radial expansion centred near the lateral ventricles (ventricle
  enlargement) and a CSF bias that turns thin grey matter into sulcal CSF (cortical atrophy), both
  growing with age.
* **Elastic deformation**: a smooth random displacement field (coarse noise, trilinearly upsampled).
* **Image**: the warped T1 blended with a per-subject tissue-contrast image (so atrophied tissue looks
  like CSF), a multiplicative smooth bias field, a gamma contrast change and Gaussian noise, then
  normalised to [0, 1] by the 0.5/99.5 percentiles inside the head.

Subject ``i`` depends only on ``(seed, i)``, so a cohort of 4 subjects is the first 4 of a cohort of
12. Sexes alternate (balanced for any ``n_subjects >= 2``). The cohort is cached on disk keyed by
every parameter and by :data:`COHORT_VERSION`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..utils import atomic_write, cache_dir
from .datasets import ArrayDataset

__all__ = ["COHORT_VERSION", "LABEL_NAMES", "Cohort", "default_cache_dir", "label_dice", "simulate_cohort", "template_volumes"]

#: Bump when the simulation changes, so stale caches are never read.
COHORT_VERSION = 1
LABEL_NAMES = ("background", "CSF", "GM", "WM")
_MARGIN = 3  # voxels (2 mm) of background kept around the brain's bounding box


@dataclass
class Cohort:
    """Images, labels and metadata of a simulated cohort (one volume per subject).

    Attributes:
        images: float32 (N, 1, S, S, S), intensity-normalised to [0, 1].
        labels: int64 (N, S, S, S) in {0: background, 1: CSF, 2: GM, 3: WM}.
        meta: ``{"subject": int ids, "sex": "F"/"M", "age": float years}`` as NumPy arrays.
        label_names: names of the label values, in order.
    """

    images: torch.Tensor
    labels: torch.Tensor
    meta: dict[str, np.ndarray]
    label_names: tuple[str, ...] = LABEL_NAMES

    def __len__(self) -> int:
        return len(self.images)

    def to_dataset(self, name: str = "mni152_cohort") -> ArrayDataset:
        """The cohort as an :class:`ArrayDataset` (x=images, y=labels, metadata, 4 classes)."""
        return ArrayDataset(self.images, self.labels, {k: np.asarray(v) for k, v in self.meta.items()}, name, len(self.label_names))


def default_cache_dir() -> Path:
    """Where simulated cohorts are cached: the project's one cache directory."""
    return cache_dir()


def template_volumes() -> dict[str, np.ndarray]:
    """The MNI152 2009 template at 2 mm (shipped with nilearn, no download), cropped around the brain.

    Returns float32 arrays ``t1``, ``gm``, ``wm``, ``mask`` of one cubic shape: the brain's bounding
    box plus a margin, zero-padded to a cube so that an isotropic resampling keeps proportions.
    """
    from nilearn import datasets

    vols = {
        "t1": datasets.load_mni152_template(resolution=2),
        "gm": datasets.load_mni152_gm_template(resolution=2),
        "wm": datasets.load_mni152_wm_template(resolution=2),
        "mask": datasets.load_mni152_brain_mask(resolution=2),
    }
    arrays = {k: np.clip(np.asarray(v.get_fdata(), dtype=np.float32), 0.0, None) for k, v in vols.items()}
    inside = np.argwhere(arrays["mask"] > 0.5)
    lo = np.maximum(inside.min(0) - _MARGIN, 0)
    hi = inside.max(0) + 1 + _MARGIN
    side = int((hi - lo).max())
    out = {}
    for key, a in arrays.items():
        crop = a[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        pad = [((side - s) // 2, side - s - (side - s) // 2) for s in crop.shape]
        out[key] = np.pad(crop, pad)
    return out


def _base_at_size(size: int) -> torch.Tensor:
    """Template channels (t1, gm, wm, mask) resampled to ``size``^3: shape (1, 4, S, S, S)."""
    vols = template_volumes()
    stack = torch.from_numpy(np.stack([vols["t1"], vols["gm"], vols["wm"], vols["mask"]]))[None]
    if stack.shape[-1] >= size:  # downsampling: average, so thin structures are not aliased away
        return F.adaptive_avg_pool3d(stack, size)
    return F.interpolate(stack, size=(size,) * 3, mode="trilinear", align_corners=False)


def _smooth_field(rng: np.random.Generator, size: int, coarse: int, channels: int) -> torch.Tensor:
    """Random smooth field: coarse^3 Gaussian noise, trilinearly upsampled to size^3 -> (1, C, S, S, S)."""
    noise = torch.from_numpy(rng.standard_normal((1, channels, coarse, coarse, coarse)).astype(np.float32))
    return F.interpolate(noise, size=(size,) * 3, mode="trilinear", align_corners=True)


def _rotation(angles: np.ndarray) -> np.ndarray:
    ax, ay, az = angles
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _ventricle_centre(base: torch.Tensor) -> torch.Tensor:
    """Centre of the template's deep CSF (lateral ventricles), in grid_sample coordinates (x, y, z)."""
    gm, wm, mask = base[0, 1], base[0, 2], base[0, 3]
    csf = (mask > 0.5) & ((1 - gm - wm) > torch.maximum(gm, wm))
    size = mask.shape[-1]
    idx = torch.nonzero(csf).float()
    # Deep CSF only: the half of CSF voxels nearest the brain's centre of mass.
    brain = torch.nonzero(mask > 0.5).float().mean(0)
    dist = (idx - brain).norm(dim=1)
    centre = idx[dist <= dist.median()].mean(0) if len(idx) > 4 else brain
    ijk = centre / (size - 1) * 2 - 1  # array index order (i, j, k) = (x, y, z) after the flip below
    return ijk.flip(0)  # grid_sample's last dim is (x=W=k, y=H=j, z=D=i)


def _simulate_subject(
    base: torch.Tensor, centre: torch.Tensor, sex: str, age: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Warp the template into one subject and synthesise its image; returns (image, labels) as arrays."""
    size = base.shape[-1]
    lin = torch.linspace(-1, 1, size)
    zz, yy, xx = torch.meshgrid(lin, lin, lin, indexing="ij")
    grid = torch.stack([xx, yy, zz], dim=-1)  # (S, S, S, 3) in grid_sample's (x, y, z) order

    # Head size by sex, jittered per axis; a small rotation and shift. Sampling at p / scale enlarges.
    scale = (0.93 if sex == "F" else 1.0) * rng.uniform(0.96, 1.04) * rng.uniform(0.97, 1.03, size=3)
    rot = torch.from_numpy(_rotation(np.deg2rad(rng.uniform(-6, 6, size=3)))).float()
    shift = torch.from_numpy(rng.uniform(-0.04, 0.04, size=3)).float()
    pts = (grid @ rot.T) / torch.from_numpy(scale).float() + shift

    # Ventricle enlargement with age: radial magnification around the deep CSF, fading with distance.
    strength = 0.45 * max(age - 20.0, 0.0) / 65.0
    d = pts - centre
    falloff = torch.exp(-(d**2).sum(-1, keepdim=True) / (2 * 0.18**2))
    pts = centre + d * (1.0 - strength * falloff)

    # Elastic deformation: a smooth random displacement (about 2-3 % of the field of view).
    disp = _smooth_field(rng, size, coarse=5, channels=3)[0].permute(1, 2, 3, 0) * 0.025
    pts = pts + disp

    warped = F.grid_sample(base, pts[None], mode="bilinear", padding_mode="zeros", align_corners=True)[0]
    t1, gm, wm, mask = warped[0], warped[1], warped[2], warped[3]

    # Labels: arg-max of (CSF, GM, WM) inside the mask; ageing biases thin grey matter toward CSF.
    atrophy = 0.25 * max(age - 20.0, 0.0) / 65.0
    csf = (1.0 - gm - wm).clamp(min=0.0) + atrophy
    tissue = torch.stack([csf, gm, wm]).argmax(0) + 1
    labels = torch.where(mask > 0.5, tissue, torch.zeros_like(tissue))

    # Image: T1 blended with a per-subject tissue-contrast image (so relabelled voxels look like CSF).
    means = np.array([0.0, 0.25, 0.55, 0.85]) + np.concatenate([[0.0], rng.uniform(-0.05, 0.05, size=3)])
    contrast = torch.from_numpy(means).float()[labels]
    image = 0.5 * t1 / max(float(base[0, 0].max()), 1e-6) + 0.5 * contrast
    image = image * (mask > 0.05).float() + 0.02 * (mask <= 0.05).float() * image
    bias = torch.exp(0.12 * _smooth_field(rng, size, coarse=3, channels=1)[0, 0])
    image = image * bias
    image = image.clamp(min=0.0) ** float(rng.uniform(0.8, 1.25))
    image = image + float(rng.uniform(0.01, 0.04)) * torch.from_numpy(rng.standard_normal(image.shape).astype(np.float32))
    head = mask > 0.05
    lo, hi = np.percentile(image[head].numpy(), [0.5, 99.5])
    image = ((image - lo) / max(hi - lo, 1e-6)).clamp(0.0, 1.0)
    return image.numpy().astype(np.float32), labels.numpy().astype(np.int64)


def _cache_path(cache_dir: Path, n_subjects: int, size: int, seed: int) -> Path:
    key = json.dumps({"v": COHORT_VERSION, "n": n_subjects, "size": size, "seed": seed}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir / f"mni152_cohort_n{n_subjects}_s{size}_seed{seed}_{digest}.npz"


def _save_atomic(path: Path, **arrays: np.ndarray) -> None:
    atomic_write(path, lambda tmp: np.savez_compressed(tmp, **arrays))


def simulate_cohort(n_subjects: int = 12, size: int = 64, seed: int = 0, cache_dir: str | None = None) -> Cohort:
    """Simulate (or load from the cache) a cohort of brain MRI subjects with CSF/GM/WM labels.

    Args:
        n_subjects: number of subjects (>= 1); subject ids are ``0 .. n_subjects - 1``.
        size: edge of the cubic volume in voxels (8 to 256); 64 is about 2.9 mm voxels.
        seed: cohort seed; subject ``i`` depends only on ``(seed, i)``.
        cache_dir: where to cache the cohort (default :func:`default_cache_dir`); the file name is a
            hash of every parameter, and files are written atomically.

    Returns:
        A :class:`Cohort`.

    Raises:
        ValueError: a parameter out of range.
    """
    for name, value, low, high in (("n_subjects", n_subjects, 1, 10_000), ("size", size, 8, 256), ("seed", seed, 0, 2**63 - 1)):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")
    path = _cache_path(Path(cache_dir) if cache_dir is not None else default_cache_dir(), n_subjects, size, seed)
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return Cohort(
                torch.from_numpy(z["images"]),
                torch.from_numpy(z["labels"]),
                {"subject": z["subject"], "sex": z["sex"], "age": z["age"]},
            )
    base = _base_at_size(size)
    centre = _ventricle_centre(base)
    images, labels, sexes, ages = [], [], [], []
    for i in range(n_subjects):
        rng = np.random.default_rng([seed, i])
        sex = ("F", "M")[(i + seed) % 2]
        age = float(np.round(rng.uniform(20.0, 85.0), 1))
        img, lab = _simulate_subject(base, centre, sex, age, rng)
        images.append(img)
        labels.append(lab)
        sexes.append(sex)
        ages.append(age)
    arrays = {
        "images": np.stack(images)[:, None].astype(np.float32),
        "labels": np.stack(labels).astype(np.int64),
        "subject": np.arange(n_subjects, dtype=np.int64),
        "sex": np.asarray(sexes),
        "age": np.asarray(ages, dtype=np.float64),
    }
    _save_atomic(path, **arrays)
    return Cohort(
        torch.from_numpy(arrays["images"]),
        torch.from_numpy(arrays["labels"]),
        {"subject": arrays["subject"], "sex": arrays["sex"], "age": arrays["age"]},
    )


def label_dice(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, labels: tuple[int, ...] = (1, 2, 3)) -> float:
    """Mean Dice over ``labels`` between two label maps (how different two subjects' anatomies are)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"label maps must have the same shape, got {a.shape} and {b.shape}")
    scores = []
    for k in labels:
        x, y = a == k, b == k
        denom = x.sum() + y.sum()
        scores.append(1.0 if denom == 0 else 2.0 * np.logical_and(x, y).sum() / denom)
    return float(np.mean(scores))
