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
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..cache import CacheWarning
from ..utils import atomic_write
from ..utils import cache_dir as project_cache_dir
from .datasets import ArrayDataset

__all__ = ["COHORT_VERSION", "LABEL_NAMES", "Cohort", "label_dice", "simulate_cohort", "template_volumes"]

#: Bump when the simulation changes, so stale caches are never read.
COHORT_VERSION = 2
#: Per-subject metadata columns.
META_KEYS = ("subject", "sex", "age", "scanner")
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


def _template_stack() -> torch.Tensor:
    """Template channels (t1, gm, wm, csf, mask) at the template's own 2 mm grid: shape (1, 5, S, S, S).

    CSF is what the brain mask holds beyond grey and white matter (the template's maps are tissue
    probabilities, so ``csf = mask * max(0, 1 - gm - wm)``).
    """
    vols = template_volumes()
    csf = vols["mask"] * np.clip(1.0 - vols["gm"] - vols["wm"], 0.0, None)
    return torch.from_numpy(np.stack([vols["t1"], vols["gm"], vols["wm"], csf, vols["mask"]]))[None]


def _tissue_means(stack: torch.Tensor) -> torch.Tensor:
    """Mean template T1 intensity of CSF, GM and WM (probability-weighted), used to move intensity with atrophy."""
    t1 = stack[0, 0]
    return torch.stack([(t1 * stack[0, c]).sum() / stack[0, c].sum().clamp(min=1e-6) for c in (3, 1, 2)])


def _resample(x: torch.Tensor, size: int) -> torch.Tensor:
    """To ``size``^3: averaging when shrinking (so partial volume is real), trilinear when growing."""
    if x.shape[-1] == size:
        return x
    if x.shape[-1] > size:
        return F.adaptive_avg_pool3d(x, size)
    return F.interpolate(x, size=(size,) * 3, mode="trilinear", align_corners=False)


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


def _ventricle_centre(stack: torch.Tensor) -> torch.Tensor:
    """Centre of the template's deep CSF (lateral ventricles), in grid_sample coordinates (x, y, z)."""
    gm, wm, csf, mask = stack[0, 1], stack[0, 2], stack[0, 3], stack[0, 4]
    deep = (mask > 0.5) & (csf > torch.maximum(gm, wm))
    size = mask.shape[-1]
    idx = torch.nonzero(deep).float()
    # Deep CSF only: the half of CSF voxels nearest the brain's centre of mass.
    brain = torch.nonzero(mask > 0.5).float().mean(0)
    dist = (idx - brain).norm(dim=1)
    centre = idx[dist <= dist.median()].mean(0) if len(idx) > 4 else brain
    ijk = centre / (size - 1) * 2 - 1  # array index order (i, j, k) = (x, y, z) after the flip below
    return ijk.flip(0)  # grid_sample's last dim is (x=W=k, y=H=j, z=D=i)


@dataclass(frozen=True)
class Scanner:
    """One simulated scanner's acquisition: intensity response, noise and bias-field strength.

    ``gamma`` maps the template's T1 intensity ``t`` to ``t ** gamma`` (a monotone contrast change:
    larger gamma darkens CSF relative to white matter), ``noise`` is the Gaussian noise's standard
    deviation relative to the brightest tissue, ``bias`` the log-amplitude of the smooth bias field.
    """

    gamma: float
    noise: float
    bias: float


def scanners(seed: int, n: int = 3) -> list[Scanner]:
    """The cohort's ``n`` scanners (subject ``i`` is scanned on scanner ``i % n``), drawn from ``seed``."""
    rng = np.random.default_rng([seed, 10_007])
    return [Scanner(float(rng.uniform(1.3, 2.2)), float(rng.uniform(0.02, 0.05)), float(rng.uniform(0.08, 0.2))) for _ in range(n)]


def _simulate_subject(
    stack: torch.Tensor,
    means: torch.Tensor,
    centre: torch.Tensor,
    sex: str,
    age: float,
    scanner: Scanner,
    size: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Warp the template into one subject at 2 mm, age it, scan it, average down to ``size``^3: (image, labels)."""
    side = stack.shape[-1]
    lin = torch.linspace(-1, 1, side)
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
    disp = _smooth_field(rng, side, coarse=5, channels=3)[0].permute(1, 2, 3, 0) * 0.025
    pts = pts + disp
    warped = F.grid_sample(stack, pts[None], mode="bilinear", padding_mode="zeros", align_corners=True)
    t1, gm, wm, csf, mask = warped[0]

    # Cortical atrophy with age: grey matter next to CSF thins into CSF, and the T1 intensity moves
    # with it by the template's own GM - CSF contrast (tissue probabilities and intensity stay consistent).
    near_csf = F.avg_pool3d(csf[None, None], 5, stride=1, padding=2)[0, 0].clamp(0, 1)
    loss = (0.6 * max(age - 20.0, 0.0) / 65.0) * gm * near_csf
    gm, csf = gm - loss, csf + loss
    t1 = t1 - loss * (means[1] - means[0])

    # Average down to the study's grid: a voxel's intensity and tissue fractions are means over 2 mm voxels.
    t1, gm, wm, csf, mask = _resample(torch.stack([t1, gm, wm, csf, mask])[None], size)[0]
    tissue = torch.stack([csf, gm, wm]).argmax(0) + 1
    labels = torch.where(mask > 0.5, tissue, torch.zeros_like(tissue))

    # Scanning: the scanner's intensity response, a smooth bias field, noise, robust normalisation.
    image = (t1.clamp(min=0.0) / max(float(means.max()), 1e-6)) ** scanner.gamma
    image = image * torch.exp(scanner.bias * _smooth_field(rng, size, coarse=3, channels=1)[0, 0])
    image = image + scanner.noise * torch.from_numpy(rng.standard_normal(image.shape).astype(np.float32))
    lo, hi = np.percentile(image[mask > 0.5].numpy(), [0.5, 99.5])
    image = ((image - lo) / max(hi - lo, 1e-6)).clamp(0.0, 1.0)
    return image.numpy().astype(np.float32), labels.numpy().astype(np.int64)


def _cache_key(n_subjects: int, size: int, seed: int) -> str:
    return json.dumps({"v": COHORT_VERSION, "n": n_subjects, "size": size, "seed": seed}, sort_keys=True)


def _cache_path(cache_dir: Path, n_subjects: int, size: int, seed: int) -> Path:
    digest = hashlib.sha256(_cache_key(n_subjects, size, seed).encode()).hexdigest()[:16]
    return cache_dir / f"mni152_cohort_n{n_subjects}_s{size}_seed{seed}_{digest}.npz"


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over every array's name, dtype, shape and bytes: what a cached cohort must still hold."""
    h = hashlib.sha256()
    for name in sorted(k for k in arrays if k not in ("key", "checksum")):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _load_cached(path: Path, key: str) -> dict[str, np.ndarray] | None:
    """The cached cohort's arrays if the file is whole, was made for ``key`` (parameters and seed) and
    matches its checksum; else None, with a warning, and the cohort is simulated again. Why: a file is
    not trusted by its name (a cohort of another seed under this name was once used silently)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as err:  # truncated or not an npz: rebuilt, never a failed task
        warnings.warn(f"cohort cache {path} is unreadable ({type(err).__name__}: {err}); simulating it again", CacheWarning, stacklevel=3)
        return None
    recorded = str(arrays["key"]) if "key" in arrays else None
    if recorded != key or str(arrays.get("checksum", "")) != _checksum(arrays) or not {"images", "labels", *META_KEYS} <= set(arrays):
        why = "was made for other parameters" if recorded != key else "does not match its checksum"
        warnings.warn(f"cohort cache {path} {why}; simulating it again", CacheWarning, stacklevel=3)
        return None
    return arrays


def _save_atomic(path: Path, **arrays: np.ndarray) -> None:
    atomic_write(path, lambda tmp: np.savez_compressed(tmp, **arrays))


def simulate_cohort(n_subjects: int = 12, size: int = 64, seed: int = 0, cache_dir: str | None = None) -> Cohort:
    """Simulate (or load from the cache) a cohort of brain MRI subjects with CSF/GM/WM labels.

    Args:
        n_subjects: number of subjects (>= 1); subject ids are ``0 .. n_subjects - 1``.
        size: edge of the cubic volume in voxels (8 to 256); 64 is about 2.9 mm voxels.
        seed: cohort seed; subject ``i`` depends only on ``(seed, i)``.
        cache_dir: where to cache the cohort (default :func:`~unlearn_lib.utils.cache_dir`); the file name is a
            hash of every parameter, files are written atomically, and a cached file is used only if it
            records the same parameters and matches its checksum (else it is simulated again).

    Returns:
        A :class:`Cohort`.

    Raises:
        ValueError: a parameter out of range.
    """
    for name, value, low, high in (("n_subjects", n_subjects, 1, 10_000), ("size", size, 8, 256), ("seed", seed, 0, 2**63 - 1)):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")
    path = _cache_path(Path(cache_dir) if cache_dir is not None else project_cache_dir(), n_subjects, size, seed)
    key = _cache_key(n_subjects, size, seed)
    cached = _load_cached(path, key) if path.is_file() else None
    if cached is not None:
        return Cohort(torch.from_numpy(cached["images"]), torch.from_numpy(cached["labels"]), {k: cached[k] for k in META_KEYS})
    stack = _template_stack()
    means, centre = _tissue_means(stack), _ventricle_centre(stack)
    scans = scanners(seed)
    images, labels, sexes, ages = [], [], [], []
    for i in range(n_subjects):
        rng = np.random.default_rng([seed, i])
        sex = ("F", "M")[(i + seed) % 2]
        age = float(np.round(rng.uniform(20.0, 85.0), 1))
        img, lab = _simulate_subject(stack, means, centre, sex, age, scans[i % len(scans)], size, rng)
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
        "scanner": np.arange(n_subjects, dtype=np.int64) % len(scans),
    }
    _save_atomic(path, **arrays, key=np.asarray(key), checksum=np.asarray(_checksum(arrays)))
    return Cohort(
        torch.from_numpy(arrays["images"]),
        torch.from_numpy(arrays["labels"]),
        {k: arrays[k] for k in META_KEYS},
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
