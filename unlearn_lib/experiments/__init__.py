"""Experiments: the one skeleton (:class:`Experiment`) and the classifier experiment.

The segmentation experiment lives with its study helpers in :mod:`unlearn_lib.studies.segmentation`, the GAN
experiment in :mod:`unlearn_lib.studies.gan.experiment`; both specialise :class:`Experiment` too.
"""

from __future__ import annotations

from .base import Experiment, Values, model_factory
from .classifier import GAP_SPLITS, ClassifierExperiment, curve_frame, final_rows

__all__ = ["GAP_SPLITS", "ClassifierExperiment", "Experiment", "Values", "curve_frame", "final_rows", "model_factory"]
