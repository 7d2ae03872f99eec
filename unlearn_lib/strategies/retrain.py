"""Retrain: train a fresh model on the retain set only. Exact unlearning, and the reference."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..training import TrainConfig, fit
from .base import Strategy, UnlearnRequest, register


@dataclass
class RetrainConfig(TrainConfig):
    """Same recipe as the original model's training (see :class:`~unlearn_lib.training.TrainConfig`)."""


@register("retrain")
class Retrain(Strategy):
    Config = RetrainConfig
    needs_factory = True

    def unlearn(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:
        fresh = request.model_factory()
        return fit(fresh, request.retain, request.task, self.config, request.device, request.seed, "retrain")
