"""What a model's layers compute on chosen inputs: per-layer activations, penultimate features, linear CKA.

Outputs and accuracy can match retrain's while the representation still encodes the forgotten data;
layer-wise similarity to the retrained model (linear CKA, Kornblith et al. 2019) shows where it does.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["layer_activations", "linear_cka", "linear_cka_gram", "penultimate_features"]

#: Layers whose outputs are compared: the ones that carry weights (convolutions, linear maps).
LAYER_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def _layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in model.named_modules() if isinstance(m, LAYER_TYPES)]


@torch.no_grad()
def layer_activations(
    model: nn.Module, x: torch.Tensor, device: torch.device | str = "cpu", batch_size: int = 256
) -> dict[str, np.ndarray]:
    """Every weighted layer's output (flattened per example), plus ``penultimate``: the input of the last
    linear layer. The model is put in eval mode and left there."""
    model = model.to(device).eval()
    layers = _layers(model)
    if not layers:
        raise ValueError("the model has no convolution or linear layer to compare")
    last_linear = next((m for _, m in reversed(layers) if isinstance(m, nn.Linear)), None)
    out: dict[str, list[np.ndarray]] = {name: [] for name, _ in layers}
    out["penultimate"] = []
    hooks = []
    for name, m in layers:

        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor, name: str = name) -> None:
            out[name].append(output.detach().flatten(1).float().cpu().numpy())
            if module is last_linear:
                out["penultimate"].append(inputs[0].detach().flatten(1).float().cpu().numpy())

        hooks.append(m.register_forward_hook(hook))
    try:
        for i in range(0, len(x), batch_size):
            model(x[i : i + batch_size].to(device))
    finally:
        for h in hooks:
            h.remove()
    return {k: np.concatenate(v) for k, v in out.items() if v}


def penultimate_features(model: nn.Module, x: torch.Tensor, device: torch.device | str = "cpu") -> np.ndarray:
    """The input of the model's last linear layer (its penultimate features) on ``x``."""
    acts = layer_activations(model, x, device)
    if "penultimate" not in acts:
        raise ValueError("the model has no linear layer: no penultimate features")
    return acts["penultimate"]


def _centred_gram(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    return x @ x.T


def linear_cka_gram(gx: np.ndarray, gy: np.ndarray) -> float:
    """Linear CKA from two centred Gram matrices of the same examples."""
    hsic = float((gx * gy).sum())
    norm = float(np.sqrt((gx * gx).sum() * (gy * gy).sum()))
    return hsic / norm if norm > 0 else float("nan")


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of two representations (examples × features) of the same examples: 1 when one is a
    rotation and scaling of the other, near 0 when unrelated."""
    if len(x) != len(y):
        raise ValueError(f"CKA compares the same examples: got {len(x)} and {len(y)} rows")
    return linear_cka_gram(_centred_gram(x), _centred_gram(y))
