"""SCRUB+R, SCRUB with rewinding (Kurmanji et al., NeurIPS 2023, section "SCRUB and Rewind").

SCRUB can over-forget: its forget error overshoots what a retrained model would show, and that
overshoot is itself a membership signal. SCRUB+R keeps a checkpoint after every epoch, estimates the
target forget error as the final model's error on held-out validation examples like the forget set
(``request.val`` restricted to the forget set's classes; the whole of ``val`` when there is no class
structure), and returns the checkpoint whose forget error is closest to that target. [reconstructed:
the paper says "error on a validation set like the forget set"; which model measures it is ours.]
The epochs (max and min passes) are SCRUB's own (:mod:`.scrub`); so are the hyper-parameters and presets.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from torch import nn

from ._common import error_rate, same_classes_as
from .base import UnlearnRequest, register
from .scrub import Scrub, ScrubConfig, scrub_epoch

__all__ = ["ScrubR", "ScrubRConfig"]


@dataclass
class ScrubRConfig(ScrubConfig):
    """SCRUB's fields and presets; rewinding needs no extra hyper-parameter."""


@register("scrub_r", reference="Kurmanji et al., NeurIPS 2023")
class ScrubR(Scrub):
    """SCRUB, then rewind to the epoch whose forget error best matches held-out error."""

    Config = ScrubRConfig

    def prepare(self, model: nn.Module, request: UnlearnRequest) -> Iterable[nn.Parameter]:
        if request.val is None or len(request.val) == 0:
            raise ValueError("scrub_r needs held-out validation examples (request.val) to choose where to rewind")
        self.reference = same_classes_as(request.val, request.forget)
        self.checkpoints: list[tuple[int, dict, float]] = []
        return model.parameters()

    def epoch(self, model: nn.Module, request: UnlearnRequest, opt: Any, epoch: int) -> dict[str, float]:
        losses = scrub_epoch(model, request, opt, self.config, epoch)
        forget_error = error_rate(model, request.forget, request.task, request.device)
        self.checkpoints.append((epoch, copy.deepcopy(model.state_dict()), forget_error))
        return {**losses, "forget_error": forget_error}

    def finish(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:
        """Rewind to the checkpoint whose forget error is closest to the held-out target."""
        target = error_rate(model, self.reference, request.task, request.device)
        best_epoch, best_state, best_error = min(self.checkpoints, key=lambda ck: (abs(ck[2] - target), -ck[0]))
        model.load_state_dict(best_state)
        request.history.append({"epoch": best_epoch, "rewind_to": best_epoch, "target_error": target, "forget_error": best_error})
        return model
