"""Parameters of notebook 05 (GAN unlearning)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...config import check_methods
from ...params import (
    NotebookParams,
    _at_least,
    _check_classes,
    _check_dataset,
    _fail,
    _non_empty,
    register_params,
)


@register_params("05_gan_unlearning")
@dataclass(kw_only=True)
class GANParams(NotebookParams):
    dataset: str
    dataset_kwargs: dict[str, Any]
    cache_dir: str | None
    train_limit: int | None
    recipe: dict[str, Any]
    evaluator_epochs: int
    classifier_width: float
    n_generated: int
    downstream_epochs: int
    n_items: int
    forget_class: int
    forget_classes: list[int]
    request_sizes: list[int]
    seeds: list[int]
    parts: list[str]
    methods: list[str]
    cascade: dict[str, Any]
    hparams: dict[str, dict[str, Any]]
    canaries: dict[str, Any]

    def check(self) -> None:
        super().check()
        _check_dataset(self.dataset, self.dataset_kwargs, "classification")
        from .canary_request import CanaryPlan

        CanaryPlan.from_value(self.canaries)  # names the bad key (canaries.per_level, ...)
        if self.cache_dir is not None:
            parent = next((p for p in [Path(self.cache_dir).expanduser(), *Path(self.cache_dir).expanduser().parents] if p.exists()), None)
            if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK):
                raise ValueError(f"cache_dir: {self.cache_dir} is not a directory this process can write (nor can it be created)")
        _at_least({"train_limit": self.train_limit}, 2)
        _at_least(
            {
                "evaluator_epochs": self.evaluator_epochs,
                "n_generated": self.n_generated,
                "downstream_epochs": self.downstream_epochs,
                "n_items": self.n_items,
                **{f"request_sizes[{i}]": n for i, n in enumerate(self.request_sizes)},
            },
            1,
        )
        _at_least({"forget_class": self.forget_class, **{f"forget_classes[{i}]": c for i, c in enumerate(self.forget_classes)}}, 0)
        _non_empty("seeds", self.seeds)
        _at_least({f"seeds[{i}]": v for i, v in enumerate(self.seeds)}, 0)
        if len(set(self.seeds)) != len(self.seeds):
            _fail("seeds", "distinct seeds", self.seeds)
        if len(set(self.forget_classes)) != len(self.forget_classes) or len(self.forget_classes) == 1:
            _fail("forget_classes", "[] or two or more distinct classes (the multi-class request)", self.forget_classes)
        _non_empty("request_sizes", self.request_sizes)
        _non_empty("parts", self.parts)
        from .experiment import plan_requests

        plan_requests(self.parts, self.request_sizes, self.forget_class, self.forget_classes)  # names `parts` when it is bad
        if self.n_items not in self.request_sizes:
            _fail("n_items", f"one of request_sizes {self.request_sizes} (the request its sample grid shows)", self.n_items)
        if self.classifier_width <= 0:
            _fail("classifier_width", "a float > 0", self.classifier_width)
        from . import make_gan_config
        from .training import GANTrainConfig

        clash = sorted({"seed", "device"} & set(self.recipe))
        if clash:
            raise ValueError(f"recipe sets {clash}: the notebook's own seed and device are used")
        GANTrainConfig.from_dict({**self.recipe, "seed": self.seed, "device": "cpu"})
        check_methods(self.methods, self.hparams, lambda m, c: make_gan_config(m, None))
        if "gan_cascaded" not in self.methods:
            raise ValueError(f"methods must include 'gan_cascaded' (the study's method; request_sizes runs it), got {self.methods}")
        for m in self.methods:
            if m != "gan_retrain":
                make_gan_config(m, {**self.cascade, **self.hparams.get(m, {})})

    def check_data(self, bundle: Any) -> None:
        _check_classes(bundle, forget_class=self.forget_class)
        for c in self.forget_classes:
            _check_classes(bundle, forget_class=c)
        n = len(bundle.train) if self.train_limit is None else min(self.train_limit, len(bundle.train))
        for name, size in {"n_items": self.n_items, **{f"request_sizes[{i}]": k for i, k in enumerate(self.request_sizes)}}.items():
            if size >= n:
                raise ValueError(f"{name}={size} must be less than the {n} training images (some must be retained)")
