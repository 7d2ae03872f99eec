"""Sample grids: what each GAN draws from the same latent codes, side by side."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import torch

__all__ = ["sample_grids"]


def _tile(images: torch.Tensor, ncols: int) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] -> one (H*rows, W*ncols, C) image with a 1-pixel gap."""
    n, c, h, w = images.shape
    rows = -(-n // ncols)
    canvas = torch.ones(c, rows * (h + 1) - 1, ncols * (w + 1) - 1)
    for i, img in enumerate(images):
        r, q = divmod(i, ncols)
        canvas[:, r * (h + 1) : r * (h + 1) + h, q * (w + 1) : q * (w + 1) + w] = img
    return canvas.permute(1, 2, 0)


def sample_grids(images: Mapping[str, torch.Tensor], ncols: int = 8, title: str | None = None) -> plt.Figure:
    """One panel per method (images in [0, 1], the same latent codes in every panel)."""
    if not images:
        raise ValueError("images must map at least one method to a batch of images")
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    n = max(len(b) for b in images.values())
    rows = -(-n // ncols)
    fig, axes = plt.subplots(1, len(images), figsize=(2.6 * len(images), 2.6 * rows / ncols + 0.5), squeeze=False)
    for ax, (name, batch) in zip(axes[0], images.items()):
        grid = _tile(batch.detach().cpu().float(), ncols)
        ax.imshow(grid.squeeze(-1) if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=1)
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, y=1.02)
    return fig
