"""NegGrad+: beta * CE(retain) - (1 - beta) * CE(forget) in one step (Kurmanji et al., 2023).

Each retain batch is paired with a (cycled) forget batch. The paper tunes beta in 0.95-0.9999.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..training import OptimizerConfig
from ..utils import progress
from .base import Strategy, UnlearnRequest, batches, cycle, register


@dataclass
class NegGradPlusConfig(OptimizerConfig):
    epochs: int = 5
    beta: float = 0.95
    forget_batch_size: int = 64

    def check(self) -> None:
        super().check()
        self._positive("epochs", "forget_batch_size")
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"NegGradPlusConfig.beta must be in [0, 1], got {self.beta}")


@register("neggrad_plus", reference="Kurmanji et al., NeurIPS 2023")
class NegGradPlus(Strategy):
    Config = NegGradPlusConfig

    def unlearn(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:
        c, task, dev = self.config, request.task, request.device
        opt = c.make_optimizer(model.parameters())
        gen = request.generator()
        forget_iter = cycle(request.forget, c.forget_batch_size, request.generator(1))
        for epoch in range(c.epochs):
            model.train()
            for xr, yr in progress(batches(request.retain, c.batch_size, generator=gen), desc=f"neggrad+ {epoch}"):
                xf, yf = next(forget_iter)
                xr, yr, xf, yf = xr.to(dev), yr.to(dev), xf.to(dev), yf.to(dev)
                retain_loss = task.loss(task.logits(model, xr), yr)
                forget_loss = task.loss(task.logits(model, xf), yf)
                loss = c.beta * retain_loss - (1.0 - c.beta) * forget_loss
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            request.history.append({"epoch": epoch, "retain_loss": float(retain_loss.detach()), "forget_loss": float(forget_loss.detach())})
            request.epoch_done(model, epoch)
        return model
