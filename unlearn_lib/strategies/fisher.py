"""Fisher forgetting (Golatkar et al., CVPR 2020, "Eternal Sunshine of the Spotless Net").

One shot, no gradient steps: add Gaussian noise to every weight with variance ``alpha / F_r``, where
``F_r`` is the diagonal Fisher information of the retain set. Weights the retain set needs (large
``F_r``) barely move; weights it does not need, among them those that carried D_f, are scrambled.
As in the authors' code: the variance is clamped at 1e3 (1e2 for the output layer), scaled by alpha
(1e-6), averaged over the input (second) dimension for matrices and kernels, and then multiplied by 10
for the output layer and for every vector (biases, norm layers). For class forgetting the output
layer takes a class-specific step: the rows of every class the retain set no longer holds get mean 0
and variance 1e-4 (before the x10), which removes that class's logit whatever the Fisher says.
The output layer is, as there, every parameter whose first dimension is the number of classes.

The Fisher is the true (model-sampled) Fisher from per-example gradients (``torch.func``): labels are
drawn from the model's own predictive distribution, ``samples`` draws per example, which is an
unbiased estimate of the authors' exact sum over classes and works unchanged for voxel-wise outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from ..data.datasets import ArrayDataset
from ..utils import progress
from .base import Strategy, StrategyConfig, UnlearnRequest, batches, register

__all__ = ["FisherForgetting", "FisherForgettingConfig", "forgotten_classes", "noise_distribution", "retain_fisher"]


@dataclass
class FisherForgettingConfig(StrategyConfig):
    """Noise scale ``alpha``, variance clamps and multipliers, the class step, Fisher sample size."""

    TUNED: ClassVar[str] = "alpha"  # the scale a study tunes (there is no learning rate)

    alpha: float = 1e-6
    max_var: float = 1e3
    max_var_head: float = 1e2
    head_var_scale: float = 10.0
    vector_var_scale: float = 10.0
    #: Class forgetting: the forgotten classes' output rows get mean 0 and this variance (then x head_var_scale).
    class_step: bool = True
    forgotten_class_var: float = 1e-4
    samples: int = 1
    max_examples: int = 0
    batch_size: int = 64

    def check(self) -> None:
        self._positive(
            "alpha", "max_var", "max_var_head", "head_var_scale", "vector_var_scale", "forgotten_class_var", "samples", "batch_size"
        )
        if self.max_examples < 0:
            raise ValueError(f"FisherForgettingConfig.max_examples must be >= 0 (0 = all), got {self.max_examples}")


def retain_fisher(model: nn.Module, request: UnlearnRequest, c: FisherForgettingConfig) -> dict[str, torch.Tensor]:
    """Diagonal Fisher of D_r: mean over examples of the squared per-example gradient, labels sampled."""
    task, dev = request.task, request.device
    model.eval()
    params = {n: p.detach() for n, p in model.named_parameters()}
    buffers = {n: b.detach() for n, b in model.named_buffers()}

    def example_loss(p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = functional_call(model, (p, buffers), (x.unsqueeze(0),))
        return task.per_example_loss(logits, y.unsqueeze(0))[0]

    per_example_grad = vmap(grad(example_loss), in_dims=(None, 0, 0))
    fisher = {n: torch.zeros_like(p) for n, p in params.items()}
    gen, seen = request.generator(3), 0
    for x, _ in progress(batches(request.retain, c.batch_size, generator=request.generator(4)), desc="fisher"):
        if c.max_examples and seen >= c.max_examples:
            break
        if c.max_examples:
            x = x[: c.max_examples - seen]
        x = x.to(dev)
        with torch.no_grad():
            probs = task.probabilities(task.logits(model, x))
        flat = probs.movedim(1, -1).reshape(-1, probs.shape[1]).cpu()
        for _ in range(c.samples):
            y = torch.multinomial(flat, 1, generator=gen).view(probs.movedim(1, -1).shape[:-1]).to(dev)
            for n, g in per_example_grad(params, x, y).items():
                fisher[n] += (g**2).sum(dim=0) / c.samples
        seen += len(x)
    return {n: f / max(seen, 1) for n, f in fisher.items()}


def forgotten_classes(request: UnlearnRequest) -> list[int]:
    """Classes in the forget set that the retain set no longer holds: class forgetting.

    Empty for selective and random forgetting and wherever labels are not one per image (segmentation).
    """
    f, r = request.forget, request.retain
    if not (isinstance(f, ArrayDataset) and isinstance(r, ArrayDataset)) or f.y.ndim != 1 or r.y.ndim != 1:
        return []
    return sorted(int(c) for c in np.setdiff1d(np.unique(f.labels), np.unique(r.labels)))


def noise_distribution(
    p: torch.Tensor, fisher: torch.Tensor, is_head: bool, forgotten: list[int], c: FisherForgettingConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and variance the authors' code draws one weight tensor from (see the module docstring)."""
    var = (1.0 / (fisher + 1e-8)).clamp(max=c.max_var_head if is_head else c.max_var) * c.alpha
    if p.ndim > 1:
        var = var.mean(dim=1, keepdim=True).expand_as(p).clone()
    mean = p.detach().clone()
    if is_head and forgotten:
        mean[forgotten] = 0.0
        var[forgotten] = c.forgotten_class_var
    if is_head:
        var = var * c.head_var_scale
    elif p.ndim == 1:
        var = var * c.vector_var_scale
    return mean, var


@register("fisher", reference="Golatkar et al., CVPR 2020")
class FisherForgetting(Strategy):
    """Noise scaled by the inverse diagonal Fisher of the retain set, and the class step on the head."""

    Config = FisherForgettingConfig

    def unlearn(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:
        c = self.config
        fisher = retain_fisher(model, request, c)
        num_classes = getattr(request.task, "num_classes", None)
        forgotten = forgotten_classes(request) if c.class_step else []
        gen = request.generator(5)
        with torch.no_grad():
            for name, p in model.named_parameters():
                is_head = p.ndim >= 1 and p.shape[0] == num_classes
                mean, var = noise_distribution(p, fisher[name], is_head, forgotten, c)
                noise = torch.randn(p.shape, generator=gen).to(p.device)
                p.copy_(mean + var.sqrt() * noise)
        mean_fisher = float(torch.cat([f.flatten() for f in fisher.values()]).mean())
        request.history.append({"epoch": 0, "mean_fisher": mean_fisher, "forgotten_classes": len(forgotten)})
        request.epoch_done(model, 0)
        return model
