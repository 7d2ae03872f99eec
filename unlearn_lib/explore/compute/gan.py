"""The GAN view's numbers: per-method table, sample grids, request names and nearest-neighbour checks.

Its own module because GAN runs keep sample grids and forgotten images (``arrays.npz``) and name their
requests differently from the classifier studies; it is the only part of the explorer that needs torch.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from .load import Missing

__all__ = [
    "gan_grid_figure",
    "gan_item_images",
    "gan_request",
    "gan_samples",
    "gan_table",
    "is_class_request",
    "nearest_figure",
    "nearest_frame",
    "request_classes",
]


def gan_table(df: pd.DataFrame, scenario: str, size: float | None = None) -> pd.DataFrame:
    """Per method: forgotten-class share (class requests) or nearest-neighbour ratio (item requests: below 1,
    its samples sit nearer the forgotten images than held-out ones), FID of its samples, and its wall time."""
    sel = df[df.scenario == scenario]
    if size is not None and "forget_size" in sel:
        sel = sel[sel.forget_size == size]
    wanted = {("generated", "forgotten_class_share"), ("forget", "nn_distance_ratio"), ("generated", "classifier_fid"), ("all", "seconds")}
    sel = sel[[(s, m) in wanted for s, m in zip(sel.split, sel.metric)]]
    if sel.empty:
        raise Missing(f"no forgotten-class share, nearest-neighbour ratio, FID or wall time in GAN scenario {scenario!r}")
    return sel.pivot_table(index="method", columns="metric", values="value", aggfunc="mean", sort=False)


def gan_samples(arrays: dict[str, np.ndarray], key: str) -> dict[str, np.ndarray]:
    """Every method's samples under ``samples/<key>/`` (same latent codes), by method."""
    prefix = f"samples/{key}/"
    out = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix) and "/" not in k[len(prefix) :]}
    if not out:
        raise Missing(f"no samples under {prefix} in arrays.npz")
    return out


def gan_grid_figure(samples: dict[str, np.ndarray], n: int = 16) -> plt.Figure:
    """One row per method of its first ``n`` samples: the same latent code in every column."""
    methods = list(samples)
    fig, axes = plt.subplots(len(methods), 1, figsize=(0.55 * n + 1.5, 0.75 * len(methods) + 0.3), squeeze=False)
    for ax, m in zip(axes[:, 0], methods):
        imgs = samples[m][:n, 0]
        ax.imshow(np.concatenate(list(imgs), axis=1), cmap="gray", vmin=0, vmax=255)
        ax.set_yticks([])
        ax.set_xticks([])
        ax.set_ylabel(m, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    return fig


def gan_request(key: str) -> tuple[str, float | None, int | None]:
    """(scenario, forget size, seed) of a samples key: ``items_64/64/seed0`` (current runs), ``items/16`` or
    ``class`` (older runs, which kept no seed)."""
    parts = key.split("/")
    seed = next((int(p[4:]) for p in parts[1:] if p.startswith("seed") and p[4:].isdigit()), None)
    size = next((float(p) for p in parts[1:] if p.replace(".", "", 1).isdigit()), None)
    return parts[0], size, seed


def is_class_request(scenario: str) -> bool:
    """A class request (``class``, ``class_7``, ``class_3+8``) rather than an item request."""
    return scenario == "class" or scenario.startswith("class_")


def request_classes(scenario: str, default: int | None = None) -> list[int]:
    """The digits a class request forgot, from its name (``class_3+8``), else ``default`` (older runs' ``class``)."""
    name = scenario.partition("_")[2]
    if name and all(p.isdigit() for p in name.split("+")):
        return [int(p) for p in name.split("+")]
    return [] if default is None else [int(default)]


def gan_item_images(arrays: dict[str, np.ndarray], key: str) -> tuple[np.ndarray, np.ndarray]:
    """The forgotten images of an item request and the held-out images its nearest-neighbour ratio uses."""
    forgotten, heldout = arrays.get(f"forgotten/{key}"), arrays.get(f"heldout/{key}")
    if forgotten is None or heldout is None:
        raise Missing(
            f"nearest neighbours need the forgotten images: request {key!r} forgot items this run did not save "
            "(runs of the current notebook 05 keep them; pick a class request)"
        )
    return forgotten, heldout


def _unit(images: np.ndarray) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    return x / 255.0 if images.dtype == np.uint8 or float(x.max()) > 1.5 else x


def nearest_frame(samples: np.ndarray, forgotten: np.ndarray, heldout: np.ndarray | None = None) -> pd.DataFrame:
    """Per sample: the pixel distance (images in [0, 1]) to its nearest forgotten image and, when given, to its
    nearest held-out image, with both indices; ``closer to forgotten`` is where a sample sits nearer what was forgotten."""
    from ...metrics.gan import nearest_neighbours

    s = _unit(samples)
    d_f, i_f = nearest_neighbours(_unit(forgotten), s)
    frame = pd.DataFrame({"to forgotten": d_f, "forgotten index": i_f})
    if heldout is not None:
        d_h, i_h = nearest_neighbours(_unit(heldout), s)
        frame["to held-out"], frame["held-out index"] = d_h, i_h
        frame["closer to forgotten"] = d_f < d_h
    return frame


def nearest_figure(samples: np.ndarray, forgotten: np.ndarray, n: int = 8, heldout: np.ndarray | None = None) -> plt.Figure:
    """Each of the first ``n`` samples (top) above its nearest forgotten image in pixel space and, when given,
    its nearest held-out image, each with its distance: a sample that copies a forgotten image sits much
    closer to it than to anything held out."""
    n = min(n, len(samples))
    frame = nearest_frame(samples[:n], forgotten, heldout)
    s, f = _unit(samples[:n]).numpy(), _unit(forgotten).numpy()
    rows = [("sample", s, None, None), ("nearest forgotten", f, frame["forgotten index"], frame["to forgotten"])]
    if heldout is not None:
        rows.append(("nearest held-out", _unit(heldout).numpy(), frame["held-out index"], frame["to held-out"]))
    fig, axes = plt.subplots(len(rows), n, figsize=(1.1 * n + 1.2, 1.3 * len(rows)), squeeze=False)
    for r, (name, pool, index, dist) in enumerate(rows):
        for i in range(n):
            ax = axes[r, i]
            ax.imshow(pool[i if index is None else int(index.iloc[i]), 0], cmap="gray", vmin=0, vmax=1)
            if dist is not None:
                ax.set_title(f"{dist.iloc[i]:.1f}", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    return fig
