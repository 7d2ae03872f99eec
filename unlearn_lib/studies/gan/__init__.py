"""GAN unlearning (study 4, Sun et al. 2023): DCGAN training and cache, the GAN strategy family,
the evaluator classifier and the experiment used by notebook 05.

``unlearn_gan("gan_cascaded", gan, retain=..., forget=..., recipe=..., forget_class=7)``

The networks are in the model registry (``dcgan_generator``, ``dcgan_discriminator``); the GAN
metrics are in :mod:`unlearn_lib.metrics.gan`. GAN strategies live in ``gan/strategies/``, one file
each, registered with ``@register_gan`` in their own registry, since their request (a GAN pair, the
original recipe) is not a classifier's.
"""

from __future__ import annotations

from . import strategies as _strategies  # noqa: F401  (registers every GAN strategy)
from .base import (
    GAN_STRATEGIES,
    GANStrategy,
    GANUnlearnRequest,
    GANUnlearnResult,
    get_gan_strategy,
    list_gan_strategies,
    make_gan_config,
    register_gan,
    unlearn_gan,
)
from .canaries import CanarySet, plant_canaries, plant_in_dataset
from .canary_metrics import extraction_rates, extraction_threshold
from .canary_request import CanaryPlan, canary_signal, canary_values, request_canary_signal
from .cascade import CascadeConfig, make_substitutes, run_cascade
from .evaluator import load_or_train_evaluator
from .experiment import ForgetRequest, GANExperiment, plan_requests
from .plotting import sample_grids
from .report import (
    GAN_COLUMNS,
    PAPER_SPEEDUP,
    canary_columns,
    quality_gap_by_size,
    quality_gap_figure,
    quality_table,
    request_scenarios,
    scenario_table,
    speedup_figure,
    speedup_table,
    summary_parts,
)
from .training import (
    GAN,
    GANTrainConfig,
    gan_step,
    load_or_train_gan,
    make_gan,
    sample,
    train_gan,
)

__all__ = [
    "GAN",
    "GAN_COLUMNS",
    "GAN_STRATEGIES",
    "PAPER_SPEEDUP",
    "CanaryPlan",
    "CanarySet",
    "CascadeConfig",
    "ForgetRequest",
    "GANExperiment",
    "GANStrategy",
    "GANTrainConfig",
    "GANUnlearnRequest",
    "GANUnlearnResult",
    "canary_columns",
    "canary_signal",
    "canary_values",
    "extraction_rates",
    "extraction_threshold",
    "gan_step",
    "get_gan_strategy",
    "list_gan_strategies",
    "load_or_train_evaluator",
    "load_or_train_gan",
    "make_gan",
    "make_gan_config",
    "make_substitutes",
    "plan_requests",
    "plant_canaries",
    "plant_in_dataset",
    "quality_gap_by_size",
    "quality_gap_figure",
    "quality_table",
    "register_gan",
    "request_canary_signal",
    "request_scenarios",
    "run_cascade",
    "sample",
    "sample_grids",
    "scenario_table",
    "speedup_figure",
    "speedup_table",
    "summary_parts",
    "train_gan",
    "unlearn_gan",
]
