"""The plan: every analysis's parameters, checked against the study before any training, and run one by one."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...results import ResultsRecorder
from .analyses import (
    _check_difficulty,
    _check_fractions,
    _check_masks,
    _check_mislabel,
    _check_seeds,
    _check_sex,
    _check_tuning,
    run_difficulty,
    run_forget_sizes,
    run_mislabelled,
    run_salun_sweep,
    run_sex,
    run_subject,
    run_tuning,
)
from .budgets import check_budgets, run_budgets
from .params import parse_budget_request
from .study import MedicalStudy

#: The analyses in the order the notebook runs them (``budget`` reads its request's original and retrain,
#: so it follows ``size``, ``difficulty`` and ``mislabelled``).
ANALYSES = ("tuning", "size", "sex", "difficulty", "mislabelled", "budget", "subject", "salun_mask")


@dataclass
class MedicalPlan:
    """Every analysis's parameters, checked against the study before any model is trained.

    :meth:`check` validates all of them up front (so a bad ``sex_n_forget`` fails in seconds, not after
    the forget-size analysis has run for minutes) and says which analyses the data cannot support
    (no ``sex`` column in MedMNIST: the sex analysis is skipped, with the reason). :meth:`run` runs one.
    """

    seeds: Sequence[int] = (0, 1, 2)
    forget_fractions: Sequence[float] = (0.01, 0.05, 0.1, 0.2, 0.5)
    sex_n_forget: int = 100
    sex_seeds: Sequence[int] | None = None
    difficulty_n_forget: int = 60
    difficulty_quantile: float = 0.2
    #: The share of training labels flipped for the mislabelled request (its own originals); None: no such request.
    mislabel_fraction: float | None = 0.05
    #: Tune ``tuning_methods`` on the mislabelled request itself (its objective: the wrong labels at the
    #: unseen rate) instead of running the random-set picks there.
    tune_mislabelled: bool = True
    tuning_methods: Sequence[str] = ("random_label", "salun", "scrub", "finetune", "neggrad_plus")
    tuning_lr_factors: Sequence[float] = (0.3, 1.0, 3.0)
    tuning_epochs: Sequence[int] = (1, 2)
    tuning_seeds: Sequence[int] = (0,)
    tuning_fraction: float = 0.1
    #: Search the grid at every forget fraction (same grid, same budget per size) and run each size with
    #: its own picks (set :attr:`size_hparams` from :func:`tuned_hparams_by_size` after tuning).
    tune_per_size: bool = False
    size_hparams: dict[float, dict[str, dict[str, Any]]] | None = None
    salun_masks: Sequence[float] = (0.1, 0.3, 0.5, 0.9)
    salun_fraction: float = 0.1
    #: The request whose methods run at equal optimizer-step budgets (:mod:`.budgets`): ``mislabelled:<f>``,
    #: ``difficulty:hard``, ``difficulty:easy`` or ``size:<f>``; None: no budget analysis.
    budget_request: str | None = None
    #: The budgets, as fractions of retrain's optimizer steps.
    budget_fractions: Sequence[float] = (0.05, 0.1, 0.25)
    #: The candidates of each budget's learning-rate search, as factors of each method's rate; None: the
    #: main grid's (``tuning_lr_factors``).
    budget_lr_factors: Sequence[float] | None = None
    analyses: Sequence[str] = ANALYSES
    skipped: dict[str, str] = field(default_factory=dict, init=False)
    _checked: MedicalStudy | None = field(default=None, init=False, repr=False)

    def check(self, study: MedicalStudy) -> dict[str, str]:
        """Validate every parameter against ``study``; returns ``{analysis: why it is skipped}``.

        Raises:
            ValueError: a bad parameter (named), or an analysis asked for that cannot run as asked.
        """
        unknown = sorted(set(self.analyses) - set(ANALYSES))
        if unknown:
            raise ValueError(f"analyses must be among {ANALYSES}, got unknown {unknown}")
        _check_seeds(self.seeds)
        self.forget_fractions = _check_fractions(self.forget_fractions, "forget_fractions")
        self.skipped = {}
        for analysis, column in (("sex", "sex"), ("subject", "subject")):
            if analysis in self.analyses and column not in study.train.meta:
                self.skipped[analysis] = f"skipped: the data ({study.train.name}) have no {column!r} column (MedMNIST ships none)"
        if "sex" in self.analyses and "sex" not in self.skipped:
            _check_sex(study, self.sex_n_forget, self.sex_seeds or self.seeds, ("F", "M"), "sex")
        if "difficulty" in self.analyses:
            _check_difficulty(study, self.difficulty_n_forget, self.seeds, self.difficulty_quantile)
        if "mislabelled" in self.analyses:
            if self.mislabel_fraction is None:
                self.skipped["mislabelled"] = "skipped: no mislabel_fraction (the share of training labels flipped)"
            else:
                self.mislabel_fraction = _check_mislabel(self.mislabel_fraction)
        if self.tune_per_size and float(self.tuning_fraction) not in self.forget_fractions:
            raise ValueError(
                f"tuning_fraction={self.tuning_fraction} must be one of forget_fractions {self.forget_fractions} with tune_per_size:"
                " its picks serve the analyses that have no size of their own"
            )
        if "tuning" in self.analyses:
            _check_tuning(study, self.tuning_methods, self.tuning_lr_factors, self.tuning_epochs, self.tuning_seeds, self.tuning_fraction)
        if "salun_mask" in self.analyses:
            _check_masks(study, self.salun_masks, "salun")
            needs = {"retrain", "random_label"} - set(study.methods)
            if "size" not in self.analyses or float(self.salun_fraction) not in self.forget_fractions or needs:
                raise ValueError(
                    f"salun_fraction={self.salun_fraction} must be one of forget_fractions {self.forget_fractions}, with the size analysis"
                    f" run and retrain and random_label among the methods (missing: {sorted(needs)}): the sweep reads its references there"
                )
        if "budget" in self.analyses:
            self._check_budget(study)
        self._checked = study
        return self.skipped

    def _check_budget(self, study: MedicalStudy) -> None:
        if self.budget_request is None:
            self.skipped["budget"] = "skipped: no budget_request (the request whose methods run at equal step budgets)"
            return
        analysis, _ = parse_budget_request(self.budget_request, self.forget_fractions, self.mislabel_fraction)
        if analysis not in self.analyses or analysis in self.skipped:
            raise ValueError(f"budget_request={self.budget_request!r} reads the {analysis!r} analysis's original and retrain: run it too")
        if "retrain" not in study.methods:
            raise ValueError(
                f"budget_request={self.budget_request!r}: budgets are fractions of retrain's steps, so methods must include 'retrain'"
            )
        self.budget_fractions = check_budgets(self.budget_fractions, self.tuning_methods)
        if self.budget_lr_factors is not None:  # tune_methods would refuse them only after the analyses before it
            factors = list(self.budget_lr_factors)
            if not factors or len(set(factors)) != len(factors) or not all(_positive(f) for f in factors):
                raise ValueError(f"budget_lr_factors must be None or distinct positive numbers, got {factors!r}")

    def run(self, study: MedicalStudy, analysis: str, recorder: ResultsRecorder) -> bool:
        """Run one analysis; False, with the reason printed, when it is skipped. Checks the plan first
        if :meth:`check` has not run on this study."""
        if self._checked is not study:
            self.check(study)
        if analysis not in self.analyses or analysis in self.skipped:
            print(self.skipped.get(analysis, f"skipped: {analysis!r} is not in this plan's analyses"))
            return False
        if analysis == "size":
            run_forget_sizes(study, self.forget_fractions, self.seeds, recorder, self.size_hparams if self.tune_per_size else None)
        elif analysis == "sex":
            run_sex(study, self.sex_n_forget, self.sex_seeds or self.seeds, recorder)
        elif analysis == "difficulty":
            run_difficulty(study, self.difficulty_n_forget, self.seeds, recorder, self.difficulty_quantile)
        elif analysis == "mislabelled":
            assert self.mislabel_fraction is not None  # check() skips the analysis without one
            run_mislabelled(
                study,
                self.mislabel_fraction,
                self.seeds,
                recorder,
                tuning_methods=self.tuning_methods if self.tune_mislabelled else (),
                tuning_seeds=self.tuning_seeds,
                lr_factors=self.tuning_lr_factors,
            )
        elif analysis == "subject":
            run_subject(study, self.seeds, recorder)
        elif analysis == "budget":
            run_budgets(
                study,
                str(self.budget_request),
                self.budget_fractions,
                self.tuning_methods,
                self.seeds,
                recorder,
                tuning_seeds=self.tuning_seeds,
                lr_factors=self.tuning_lr_factors if self.budget_lr_factors is None else self.budget_lr_factors,
                difficulty_n_forget=self.difficulty_n_forget,
                difficulty_quantile=self.difficulty_quantile,
            )
        elif analysis == "tuning":
            run_tuning(
                study,
                self.tuning_methods,
                self.tuning_lr_factors,
                self.tuning_epochs,
                self.tuning_seeds,
                recorder,
                self.forget_fractions if self.tune_per_size else self.tuning_fraction,
            )
        else:
            run_salun_sweep(study, self.salun_masks, self.salun_fraction, self.seeds, recorder)
        if analysis != "tuning":  # the grid's runs serve the size analysis; every other analysis's serve only itself
            study.forget_runs()
        return True


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
