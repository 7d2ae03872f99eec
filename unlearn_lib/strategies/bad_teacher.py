"""Bad Teacher (Chundawat et al., AAAI 2023, "Can bad teaching induce forgetting?").

The student starts as the original model and is distilled from two teachers at once: the original
(competent) teacher on a random subset of D_r, and a randomly initialised (incompetent) teacher on
D_f, both through the tempered KL ``task.divergence``. Defaults from the paper's code and the SCRUB
paper's use of it: Adam, lr 1e-3, one epoch, temperature 4 (SCRUB runs), 30% of D_r, batch 256.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.data import ConcatDataset, Dataset, Subset

from ..data.datasets import ArrayDataset
from ..loops import batches, examples, run_epoch
from ..training import OptimizerConfig
from ._loop import Batch, EpochStrategy
from .base import UnlearnRequest, register

__all__ = ["BadTeacher", "BadTeacherConfig"]


@dataclass
class BadTeacherConfig(OptimizerConfig):
    """Hyper-parameters of Bad Teacher distillation."""

    epochs: int = 1
    lr: float = 1e-3
    optimizer: Literal["sgd", "adam", "adamw"] = "adam"
    weight_decay: float = 0.0
    temperature: float = 4.0
    retain_fraction: float = 0.3
    batch_size: int = 256

    def check(self) -> None:
        super().check()
        self._positive("epochs", "temperature")
        if not 0.0 < self.retain_fraction <= 1.0:
            raise ValueError(f"BadTeacherConfig.retain_fraction must be in (0, 1], got {self.retain_fraction}")


class _Flagged(Dataset):
    """(x, flag) pairs: 1 for forget examples, 0 for retain ones (generic datasets)."""

    def __init__(self, dataset: Dataset, flag: int) -> None:
        self.dataset, self.flag = dataset, flag

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.dataset[i][0], torch.tensor(self.flag)


def _mixed(retain: Dataset, forget: Dataset) -> Dataset:
    if isinstance(retain, ArrayDataset) and isinstance(forget, ArrayDataset):
        flags = torch.cat([torch.zeros(len(retain), dtype=torch.long), torch.ones(len(forget), dtype=torch.long)])
        return ArrayDataset(torch.cat([retain.x, forget.x]), flags, name="bad_teacher_mix", num_classes=2)
    return ConcatDataset([_Flagged(retain, 0), _Flagged(forget, 1)])


@register("bad_teacher", reference="Chundawat et al., AAAI 2023")
class BadTeacher(EpochStrategy):
    """Distil from a competent teacher on D_r and an incompetent one on D_f."""

    Config = BadTeacherConfig
    needs_factory = True

    def prepare(self, model: nn.Module, request: UnlearnRequest) -> Iterable[nn.Parameter]:
        """The incompetent teacher (a fresh initialisation, frozen) and the mixed set it teaches on."""
        self.bad = request.model_factory().to(request.device).eval()
        for p in self.bad.parameters():
            p.requires_grad_(False)
        n_keep = max(1, round(self.config.retain_fraction * len(request.retain)))
        keep = torch.randperm(len(request.retain), generator=request.generator(7))[:n_keep]
        retain = request.retain.subset(keep.numpy()) if isinstance(request.retain, ArrayDataset) else Subset(request.retain, keep.tolist())
        self.data = _mixed(retain, request.forget)
        self.gen = request.generator()
        return model.parameters()

    def epoch(self, model: nn.Module, request: UnlearnRequest, opt: Any, epoch: int) -> dict[str, float]:
        c, task, bad = self.config, request.task, self.bad

        def step_loss(batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
            x, flag = batch
            with torch.no_grad():
                good_logits, bad_logits = task.logits(request.original, x), task.logits(bad, x)
                pick = flag.view(-1, *([1] * (good_logits.ndim - 1))).bool()
                teacher = torch.where(pick, bad_logits, good_logits)
            loss = task.divergence(task.logits(model, x), teacher, c.temperature).mean()
            return loss, {"distill_loss": float(loss.detach())}

        mixed = batches(self.data, c.batch_size, generator=self.gen)
        return run_epoch(model, mixed, step_loss, opt, device=request.device, weight=examples, desc=f"bad_teacher {epoch}")
