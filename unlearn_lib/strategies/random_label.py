"""Random Label (RL): relabel the forget set with wrong labels and train on it, then repair on D_r.

As used by SalUn (Fan et al., ICLR 2024) and the medical-imaging unlearning papers that follow it:
each epoch, one pass over D_f whose targets are drawn uniformly from the *other* classes
(``task.random_targets``), then one pass over D_r with the true labels. Defaults follow the SalUn
code's class-wise CIFAR-10 setting (SGD, momentum 0.9, weight decay 5e-4, 10 epochs, lr 0.01).

The per-epoch pass is a module-level function so SalUn reuses it with its saliency mask.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from ..loops import batches, examples, run_epoch, supervised
from ..training import OptimizerConfig
from ._loop import EpochStrategy
from .base import UnlearnRequest, register

__all__ = ["RandomLabel", "RandomLabelConfig", "random_label_epoch"]


@dataclass
class RandomLabelConfig(OptimizerConfig):
    """Hyper-parameters of Random Label (SalUn code defaults)."""

    epochs: int = 10
    forget_batch_size: int = 64
    retain_pass: bool = True

    def check(self) -> None:
        super().check()
        self._positive("epochs", "forget_batch_size")


def random_label_epoch(
    model: nn.Module,
    request: UnlearnRequest,
    opt: Any,
    c: RandomLabelConfig,
    epoch: int,
    step: Callable[[], None] | None = None,
    name: str = "random_label",
) -> dict[str, float]:
    """One RL epoch: D_f with random other-class targets, then (optionally) D_r with true targets.

    Args:
        step: replaces ``opt.step()`` (SalUn passes a masked step); gradients are already computed.

    Returns:
        The mean forget and retain losses of the epoch.
    """
    task, dev = request.task, request.device
    label_gen = request.generator(500 + epoch)
    relabel = supervised(model, task, "forget_loss", targets_fn=lambda y: task.random_targets(y.cpu(), label_gen).to(dev))
    data = batches(request.forget, c.forget_batch_size, generator=request.generator(10 + epoch))
    out = run_epoch(model, data, relabel, opt, device=dev, step=step, weight=examples, desc=f"{name} forget {epoch}")
    out["retain_loss"] = float("nan")
    if c.retain_pass:
        data = batches(request.retain, c.batch_size, generator=request.generator(100 + epoch))
        repair = supervised(model, task, "retain_loss")
        out.update(run_epoch(model, data, repair, opt, device=dev, step=step, weight=examples, desc=f"{name} retain {epoch}"))
    return out


@register("random_label", reference="Golatkar et al., CVPR 2020; as in Fan et al., ICLR 2024")
class RandomLabel(EpochStrategy):
    """Random Label unlearning (SalUn's RL baseline)."""

    Config = RandomLabelConfig

    def epoch(self, model: nn.Module, request: UnlearnRequest, opt: Any, epoch: int) -> dict[str, float]:
        return random_label_epoch(model, request, opt, self.config, epoch)
