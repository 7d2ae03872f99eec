"""Experiments: the one skeleton (:class:`Experiment`) and the machinery every classifier study shares.

The skeleton builds or loads the original through the cache, runs each method on a request and records
the rows; each study's own experiment specialises it in its package:
:mod:`unlearn_lib.studies.classifiers` (01, 02, and 04 through it), :mod:`unlearn_lib.studies.segmentation`
(03) and :mod:`unlearn_lib.studies.gan` (05). Beside it: validation tuning (:mod:`.tuning`), equal step
budgets (:mod:`.budgets`), the forgetting-signal rule (:mod:`.forget_signal`), memorisation scores
(:mod:`.memorisation`) and mislabelled requests (:mod:`.mislabelled`).
"""

from __future__ import annotations

from .base import Experiment, Values, model_factory

__all__ = ["Experiment", "Values", "model_factory"]
