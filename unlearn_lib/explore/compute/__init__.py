"""Pure functions behind the explorer: tables and figures from saved results, testable without widgets.

Every function takes DataFrames or arrays (what :mod:`unlearn_lib.results` loads) and returns a
DataFrame or a matplotlib figure; a selection that matches nothing raises :class:`Missing`, whose
message the views show instead of a traceback.

One module per view family, re-exported here so that ``from unlearn_lib.explore import compute as C``
reaches every function: :mod:`.load` (discovering studies, reading their runs; :class:`Missing`),
:mod:`.screen`, :mod:`.contrast`, :mod:`.attack`, :mod:`.segmentation` and :mod:`.gan`.
"""

from __future__ import annotations

from .attack import AttackPoint, attack_at, attack_curve, attack_figure, attack_scores, attack_summary
from .contrast import (
    cka_table,
    classwise_accuracy,
    embedding_figure,
    feature_embedding_figure,
    memorisation_figure,
    memorisation_frame,
    prediction_figure,
    prediction_matrix,
)
from .gan import (
    gan_grid_figure,
    gan_item_images,
    gan_request,
    gan_samples,
    gan_table,
    is_class_request,
    nearest_figure,
    nearest_frame,
    request_classes,
)
from .load import Missing, discover_studies, load_study, load_study_examples, representation_arrays, run_label, study_kind
from .screen import REFERENCES, cost_closeness_frame, cost_figure, method_table, run_diff
from .segmentation import saved_slices, segmentation_dice, segmentation_figure, subject_dice_at

__all__ = [
    "REFERENCES",
    "AttackPoint",
    "Missing",
    "attack_at",
    "attack_curve",
    "attack_figure",
    "attack_scores",
    "attack_summary",
    "cka_table",
    "classwise_accuracy",
    "cost_closeness_frame",
    "cost_figure",
    "discover_studies",
    "embedding_figure",
    "feature_embedding_figure",
    "gan_grid_figure",
    "gan_item_images",
    "gan_request",
    "gan_samples",
    "gan_table",
    "is_class_request",
    "load_study",
    "load_study_examples",
    "memorisation_figure",
    "memorisation_frame",
    "method_table",
    "nearest_figure",
    "nearest_frame",
    "prediction_figure",
    "prediction_matrix",
    "representation_arrays",
    "request_classes",
    "run_diff",
    "run_label",
    "saved_slices",
    "segmentation_dice",
    "segmentation_figure",
    "study_kind",
    "subject_dice_at",
]
