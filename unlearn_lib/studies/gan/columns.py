"""The GAN study's metric headers, declared once.

Why a module of its own: the per-request tables and the quality table (:mod:`.report`) and the
verdicts against retrain (:mod:`.verdicts`, which the report imports) name the same metrics, and each
header is written here only.
"""

from __future__ import annotations

__all__ = ["GAN_COLUMNS", "QUALITY_COLUMNS"]

#: (split, metric) -> column header of the notebook's and the benchmark's tables.
GAN_COLUMNS: dict[tuple[str, str], str] = {
    ("generated", "forgotten_class_share"): "forgotten-class share",
    ("generated", "classifier_fid"): "classifier-FID",
    ("generated", "classifier_fid_other"): "classifier-FID (other digits)",
    ("generated", "classifier_is"): "classifier IS",
    ("forget", "d_membership_auc"): "D membership AUC",
    ("test", "downstream_accuracy"): "downstream acc.",
    ("test_other_classes", "downstream_accuracy"): "downstream acc. (other digits)",
    ("forget", "nn_distance_ratio"): "NN distance forget / held-out",
    ("all", "seconds"): "seconds",
    ("all", "steps"): "optimizer steps",
    ("all", "speed_up"): "speed-up vs retrain",
}

#: The quality table's columns: the criterion, the FID, and the two factors of the IS.
QUALITY_COLUMNS: dict[tuple[str, str], str] = {
    **{k: GAN_COLUMNS[k] for k in [("generated", "classifier_is"), ("test", "downstream_accuracy"), ("generated", "classifier_fid")]},
    ("generated", "effective_classes"): "effective classes",
    ("generated", "sample_ambiguity"): "sample ambiguity",
}
