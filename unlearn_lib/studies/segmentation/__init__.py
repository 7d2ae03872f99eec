"""Subject-level unlearning for 3D segmentation, as library code so notebook 03 stays thin.

:class:`SegmentationExperiment` holds one cohort split by subject (forget / retain / held-out), trains
the baseline with the Med3D recipe, applies each strategy with a per-epoch callback that records
Dice and MAE on every split, and writes tidy rows. Per-epoch rows are scenario ``curve`` with the
``epoch`` column set (epoch 0 is the baseline); the end of each run is scenario ``final``. :func:`horizon_table` reads the
20- and 50-epoch values back from ``metrics.csv`` with their change relative to the baseline.

A package (no module over 500 lines); every name is importable from here:

* :mod:`.recipe` - the training recipe, the subject split and per-method epochs;
* :mod:`.experiment` - :class:`SegmentationExperiment`;
* :mod:`.tables` - tables read back from saved rows;
* :mod:`.figures` - the cohort, curve and slice figures;
* :mod:`.slices` - the kept slices (``slices.npz``);
* :mod:`.summary` - ``summary.md``'s parts and the batch merger (``unlearn_lib.studies.segmentation:merge_parts``);
* :mod:`.verdicts` - the paper's lens beside retrain's, judged over training seeds;
* :mod:`.design` - distinctive and site requests and their signal floor (import it as
  ``unlearn_lib.studies.segmentation.design``).
"""

from __future__ import annotations

from ...floors import record_floors
from .experiment import SegmentationExperiment
from .figures import cohort_figure, dice_curves, slices_figure
from .recipe import SegTrainConfig, subject_splits, train_segmenter, with_epochs
from .slices import SavedSlices, read_slices, save_slices
from .summary import merge_parts, summary_parts
from .tables import (
    acted_labels,
    ci_text,
    cost_table,
    curves_frame,
    distance_to_retrain,
    floors_table,
    horizon_spread,
    horizon_table,
    inter_subject_dice,
    memorisation_table,
    per_seed,
    ranked_requests,
    retain_kept,
    seed_values,
    tradeoff_table,
)
from .tuning import SEG_TUNING_FACTORS, seg_tuning_table, tune_mechanics
from .verdicts import MECHANICS, PAPER_HEADLINE, claims_table, paper_lens_table

__all__ = [
    "MECHANICS",
    "PAPER_HEADLINE",
    "SEG_TUNING_FACTORS",
    "SavedSlices",
    "SegTrainConfig",
    "SegmentationExperiment",
    "acted_labels",
    "ci_text",
    "claims_table",
    "cohort_figure",
    "cost_table",
    "curves_frame",
    "dice_curves",
    "distance_to_retrain",
    "floors_table",
    "horizon_spread",
    "horizon_table",
    "inter_subject_dice",
    "memorisation_table",
    "merge_parts",
    "paper_lens_table",
    "per_seed",
    "ranked_requests",
    "read_slices",
    "record_floors",
    "retain_kept",
    "save_slices",
    "seed_values",
    "seg_tuning_table",
    "slices_figure",
    "subject_splits",
    "summary_parts",
    "tradeoff_table",
    "train_segmenter",
    "tune_mechanics",
    "with_epochs",
]
