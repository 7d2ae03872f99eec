"""Parameters of notebook 03 (3D segmentation unlearning)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...config import check_methods
from ...params import (
    NotebookParams,
    _at_least,
    _check_dataset,
    _distinct,
    _fail,
    _non_empty,
    _strategy_maker,
    register_params,
)


@register_params("03_segmentation_unlearning")
@dataclass(kw_only=True)
class SegmentationParams(NotebookParams):
    profile: str
    #: Training seeds: each trains its own original and retrain and runs every method from its original,
    #: so every claim pairs over seeds (``seed`` stays the data's: the cohort and what is planted in it).
    seeds: list[int]
    dataset: str
    dataset_kwargs: dict[str, Any]
    heldout_subjects: list[int]
    #: Subjects never trained on and never reported: only the tuning of ``tune_methods`` reads them.
    validation_subjects: list[int]
    #: What is planted into the simulated cohort (:class:`~unlearn_lib.studies.segmentation.design.DistinctivePlan`).
    distinctive: dict[str, Any] | None
    #: Each request: subject ids, or the name of the planted site.
    forget_requests: list[list[int] | str]
    model_kwargs: dict[str, Any]
    recipe: dict[str, Any]
    roi_size: int | None
    unlearn_patch: int | None
    unlearn_epochs: int
    horizons: list[int]
    eval_epochs: list[int] | None
    eval_retain: int | None
    min_signal: float
    mae_kind: str
    methods: list[str]
    hparams: dict[str, dict[str, Any]]
    #: Mechanics whose learning rate is picked on the validation subjects (:mod:`unlearn_lib.studies.segmentation.tuning`).
    tune_methods: list[str]
    tune_epochs: int
    tune_factors: list[float]
    tune_keep: float

    def check(self) -> None:
        super().check()
        _check_dataset(self.dataset, self.dataset_kwargs, "segmentation")
        _non_empty("seeds", self.seeds)
        _distinct("seeds", self.seeds)
        _at_least({f"seeds[{i}]": s for i, s in enumerate(self.seeds)}, 0)
        from ...models import build_model
        from . import SegTrainConfig

        build_model("med3d_resnet", **self.model_kwargs)
        SegTrainConfig.from_dict(self.recipe)
        _non_empty("heldout_subjects", self.heldout_subjects)
        _distinct("heldout_subjects", self.heldout_subjects)
        _distinct("validation_subjects", self.validation_subjects)
        both = sorted(set(self.validation_subjects) & set(self.heldout_subjects))
        if both:
            raise ValueError(f"validation_subjects {both} are also in heldout_subjects: validation picks rates, held-out reports")
        untrained = {"held-out": self.heldout_subjects, "validation": self.validation_subjects}
        plan = self._plan()
        for part, subjects in plan.planted().items():
            for role, ids in untrained.items():
                both = sorted(set(subjects) & set(ids))
                if both:
                    raise ValueError(
                        f"distinctive.{part}.subjects holds {role} subject(s) {both}: {role} subjects stand for typical unseen ones"
                    )
        _non_empty("forget_requests", self.forget_requests)
        for i, request in enumerate(self._requests(plan)):
            _non_empty(f"forget_requests[{i}]", request)
            _distinct(f"forget_requests[{i}]", request)
            for role, ids in untrained.items():
                both = sorted(set(request) & set(ids))
                if both:
                    raise ValueError(f"forget_requests[{i}] holds {role} subject(s) {both}: a subject never trained on cannot be forgotten")
        _at_least(
            {
                "unlearn_epochs": self.unlearn_epochs,
                "roi_size": self.roi_size,
                "unlearn_patch": self.unlearn_patch,
                "eval_retain": self.eval_retain,
            },
            1,
        )
        _non_empty("horizons", self.horizons)
        late = [h for h in [*self.horizons, *(self.eval_epochs or [])] if not 1 <= h <= self.unlearn_epochs]
        if late:
            _fail("horizons and eval_epochs", f"epochs in [1, unlearn_epochs={self.unlearn_epochs}]", late)
        missed = sorted(set(self.horizons) - set(self.eval_epochs)) if self.eval_epochs is not None else []
        if missed:
            raise ValueError(f"horizons {missed} are not in eval_epochs {self.eval_epochs}: the horizon tables read the curves there")
        self._check_tuning()
        if self.mae_kind not in ("probability", "label"):
            _fail("mae_kind", "'probability' or 'label'", self.mae_kind)
        if not 0 <= self.min_signal < 1:
            _fail("min_signal", "a float in [0, 1)", self.min_signal)
        from . import with_epochs

        unknown = sorted(set(self.hparams) - set(self.methods))
        if unknown:  # before with_epochs, which would drop them
            check_methods(self.methods, self.hparams, _strategy_maker("segmentation"))
        # Every method's config as the notebook builds it: unlearn_epochs for all but retrain.
        configs = with_epochs(self.methods, self.unlearn_epochs, self.hparams)
        check_methods(self.methods, {m: c for m, c in configs.items() if m in self.hparams or c}, _strategy_maker("segmentation"))

    def _check_tuning(self) -> None:
        from ...experiments.tuning import tuning_knob
        from .tuning import check_settings

        if isinstance(self.tune_methods, str) or not isinstance(self.tune_methods, list):
            _fail("tune_methods", "a list of method names (empty: nothing tuned)", self.tune_methods)
        _distinct("tune_methods", self.tune_methods)
        absent = [m for m in self.tune_methods if m not in self.methods]
        if absent:
            _fail("tune_methods", f"methods that run (in methods {self.methods})", absent)
        for m in self.tune_methods:
            if tuning_knob(m) != "lr":  # None for retrain: it repeats the original's recipe
                _fail("tune_methods", "methods with a learning rate to tune (not retrain)", m)
        if self.tune_methods and not self.validation_subjects:
            raise ValueError("tune_methods needs validation_subjects: the rates are picked on subjects never trained on nor reported")
        check_settings(self.tune_factors, self.tune_epochs, self.tune_keep)
        if self.tune_epochs > self.unlearn_epochs:
            _fail(
                "tune_epochs", f"an int in [1, unlearn_epochs={self.unlearn_epochs}] (every candidate at the same epochs)", self.tune_epochs
            )

    def _plan(self) -> Any:
        from .design import SIMULATED, DistinctivePlan

        plan = DistinctivePlan.from_dict(self.distinctive)
        if not plan.empty and self.dataset != SIMULATED:
            raise ValueError(
                f"distinctive: planting is for the simulated cohort ({SIMULATED!r}), not dataset {self.dataset!r}: "
                "real data carry their own anatomy and sites; set distinctive to None"
            )
        return plan

    def _requests(self, plan: Any) -> list[list[int]]:
        """Every forget request as subject ids (a site's name is the planted site's subjects)."""
        return [plan.site_subjects(r, f"forget_requests[{i}]") for i, r in enumerate(self.forget_requests)]

    def check_data(self, bundle: Any) -> None:
        import numpy as np

        subjects = set(np.asarray(bundle.train.meta.get("subject", [])).tolist())
        plan = self._plan()
        for part, planted in plan.planted().items():
            unknown = sorted(set(planted) - subjects)
            if unknown:
                raise ValueError(
                    f"distinctive.{part}.subjects: subject(s) {unknown} are not in {bundle.name!r} (subjects {sorted(subjects)})"
                )
        requested = {s for r in self._requests(plan) for s in r}
        unknown = sorted({*self.heldout_subjects, *self.validation_subjects, *requested} - subjects)
        if unknown:
            raise ValueError(f"subject(s) {unknown} are not in {bundle.name!r} (subjects {sorted(subjects)})")
        if not subjects - set(self.heldout_subjects) - set(self.validation_subjects) - requested:
            raise ValueError("every training subject is in some forget request: some must only be retained")
