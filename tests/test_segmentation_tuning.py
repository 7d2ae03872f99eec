"""Notebook 03's mechanics tuned on validation subjects (issue #33 item 4), and the per-subject Dice kept
beside the slices (item 5): the pick reads no forgotten label, validation subjects are never trained on,
a tuned mechanic that did not act is labelled, and bad tuning input is refused before any run."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from test_segmentation_unlearning import _volumes  # the tiny sphere-in-shells subjects

from unlearn_lib.cache import ArtifactCache
from unlearn_lib.data import ArrayDataset
from unlearn_lib.explore.compute import Missing, subject_dice_at
from unlearn_lib.metrics.segmentation import dice_per_class
from unlearn_lib.results import ResultsRecorder
from unlearn_lib.studies.segmentation import (
    SegmentationExperiment,
    acted_labels,
    read_slices,
    save_slices,
    seg_tuning_table,
    tune_mechanics,
)
from unlearn_lib.studies.segmentation.tuning import seg_tuning_score

pytestmark = pytest.mark.usefixtures("one_thread")

MODEL = {"depth": 10, "width": 0.0625, "stem_stride": 1, "max_pool": False}
RECIPE = {"epochs": 8, "optimizer": "adam", "lr": 1e-2, "head_lr_factor": 1.0}
FACTORS = [0.1, 1.0, 10.0, 100.0, 1000.0]


def _experiment(data: ArrayDataset, cache_dir, **kwargs) -> SegmentationExperiment:
    return SegmentationExperiment(
        data, [0], [5], MODEL, validation_subjects=[4], device="cpu", group="subject 0", cache=ArtifactCache(cache_dir), **kwargs
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> SegmentationExperiment:
    exp = _experiment(_volumes(6), tmp_path_factory.mktemp("models"))
    exp.train_baseline(RECIPE)
    return exp


def test_validation_subjects_are_never_trained_on_nor_reported(trained):
    assert len(trained.training_set()) == 4  # subjects 0-3: neither 4 (validation) nor 5 (held out)
    assert trained.splits["validation"].meta["subject"].tolist() == [4]
    assert trained.splits["heldout"].meta["subject"].tolist() == [5]
    assert set(trained.eval_splits) == {"retain", "forget", "heldout"}  # validation is read by tuning only
    with pytest.raises(ValueError, match=r"validation_subjects \[5\] are also held-out subjects"):
        SegmentationExperiment(_volumes(6), [0], [5], MODEL, validation_subjects=[5], device="cpu")


def test_the_pick_reads_no_label_of_the_forgotten_subject(trained, tmp_path):
    """Scramble the forgotten subject's truth: Noisy Label's loss only reads its shape, so every candidate,
    every score and the pick must be the same (a score that read the forget labels would move)."""
    rec = ResultsRecorder("03", "toy", "med3d")
    first = tune_mechanics(trained, ["noisy_label"], {"noisy_label": {"epochs": 3}}, rec, epochs=2, factors=FACTORS)
    scrambled = _volumes(6)
    scrambled.y[0] = torch.randint(0, 4, scrambled.y[0].shape, generator=torch.Generator().manual_seed(9))
    other = _experiment(scrambled, tmp_path)
    other.original, other.recipe = trained.original, trained.recipe  # the same original model
    second = tune_mechanics(other, ["noisy_label"], {"noisy_label": {"epochs": 3}}, None, epochs=2, factors=FACTORS)
    cols = ["value", "score", "forget moved", "validation moved", "validation kept"]
    pd.testing.assert_frame_equal(first.candidates[cols], second.candidates[cols])
    assert first.picks == second.picks and first.picks["noisy_label"]["epochs"] == 3  # the pick keeps the full schedule
    cand = first.candidates
    assert len(cand) == len(FACTORS) and cand.picked.sum() == 1 and (cand.steps == cand.steps.iloc[0]).all()
    # Measured: 1000x the reference rate moves the forgotten subject's whole segmentation (forget moved 1.0),
    # 0.1x barely (0.016); a movement measure that could not tell them apart fails here.
    assert cand.set_index("factor").loc[1000.0, "forget moved"] > cand.set_index("factor").loc[0.1, "forget moved"] + 0.05
    # The saved rows give the same table as the search: the pick, its edge flag and the search's cost.
    table = seg_tuning_table(rec.frame())
    row = table.loc[("subject 0", "noisy_label")]
    pick = cand[cand.picked].iloc[0]
    assert row["picked lr"] == f"{pick.value:.3g}" and row["candidates"] == len(FACTORS)
    assert row["on edge"] == (pick.factor in (min(FACTORS), max(FACTORS)))
    assert row["search steps"] == int(cand.steps.sum())


def test_the_score_prefers_keeping_the_task_then_moving_the_forgotten_subject_alone():
    kept_selective = seg_tuning_score(forget_moved=0.4, val_moved=0.1, val_kept=0.95, keep=0.9)
    kept_uniform = seg_tuning_score(forget_moved=0.4, val_moved=0.4, val_kept=0.92, keep=0.9)
    wrecked = seg_tuning_score(forget_moved=0.9, val_moved=0.1, val_kept=0.5, keep=0.9)
    less_wrecked = seg_tuning_score(forget_moved=0.9, val_moved=0.1, val_kept=0.8, keep=0.9)
    assert kept_selective < kept_uniform < less_wrecked < wrecked
    assert seg_tuning_score(0.5, 0.0, float("nan"), 0.9) > 2  # no validation Dice: never preferred


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"methods": ["retrain"]}, r"'retrain' has no learning rate to tune"),
        ({"factors": [1.0]}, r"tune_factors must be a list of at least two distinct positive numbers"),
        ({"factors": [1.0, 1.0]}, r"tune_factors must be"),
        ({"epochs": 0}, r"tune_epochs must be an int >= 1"),
        ({"keep": 0.0}, r"tune_keep must be a share"),
    ],
)
def test_bad_tuning_input_is_refused_before_any_candidate(trained, kwargs, match):
    args = {"methods": ["noisy_label"], "epochs": 1, "factors": FACTORS, "keep": 0.9, **kwargs}
    with pytest.raises(ValueError, match=match):
        tune_mechanics(trained, args.pop("methods"), {}, None, **args)


def test_tuning_needs_validation_subjects(tmp_path):
    exp = SegmentationExperiment(_volumes(6), [0], [5], MODEL, device="cpu", cache=ArtifactCache(tmp_path))
    exp.original = torch.nn.Identity()  # never run: refused first
    with pytest.raises(ValueError, match="tuning reads validation subjects"):
        tune_mechanics(exp, ["noisy_label"], {}, None, epochs=1)


def _acted_rows(moves: dict[str, float]) -> pd.DataFrame:
    """One request over 3 seeds: original forget Dice 0.9, retrain's 0.7, each method's 0.9 - moves[m]."""
    rec = ResultsRecorder("03", "toy", "med3d")
    for seed in (0, 1, 2):
        base = {("forget", "dice"): 0.9 + 0.001 * seed, ("all", "seconds"): 1.0, ("all", "steps"): 10.0}
        rec.add_many(scenario="curve", method="original", seed=seed, values=base, epoch=0, group="g")
        rec.add_many(scenario="final", method="retrain", seed=seed, values={**base, ("forget", "dice"): 0.7}, group="g")
        for m, moved in moves.items():
            rec.add_many(scenario="curve", method=m, seed=seed, values={**base, ("forget", "dice"): 0.9 - moved}, epoch=5, group="g")
    rec.add_many(scenario="tuning", method="tuned_idle", seed=0, values={("validation", "tuning_score"): 0.0}, group="g", tuning_lr=1e-4)
    return rec.frame()


def test_a_method_that_did_not_move_is_labelled_and_a_tuned_one_is_tuned_to_identity():
    df = _acted_rows({"tuned_idle": 0.01, "idle": 0.01, "acts": 0.2})
    labels = acted_labels(df, 5, ["g"], ["tuned_idle", "idle", "acts"])
    assert labels == {"tuned_idle": "tuned to identity", "idle": "did not act", "acts": "moved"}
    assert acted_labels(df, 5, [], ["acts"]) == {}  # no request with signal: no way to go, nothing labelled


def test_each_kept_slice_carries_its_subjects_whole_volume_dice(trained, tmp_path):
    """Item 5: the Dice kept beside the original's slices is the evaluation's Dice of that subject."""
    trained.evaluate_original()
    expected = trained._outputs["original"]["forget"].dice_per_class[0]
    saved = read_slices(save_slices(trained.predictions, tmp_path / "slices.npz"))
    np.testing.assert_allclose(saved.dice("subject0", "original"), expected, rtol=1e-5)
    with torch.no_grad():
        pred = trained.task.predictions(trained.logits(copy.deepcopy(trained.original).eval(), trained.splits["forget"].x[:1]))
    np.testing.assert_allclose(saved.dice("subject0", "original"), dice_per_class(pred, trained.splits["forget"].y[:1], 4)[0], rtol=1e-5)
    table = subject_dice_at(saved, "subject0", ["original"], None, ["CSF", "GM", "WM"])
    assert list(table.index) == ["CSF", "GM", "WM", "mean"] and table.loc["CSF", "original"] == pytest.approx(float(expected[0]))
    with pytest.raises(Missing, match="kept no Dice"):
        subject_dice_at(saved, "subject0", ["no_such_method"], 3)
