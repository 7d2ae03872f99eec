"""The Med3D training recipe and the subject split of notebook 03's cohort.

How the
baseline is trained (:class:`SegTrainConfig`, :func:`train_segmenter`), how a cohort is split by subject
(:func:`subject_splits`) and how long each method unlearns (:func:`with_epochs`) are the study's recipe,
used by the experiment and by notebook 03's parameter checks without its tables or figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.data import Dataset

from ...cache import cache_name
from ...data.datasets import ArrayDataset
from ...data.patches import random_patches
from ...data.splits import make_forget_split
from ...loops import batches
from ...tasks import SegmentationTask, Task
from ...training import Recipe, train_model
from ...utils import progress, torch_generator


@dataclass
class SegTrainConfig(Recipe):
    """Med3D's fine-tuning recipe: cross-entropy, SGD momentum 0.9, weight decay 1e-3, encoder lr 1e-3
    and ``head_lr_factor`` (100x) for the head, ExponentialLR gamma 0.99 per epoch, batch 1.

    Patch-wise training (``patch_size`` set): every epoch draws ``patches_per_volume`` fresh random crops
    per training volume (:func:`~unlearn_lib.data.patches.random_patches`, foreground and background
    centres at even odds), so an epoch is ``n_volumes * patches_per_volume`` crops. ``loss="dice_ce"``
    is MONAI's ``DiceCELoss`` (foreground Dice + cross-entropy), which keeps thin, rare tissue (CSF) from
    being drowned by background; ``"ce"`` is Med3D's cross-entropy.
    """

    epochs: int = 100
    lr: float = 1e-3
    head_lr_factor: float = 100.0
    weight_decay: float = 1e-3
    gamma: float = 0.99
    batch_size: int = 1
    patch_size: int | None = None
    patches_per_volume: int = 4
    loss: Literal["ce", "dice_ce"] = "ce"

    def check(self) -> None:
        super().check()
        self._positive("epochs", "head_lr_factor", "gamma", "patches_per_volume")
        if self.gamma > 1:
            raise ValueError(f"SegTrainConfig.gamma must be in (0, 1], got {self.gamma}")
        if self.patch_size is not None and (not isinstance(self.patch_size, int) or self.patch_size < 4):
            raise ValueError(f"SegTrainConfig.patch_size must be None or an int >= 4, got {self.patch_size!r}")
        if self.loss not in ("ce", "dice_ce"):
            raise ValueError(f"SegTrainConfig.loss must be 'ce' or 'dice_ce', got {self.loss!r}")

    def criterion(self, task: Task) -> Any:
        """The training loss: the task's cross-entropy, or MONAI's Dice + cross-entropy."""
        if self.loss == "ce":
            return task.loss
        from monai.losses import DiceCELoss

        dice_ce = DiceCELoss(include_background=False, to_onehot_y=True, softmax=True)
        return lambda logits, y: dice_ce(logits, y[:, None])

    def fit(
        self, model: nn.Module, dataset: Dataset, task: Task, device: torch.device, seed: int, desc: str = "train segmenter"
    ) -> nn.Module:
        """Encoder and head as separate parameter groups (the head at ``head_lr_factor`` x lr)."""
        model.to(device)
        enc, dec = getattr(model, "encoder", None), getattr(model, "decoder", None)
        if isinstance(enc, nn.Module) and isinstance(dec, nn.Module):
            groups = [{"params": enc.parameters(), "lr": self.lr}, {"params": dec.parameters(), "lr": self.lr * self.head_lr_factor}]
        else:
            groups = [{"params": model.parameters(), "lr": self.lr}]
        opt = self.make_optimizer(groups)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, self.gamma)
        gen = torch_generator(seed)
        loss_fn = self.criterion(task)
        if self.patch_size is not None and not isinstance(dataset, ArrayDataset):
            raise ValueError("patch-wise training needs an ArrayDataset of volumes")
        for epoch in progress(range(self.epochs), desc=desc):
            model.train()
            data = dataset
            if self.patch_size is not None:  # fresh crops every epoch, from (seed, epoch) only
                data = random_patches(dataset, self.patch_size, self.patches_per_volume, seed=seed * 100_003 + epoch)
            for x, y in batches(data, self.batch_size, generator=gen):
                x, y = x.to(device), y.to(device)
                loss = loss_fn(task.logits(model, x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            sched.step()
        return model.eval()


# The model cache keys this recipe by where the class sat when its first originals and retrains were
# cached; the study has since moved under ``studies/``, and the move kept every trained model.
cache_name(SegTrainConfig, "unlearn_lib.segmentation.recipe.SegTrainConfig")


def train_segmenter(
    model: nn.Module,
    dataset: ArrayDataset,
    task: SegmentationTask,
    config: SegTrainConfig | Mapping[str, Any] | None = None,
    *,
    device: str | torch.device = "auto",
    seed: int = 0,
) -> tuple[nn.Module, float]:
    """Train with :class:`SegTrainConfig` (encoder and head as separate parameter groups); returns (model, seconds)."""
    cfg = config if isinstance(config, SegTrainConfig) else SegTrainConfig.from_dict(config)
    return train_model(model, dataset, task, cfg, device=device, seed=seed, desc="train segmenter")


def subject_splits(dataset: ArrayDataset, forget_subjects: Sequence[int], heldout_subjects: Sequence[int]) -> dict[str, ArrayDataset]:
    """Split by subject id: ``forget`` (to unlearn), ``heldout`` (never trained on), ``retain`` (the rest).

    The one forget-split module builds it (:func:`~unlearn_lib.data.make_forget_split`, kind
    ``subject``: the held-out subjects are its validation part).
    """
    if "subject" not in dataset.meta:
        raise ValueError("dataset has no 'subject' metadata column")
    split = make_forget_split(dataset.meta["subject"], "subject", forget=list(forget_subjects), heldout=list(heldout_subjects))
    parts = split.datasets(dataset)
    return {"retain": parts["retain"], "forget": parts["forget"], "heldout": dataset.subset(split.val, "heldout")}


def with_epochs(methods: Sequence[str], epochs: int, hparams: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Per-method configs where every unlearning method runs ``epochs`` epochs unless ``hparams`` says otherwise.

    ``retrain`` keeps its own training length (it is the reference, not an unlearning horizon).
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
    out: dict[str, dict[str, Any]] = {}
    for m in methods:
        cfg = dict((hparams or {}).get(m) or {})
        if m != "retrain":
            cfg.setdefault("epochs", epochs)
        out[m] = cfg
    return out
