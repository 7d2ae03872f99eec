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

from ..training import OptimizerConfig
from ..utils import progress
from .base import Strategy, UnlearnRequest, batches, register

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
    do_step = step if step is not None else opt.step
    label_gen = request.generator(500 + epoch)
    model.train()
    sums = {"forget_loss": 0.0, "retain_loss": 0.0}
    passes = [("forget", request.forget, c.forget_batch_size, 10 + epoch)]
    if c.retain_pass:
        passes.append(("retain", request.retain, c.batch_size, 100 + epoch))
    for split, dataset, bs, offset in passes:
        for x, y in progress(batches(dataset, bs, generator=request.generator(offset)), desc=f"{name} {split} {epoch}"):
            x, y = x.to(dev), y.to(dev)
            if split == "forget":
                y = task.random_targets(y.cpu(), label_gen).to(dev)
            loss = task.loss(task.logits(model, x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            do_step()
            sums[f"{split}_loss"] += float(loss.detach()) * len(x)
    out = {"forget_loss": sums["forget_loss"] / len(request.forget)}
    out["retain_loss"] = sums["retain_loss"] / len(request.retain) if c.retain_pass else float("nan")
    return out


@register("random_label", reference="Golatkar et al., CVPR 2020; as in Fan et al., ICLR 2024")
class RandomLabel(Strategy):
    """Random Label unlearning (SalUn's RL baseline)."""

    Config = RandomLabelConfig

    def unlearn(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:
        c = self.config
        opt = c.make_optimizer(model.parameters())
        for epoch in range(c.epochs):
            losses = random_label_epoch(model, request, opt, c, epoch)
            request.history.append({"epoch": epoch, **losses})
            request.epoch_done(model, epoch)
        return model
