"""Medical classifier unlearning: the five analyses of study 2 as library code, so notebook 04 stays thin.

Study 2 (arXiv 2407.07539) asks whether unlearning a medical classifier is effective, what it costs,
and whether it treats groups of patients or samples differently. :class:`MedicalStudy` holds one
training / test set with patient metadata and runs any registered strategy through
:class:`~unlearn_lib.experiments.ClassifierExperiment`, adding per-group (sex) accuracies. The
``run_*`` functions are the analyses; each records tidy rows under a scenario ``"<analysis>:<level>"``:

* ``curve`` - the original recipe's train / validation / test accuracy per epoch, and its epoch count:
  the recipe's own, or under early stopping the epoch at which validation accuracy stops improving
  (:func:`run_curves`; originals and retraining then use it);
* ``tuning:<config>`` - each method's small lr x epochs search, selected on validation data only
  (:func:`tuned_hparams` hands the picks to the later analyses, as the study tunes before comparing);
* ``size:<fraction>`` - random forget sets of growing size;
* ``sex:<F|M>`` - same-size forget sets of only female / only male samples;
* ``difficulty:<easy|hard>`` - forget sets from the lowest / highest per-class loss quantile of the
  original model;
* ``mislabelled:<fraction>`` - that share of training labels flipped before the original is trained
  (its own originals); the forget set is the flipped samples, also scored against their true labels;
* ``subject:<id>`` - every training patch of one patient (a different one per seed; the signal table
  pools them into one "forget a patient" request);
* ``budget:<request>`` - the tuned methods at equal optimizer-step budgets on one request (:mod:`.budgets`);
* ``salun_mask:<fraction>`` - SalUn's mask-sparsity sweep.

:class:`MedicalPlan` checks every analysis's parameters before any training. The ``*_table`` /
``plot_*`` functions read the rows back (from the re-read ``metrics.csv``), so every table and figure
is a pivot of measured numbers; :func:`claims_table` sets the study's claims beside them.

One original model is trained per seed on everything but that seed's validation partition; every
forget split of that seed shares the partition (see :func:`unlearn_lib.data.indices_forget_split`), so
the original never saw validation data and all analyses of one seed start from the same model.

The package has one module per job: :mod:`.data` (loading and showing the data), :mod:`.study`
(:class:`MedicalStudy`), :mod:`.analyses` (the ``run_*`` functions and their parameter checks),
:mod:`.plan` (:class:`MedicalPlan`), :mod:`.budgets` (equal step budgets), :mod:`.tables` (pivots of the saved metrics), :mod:`.stats` (the
sex-bias test), :mod:`.figures` (``plot_*``) and :mod:`.claims` (the claims table and ``summary.md``).
"""

from __future__ import annotations

from .analyses import (
    difficulty_forget_split,
    mislabelled_request,
    run_difficulty,
    run_forget_sizes,
    run_mislabelled,
    run_salun_sweep,
    run_sex,
    run_subject,
    run_tuning,
)
from .budgets import budget_frontier, budget_headline, budget_runs, plot_budget_frontier, run_budgets
from .claims import CLAIMS, claims_table, summary_parts, summary_tables
from .curves import CURVE, curve_table, learning_curve, plot_curves, replays_curves, run_curves, stop_table, stopping_epoch, with_epochs
from .data import data_overview, plot_patches
from .figures import plot_difficulty, plot_forget_sizes, plot_salun_sweep, plot_sex, plot_subject, plot_tuning
from .plan import ANALYSES, MedicalPlan
from .stats import SEX_BIAS_HARM, check_margin, holm, min_detectable_effect, sex_bias_test
from .study import DEFAULT_METHODS, MedicalStudy
from .tables import (
    ONE_PATIENT,
    analysis_rows,
    difficulty_bias_table,
    difficulty_table,
    forget_size_table,
    mislabelled_table,
    mislabelled_tuning_table,
    salun_sweep_table,
    select_by_validation,
    sex_table,
    signal_table,
    subject_table,
    tuned_hparams,
    tuned_hparams_by_size,
    tuning_edges,
    tuning_table,
    vs_retrain,
)

__all__ = [
    "ANALYSES",
    "CLAIMS",
    "CURVE",
    "DEFAULT_METHODS",
    "ONE_PATIENT",
    "SEX_BIAS_HARM",
    "MedicalPlan",
    "MedicalStudy",
    "analysis_rows",
    "budget_frontier",
    "budget_headline",
    "budget_runs",
    "check_margin",
    "claims_table",
    "curve_table",
    "data_overview",
    "difficulty_bias_table",
    "difficulty_forget_split",
    "difficulty_table",
    "forget_size_table",
    "holm",
    "learning_curve",
    "min_detectable_effect",
    "mislabelled_request",
    "mislabelled_table",
    "mislabelled_tuning_table",
    "plot_budget_frontier",
    "plot_curves",
    "plot_difficulty",
    "plot_forget_sizes",
    "plot_patches",
    "plot_salun_sweep",
    "plot_sex",
    "plot_subject",
    "plot_tuning",
    "replays_curves",
    "run_budgets",
    "run_curves",
    "run_difficulty",
    "run_forget_sizes",
    "run_mislabelled",
    "run_salun_sweep",
    "run_sex",
    "run_subject",
    "run_tuning",
    "salun_sweep_table",
    "select_by_validation",
    "sex_bias_test",
    "sex_table",
    "signal_table",
    "stop_table",
    "stopping_epoch",
    "subject_table",
    "summary_parts",
    "summary_tables",
    "tuned_hparams",
    "tuned_hparams_by_size",
    "tuning_edges",
    "tuning_table",
    "vs_retrain",
    "with_epochs",
]
