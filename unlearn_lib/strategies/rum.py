"""RUM: split the forget set by memorisation, then unlearn the parts in sequence, each with the method that suits it.

Zhao, Kurmanji et al. ("What makes unlearning hard and what to do about it", NeurIPS 2024) find that
methods behave differently on weakly and strongly memorised examples: a typical example needs almost
nothing done to it (retraining predicts it anyway, so pushing it away over-forgets), while a memorised
one must be actively unlearned. Their Refined-Unlearning Meta-algorithm (RUM) (i) refines the forget
set into homogeneous parts by memorisation and (ii) unlearns the parts one after the other, each with
its own method, carrying the model from one part to the next.

Here the parts are the forget examples whose metadata column ``score`` (written by
:meth:`~unlearn_lib.experiments.memorisation.MemorisationScores.attach`) falls below ``cuts[0]``
(low), between the cuts (medium) and above ``cuts[1]`` (high); empty parts are skipped. The default
assignment and order are reconstructed from the paper's description, not copied from its code: low
and medium parts fine-tune on the retain set (nothing to push away), the high part gets NegGrad+, and
the parts run from low to high. Every part runs its method's own budget, so RUM's cost is the sum of
its parts' (reported in seconds and optimizer steps like every method's).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from ..config import StrategyConfig
from ..data.datasets import ArrayDataset
from .base import Strategy, UnlearnRequest, get_strategy, make_config, register

#: Memorisation levels, lowest first, and the cuts between them on the score's scale (thirds of [0, 1]):
#: the one definition that graded forget sets (:mod:`unlearn_lib.experiments.memorisation`) and RUM share.
LEVELS = ("low", "medium", "high")
CUTS = (1 / 3, 2 / 3)
#: Methods RUM cannot run on a part: the reference itself, and RUM inside RUM.
_NOT_A_PART = ("retrain", "rum")


@dataclass
class RUMConfig(StrategyConfig):
    #: The forget set's metadata column that grades its examples (memorisation, or its C-proxy).
    score: str = "memorisation"
    #: low < cuts[0] <= medium < cuts[1] <= high, on the score's scale (memorisation lies in [-1, 1]).
    cuts: list[float] = field(default_factory=lambda: list(CUTS))
    #: The method for each part ([reconstructed] assignment, see the module docstring).
    methods: dict[str, str] = field(default_factory=lambda: {"low": "finetune", "medium": "finetune", "high": "neggrad_plus"})
    #: Each part's hyper-parameters for its method (its paper defaults where a part is not named).
    hparams: dict[str, dict] = field(default_factory=dict)
    #: The order the parts are unlearned in.
    order: list[str] = field(default_factory=lambda: list(LEVELS))

    def check(self) -> None:
        if len(self.cuts) != 2 or not self.cuts[0] < self.cuts[1]:
            raise ValueError(f"RUMConfig.cuts must be two increasing numbers [low/medium, medium/high], got {self.cuts!r}")
        if sorted(self.order) != sorted(LEVELS):
            raise ValueError(f"RUMConfig.order must list each of {list(LEVELS)} once, got {self.order!r}")
        for name, table in (("methods", self.methods), ("hparams", self.hparams)):
            unknown = sorted(set(table) - set(LEVELS))
            if unknown:
                raise ValueError(f"RUMConfig.{name} keys must be parts {list(LEVELS)}, got {unknown}")
        missing = [level for level in LEVELS if level not in self.methods]
        if missing:
            raise ValueError(f"RUMConfig.methods must name a method for every part; missing {missing}")
        for level, method in self.methods.items():
            if method in _NOT_A_PART:
                raise ValueError(f"RUMConfig.methods[{level!r}] = {method!r}: a part cannot be unlearned by {', '.join(_NOT_A_PART)}")
            cls = get_strategy(method, "classification")  # an unknown name is refused here, with the valid ones
            if cls.needs_factory or cls.needs_recipe:
                raise ValueError(f"RUMConfig.methods[{level!r}] = {method!r} retrains from scratch; RUM refines an existing model")
            make_config(method, self.hparams.get(level))


@register("rum", reference="Zhao, Kurmanji et al., NeurIPS 2024 (arXiv 2406.01257)", modalities=("classification",))
class RUM(Strategy):
    Config = RUMConfig

    def parts(self, forget: Any) -> dict[str, np.ndarray]:
        """The forget set's positions in each non-empty part, in the configured order."""
        meta = getattr(forget, "meta", {})
        if not isinstance(forget, ArrayDataset) or self.config.score not in meta:
            raise ValueError(
                f"rum grades the forget set by its metadata column {self.config.score!r}, which it does not have "
                f"(columns: {sorted(meta)}); attach scores first, e.g. MemorisationScores.attach(train)"
            )
        score = np.asarray(meta[self.config.score], dtype=np.float64)
        if not np.isfinite(score).all():
            raise ValueError(f"rum: the forget set's {self.config.score!r} has missing or non-finite values")
        low, high = self.config.cuts
        level = np.where(score < low, "low", np.where(score < high, "medium", "high"))
        return {lv: np.flatnonzero(level == lv) for lv in self.config.order if (level == lv).any()}

    def unlearn(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:
        c = self.config
        for level, idx in self.parts(request.forget).items():
            method = c.methods[level]
            part = request.forget.subset(idx, f"forget-{level}")
            # A fresh request per part: its own history and teacher cache, the same retain set and
            # original (the teacher is the model before unlearning, as in every method).
            sub = dataclasses.replace(request, forget=part, history=[], callback_seconds=0.0, _teacher={})
            model = get_strategy(method)(make_config(method, c.hparams.get(level))).unlearn(model, sub)
            request.callback_seconds += sub.callback_seconds
            request.history.extend({"part": level, "method": method, "n_forget": len(idx), **row} for row in sub.history)
            if not sub.history:
                request.history.append({"part": level, "method": method, "n_forget": len(idx)})
        return model
