"""Parameters of notebook 04 (medical classifier unlearning)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...config import check_methods
from ...params import (
    _at_least,
    _distinct,
    _fail,
    _non_empty,
    _strategy_maker,
    register_params,
)
from ...registry import closest
from ..classifiers.params import ClassifierParams


def parse_budget_request(request: str, forget_fractions: Sequence[float], mislabel_fraction: float | None = None) -> tuple[str, str]:
    """``("size", "0.1")``, ``("difficulty", "hard")`` or ``("mislabelled", "0.05")``: the analysis and level of a budget request.

    Raises:
        ValueError: not ``difficulty:easy``, ``difficulty:hard``, ``size:<f>`` with ``f`` one of
            ``forget_fractions``, or ``mislabelled:<f>`` with ``f`` the ``mislabel_fraction``.
    """
    analysis, _, level = str(request).partition(":")
    sizes = {f"{float(f):g}" for f in forget_fractions}
    flipped = f"{float(mislabel_fraction):g}" if mislabel_fraction is not None else None
    if (analysis == "difficulty" and level in ("easy", "hard")) or (analysis == "size" and level in sizes):
        return analysis, level
    if analysis == "mislabelled" and level == flipped:
        return analysis, level
    raise ValueError(
        f"budget_request must be 'difficulty:easy', 'difficulty:hard', 'size:<f>' with f one of forget_fractions {sorted(sizes)}"
        f" or 'mislabelled:<f>' with f the mislabel_fraction ({flipped}), got {request!r}"
    )


@register_params("04_medical_fairness")
@dataclass(kw_only=True)
class MedicalParams(ClassifierParams):
    seeds: list[int]
    methods: list[str]
    hparams: dict[str, dict[str, Any]]
    forget_fractions: list[float]
    sex_n_forget: int
    sex_seeds: list[int] | None
    equivalence_margin: float
    difficulty_n_forget: int
    difficulty_quantile: float
    mislabel_fraction: float | None
    tuning_methods: list[str]
    tuning_lr_factors: list[float]
    tuning_epochs: list[int]
    tuning_seeds: list[int]
    tuning_fraction: float
    tune_per_size: bool
    use_tuned: bool
    salun_masks: list[float]
    salun_fraction: float
    early_stop_patience: int | None
    curve_seeds: list[int] | None
    budget_request: str | None
    budget_fractions: list[float]
    budget_lr_factors: list[float] | None

    def check(self) -> None:
        super().check()
        if self.early_stop_patience is not None:
            _at_least({"early_stop_patience": self.early_stop_patience}, 1)
            if self.recipe.get("schedule", "cosine") != "constant":
                _fail(
                    "recipe['schedule']",
                    "'constant' when early_stop_patience is set (a cosine run's prefix is not a shorter run)",
                    self.recipe.get("schedule"),
                )
        for name in ("seeds", "forget_fractions", "tuning_lr_factors", "tuning_epochs", "tuning_seeds", "salun_masks", "budget_fractions"):
            _non_empty(name, getattr(self, name))
        _distinct("seeds", self.seeds)
        _at_least({"sex_n_forget": self.sex_n_forget, "difficulty_n_forget": self.difficulty_n_forget}, 1)
        _at_least({f"tuning_epochs[{i}]": e for i, e in enumerate(self.tuning_epochs)}, 1)
        for name in ("difficulty_quantile", "tuning_fraction", "salun_fraction"):
            if not 0 < getattr(self, name) < 1:
                _fail(name, "a float in (0, 1)", getattr(self, name))
        if self.mislabel_fraction is not None and not 0 < self.mislabel_fraction <= 0.5:
            _fail("mislabel_fraction", "None or a float in (0, 0.5] (the share of training labels flipped)", self.mislabel_fraction)
        if not 0 < self.equivalence_margin < 1:
            _fail("equivalence_margin", "a float in (0, 1) (an accuracy difference)", self.equivalence_margin)
        for name in ("forget_fractions", "salun_masks"):
            if not all(0 < f < 1 for f in getattr(self, name)):
                _fail(name, "floats in (0, 1)", getattr(self, name))
        if not all(0 < f <= 1 for f in self.budget_fractions):
            _fail("budget_fractions", "floats in (0, 1] (shares of retrain's optimizer steps)", self.budget_fractions)
        _distinct("budget_fractions", self.budget_fractions)
        if self.budget_request is not None:
            parse_budget_request(self.budget_request, self.forget_fractions, self.mislabel_fraction)
        if not all(f > 0 for f in self.tuning_lr_factors):
            _fail("tuning_lr_factors", "floats > 0", self.tuning_lr_factors)
        if self.budget_lr_factors is not None:
            _non_empty("budget_lr_factors", self.budget_lr_factors)
            _distinct("budget_lr_factors", self.budget_lr_factors)
            if not all(f > 0 for f in self.budget_lr_factors):
                _fail("budget_lr_factors", "None or floats > 0", self.budget_lr_factors)
        check_methods(self.methods, self.hparams, _strategy_maker("classification"))
        missing = sorted(set(self.tuning_methods) - set(self.methods))
        if missing:
            hints = "".join(closest(m, self.methods) for m in missing)
            raise ValueError(f"tuning_methods {missing} are not in methods{hints}; methods: {self.methods}")
