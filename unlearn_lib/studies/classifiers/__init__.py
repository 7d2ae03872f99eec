"""The classifier studies, notebooks 01 (quickstart) and 02 (SCRUB and its baselines); 04 builds on them.

:mod:`.experiment` holds :class:`ClassifierExperiment` (one original, every method on a forget request,
the classifier metrics; :mod:`.outputs` reads a diverged model's outputs), :mod:`.data` the notebooks'
subsampled data sizes, :mod:`.params` the notebooks' parameter schema and :mod:`.scrub` 02's claims and
forget-quality tables. Only the experiment and `subsample` are re-exported here: a task's key follows the modules its kernel
imported, so 04, which uses the experiment, must not import 02's claims.
"""

from __future__ import annotations

from .data import subsample
from .experiment import GAP_SPLITS, ClassifierExperiment, curve_frame, final_rows

__all__ = ["GAP_SPLITS", "ClassifierExperiment", "curve_frame", "final_rows", "subsample"]
