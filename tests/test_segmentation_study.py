"""The segmentation study can carry its conclusions: floors, patches, the U-Net head, cost, and behaviour
on a tiny realistic cohort (a trained model beats the intensity rule; the label mechanics forget the
forgotten subject more than they hurt held-out ones)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from unlearn_lib.cache import ArtifactCache
from unlearn_lib.data import ArrayDataset, load_dataset, simulate_cohort
from unlearn_lib.data.patches import random_patches, tile_patches
from unlearn_lib.floors import IntensityThresholds, LabelAtlas, segmentation_floors
from unlearn_lib.metrics.segmentation import dice_per_class
from unlearn_lib.models.med3d import Med3DSegmenter, load_medicalnet_weights
from unlearn_lib.results import ResultsRecorder
from unlearn_lib.strategies import unlearn
from unlearn_lib.studies.segmentation import (
    SegmentationExperiment,
    cost_table,
    floors_table,
    memorisation_table,
    record_floors,
    tradeoff_table,
)
from unlearn_lib.studies.segmentation.design import FLOOR_GAP, DistinctivePlan, plant_distinctive
from unlearn_lib.utils import Timer

pytestmark = pytest.mark.usefixtures("one_thread")

MODEL = {"depth": 10, "width": 0.125, "stem_stride": 1, "max_pool": True, "head": "unet", "head_channels": 8}
RECIPE = {
    "epochs": 20,
    "optimizer": "adam",
    "lr": 0.008,
    "head_lr_factor": 1.0,
    "weight_decay": 0.0,
    "gamma": 0.93,
    "batch_size": 4,
    "patch_size": 16,
    "patches_per_volume": 8,
    "loss": "dice_ce",
}


def _unlearn(study: SegmentationExperiment, method: str, config: dict, **kwargs):
    """``method`` from the study's baseline on its unlearning sets (tiles and retain crops), on the CPU."""
    return unlearn(
        method,
        study.original,
        retain=study.unlearn_sets["retain"],
        forget=study.unlearn_sets["forget"],
        task=study.task,
        config=config,
        device="cpu",
        **kwargs,
    )


def _dice(pred: torch.Tensor, data: ArrayDataset) -> float:
    return float(np.nanmean(dice_per_class(pred, data.y, 4).numpy()))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> ArrayDataset:
    return simulate_cohort(n_subjects=8, size=24, seed=0, cache_dir=str(tmp_path_factory.mktemp("cohort"))).to_dataset()


@pytest.fixture(scope="module")
def study(cohort, tmp_path_factory):
    """Subject 0 to forget, 6 and 7 held out; the baseline trained once on subjects 0-5."""
    exp = SegmentationExperiment(
        cohort, [0], [6, 7], MODEL, device="cpu", unlearn_patch=16, cache=ArtifactCache(tmp_path_factory.mktemp("models"), enabled=True)
    )
    exp.train_baseline(RECIPE)
    return exp


# -- the floors -------------------------------------------------------------------------------------


def test_intensity_rule_is_perfect_only_when_labels_are_painted_into_the_image(cohort):
    painted = ArrayDataset(torch.tensor([0.05, 0.3, 0.6, 0.9])[cohort.y][:, None].float(), cohort.y, num_classes=4)
    rule = IntensityThresholds().fit(painted.subset(range(6)))
    assert _dice(rule.predict(painted.x[6:]), painted.subset([6, 7])) > 0.99
    # The simulated cohort's image comes from the template's intensities, not from its labels.
    rule = IntensityThresholds().fit(cohort.subset(range(6)))
    assert _dice(rule.predict(cohort.x[6:]), cohort.subset([6, 7])) < 0.85
    assert list(rule.thresholds) == sorted(rule.thresholds)


def test_label_atlas_is_the_voxelwise_majority(cohort):
    same = ArrayDataset(cohort.x[:1].repeat(3, 1, 1, 1, 1), cohort.y[:1].repeat(3, 1, 1, 1), num_classes=4)
    atlas = LabelAtlas().fit(same)
    assert torch.equal(atlas.predict(cohort.x[:2])[1], cohort.y[0])  # identical subjects: a perfect atlas
    atlas = LabelAtlas().fit(cohort.subset(range(6)))
    assert _dice(atlas.predict(cohort.x[6:]), cohort.subset([6, 7])) < 0.8  # real anatomical variation
    with pytest.raises(ValueError, match="atlas grid"):
        atlas.predict(torch.zeros(1, 1, 8, 8, 8))


def test_trained_model_clears_both_floors_on_held_out_subjects(study):
    floors = segmentation_floors(study.training_set(), {"heldout": study.splits["heldout"]}, ("bg", "CSF", "GM", "WM"))
    rec = ResultsRecorder("03", "toy", "med3d")
    record_floors(rec, floors, seed=0)
    rec.add_many(scenario="final", method="original", seed=0, values=study.evaluate_original())
    table = floors_table(rec.frame())
    assert table.loc["baseline model", "dice"] > table.loc["intensity_rule", "dice"] + 0.03
    assert table.loc["baseline model", "dice"] > table.loc["label_atlas", "dice"] + 0.10
    assert table.loc["model − intensity_rule", "dice"] == pytest.approx(
        table.loc["baseline model", "dice"] - table.loc["intensity_rule", "dice"]
    )


# -- unlearning on it ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["noisy_label", "max_loss"])
def test_label_mechanics_hurt_the_forgotten_subject_more_than_held_out_ones(study, method):
    before = study.evaluate_original()
    res = _unlearn(study, method, {"epochs": 6, "lr": 2e-4})
    after = study.evaluate(res.model)
    drop_forget = before[("forget", "dice")] - after[("forget", "dice")]
    drop_heldout = before[("heldout", "dice")] - after[("heldout", "dice")]
    assert drop_forget > 0.05 and drop_forget > drop_heldout + 0.02, (drop_forget, drop_heldout)
    assert res.steps == 6 * len(study.unlearn_sets["forget"])  # one step per (retain crop, forget tile) pair


def test_one_epoch_is_one_pass_over_the_forget_tiles_for_every_method(study):
    tiles, crops = study.unlearn_sets["forget"], study.unlearn_sets["retain"]
    assert len(crops) == len(tiles) >= 6  # 24^3 in (padded) 16^3 tiles: up to 2 x 2 x 2 with brain, each with a retain crop
    assert all(bool((y > 0).any()) for y in tiles.y)
    assert set(tiles.meta["subject"]) == {0} and 0 not in set(crops.meta["subject"])
    assert set(crops.meta["subject"]) <= set(range(1, 6))


def test_retrain_repeats_the_baseline_recipe_and_requests_share_one_original(study, cohort):
    rec = ResultsRecorder("03", "toy", "med3d")
    study.run(["retrain", "noisy_label"], rec, "final", {"noisy_label": {"epochs": 1}})
    assert study.results["retrain"].config == study.recipe.to_dict()
    other = SegmentationExperiment(cohort, [1], [6, 7], MODEL, device="cpu", unlearn_patch=16, cache=study.cache)
    assert other.training_set().x.shape == study.training_set().x.shape
    other.train_baseline(RECIPE)  # the same training subjects in the same order: read from the cache
    assert other.original_info.cached
    assert all(torch.equal(a, b) for a, b in zip(other.original.state_dict().values(), study.original.state_dict().values(), strict=True))


# -- analysis of saved rows ---------------------------------------------------------------------------


def _rows(memorised: float | dict[str, float], seeds: tuple[int, ...] = (0, 1, 2)) -> pd.DataFrame:
    """Two forget requests over ``seeds``; retrain's forget Dice is the baseline's minus ``memorised`` (one
    value, or one per request), give or take a seed's jitter of 0.002."""
    rec = ResultsRecorder("03", "toy", "med3d")
    for g in ("subject 0", "subject 1"):
        gap = memorised[g] if isinstance(memorised, dict) else memorised
        for seed in seeds:
            jitter = 0.002 * (seed - 1)
            base = {
                ("forget", "dice"): 0.9 + jitter,
                ("retain", "dice"): 0.9,
                ("heldout", "dice"): 0.85,
                ("all", "seconds"): 100.0,
                ("all", "steps"): 1000.0,
            }
            rec.add_many(scenario="curve", method="original", seed=seed, values=base, epoch=0, group=g)
            rec.add_many(scenario="final", method="original", seed=seed, values=base, group=g)
            ref = {**base, ("forget", "dice"): 0.9 - gap - jitter, ("all", "seconds"): 90.0, ("all", "steps"): 900.0}
            rec.add_many(scenario="final", method="retrain", seed=seed, values=ref, group=g)
            good = {**ref, ("all", "seconds"): 5.0, ("all", "steps"): 40.0}
            bad = {**base, ("forget", "dice"): 0.0, ("all", "seconds"): 5.0, ("all", "steps"): 40.0}
            for m, v in (("close", good), ("destroys", bad)):
                rec.add_many(scenario="curve", method=m, seed=seed, values=v, epoch=2, group=g)
                rec.add_many(scenario="final", method=m, seed=seed, values=v, group=g)
    return rec.frame()


def test_memorisation_and_tradeoff_tables():
    df = _rows(memorised=0.1)
    memo = memorisation_table(df)
    assert list(memo.index) == ["subject 0", "subject 1"] and memo["memorised"].tolist() == pytest.approx([0.1, 0.1])
    assert memo.signal.eq("holds").all() and memo.informative.all() and memo["training seeds"].eq(3).all()
    table, informative = tradeoff_table(df, epochs=2)
    assert informative and list(table.index) == ["close", "original", "destroys"]
    assert table.loc["close", "distance to retrain"] == pytest.approx(0.0)
    assert table.loc["close", "vs doing nothing"] == "holds"  # closer to retrain than the original on every seed
    assert table.loc["destroys", "vs doing nothing"] == "not reproduced"  # further away than doing nothing
    assert table.loc["destroys", "forget Dice − retrain's"] == pytest.approx(-0.8)  # over-forgetting is visible
    assert table.loc["close", "optimizer steps"] == 40.0
    assert cost_table(df).loc["retrain", "steps"] == "900.0 ± 0.0"
    _, informative = tradeoff_table(_rows(memorised=0.001), epochs=2)
    assert not informative  # no signal: the original is as close to retrain as any method


def test_one_training_seed_is_never_informative():
    """However large the gap, one seed has no interval: the request is not ranked (the verdict rule)."""
    df = _rows(memorised=0.3, seeds=(0,))
    memo = memorisation_table(df)
    assert memo.signal.eq("inconclusive").all() and not memo.informative.any()
    table, informative = tradeoff_table(df, epochs=2)
    assert not informative and list(table.index) == ["original", "close", "destroys"]  # run order, not a ranking


def test_tradeoff_ranks_only_the_requests_with_signal():
    # subject 1's gap sits inside its seeds' jitter: its row would pull "original" towards 0 there; it is left out
    df = _rows(memorised={"subject 0": 0.2, "subject 1": 0.0})
    table, informative = tradeoff_table(df, epochs=2, min_signal=0.01)
    assert informative and table.attrs["requests"] == ["subject 0"] and table.attrs["excluded"] == ["subject 1"]
    assert table.loc["original", "distance to retrain"] == pytest.approx(0.2 / 3, abs=0.002)  # subject 0 alone
    _, informative = tradeoff_table(df, epochs=2, min_signal=0.5)
    assert not informative  # no request reaches the bar: all are shown, none ranked


# -- signal by design (issue #33): a planted subject carries a retrain gap, a typical one does not ------------------


VENTRICLES, TYPICAL, HELD_OUT = [0], [2], [6, 7]


SEEDS = (0, 1)


@pytest.fixture(scope="module")
def gaps(tmp_path_factory) -> dict[str, float]:
    """Mean over ``SEEDS`` of the retrain gap of a ventricles request and of a typical one (one original per seed).

    A model that generalises segments a typical subject it never saw about as well as one it trained on, so
    retraining without a typical subject costs it little Dice on that subject; a subject whose ventricles lie
    far outside the cohort's range teaches something no other subject does, so retraining without it loses
    Dice there (the gap the signal floor reads).

    Measured on this cohort (8 subjects at 24^3, this recipe; ``/tmp`` probe, not kept): original minus
    retrain Dice on the forgotten subject, ventricles / typical, was 0.250 / 0.019 at seed 0, 0.026 / -0.085
    at seed 1 (whose original barely generalises: held-out Dice 0.57 against 0.75) and 0.306 / 0.051 at
    seed 2. One seed can collapse, so the test reads the mean over two seeds (0.138 / -0.033), as the
    notebook does over its training seeds; the margins sit well inside that effect.

    Not tested here, because it does not hold at this scale: "Noisy Label lowers a distinctive subject's
    Dice more than held-out Dice" (forget drop minus held-out drop +0.085, +0.054 and -0.044 at seeds 0-2).
    Notebook 03 judges it per mechanic with a CI over training seeds (``forgets the subject, not the task``).
    """
    bundle = load_dataset("mni152-cohort", n_subjects=8, size=24, seed=0)
    bundle = plant_distinctive(bundle, DistinctivePlan.from_dict({"ventricles": {"subjects": VENTRICLES, "factor": 2.0}}), seed=0)
    cache = ArtifactCache(tmp_path_factory.mktemp("models"), enabled=True)
    out: dict[str, list[float]] = {"ventricles": [], "typical": []}
    for seed in SEEDS:
        first = None
        for name, request in (("ventricles", VENTRICLES), ("typical", TYPICAL)):
            exp = SegmentationExperiment(bundle.train, request, HELD_OUT, MODEL, seed=seed, device="cpu", unlearn_patch=16, cache=cache)
            if first is None:
                exp.train_baseline(RECIPE)
                first = exp
            else:
                exp.adopt_original(first)
            out[name].append(_gap(exp))
    return {name: sum(v) / len(v) for name, v in out.items()}


def _gap(exp: SegmentationExperiment) -> float:
    """Original minus retrain Dice on the forgotten subject (the memorised margin)."""
    retrained = exp.unlearn_method("retrain", {}, ResultsRecorder("03", "toy", "med3d"), "final").model
    return exp.evaluate_original()[("forget", "dice")] - exp.evaluate(retrained)[("forget", "dice")]


def test_a_distinctive_subject_carries_a_retrain_gap_and_a_typical_one_does_not(gaps):
    assert gaps["ventricles"] >= FLOOR_GAP + 0.03, gaps  # above the floor's gap (measured 0.138)
    assert gaps["ventricles"] > gaps["typical"] + 0.08, gaps  # measured 0.171 apart


# -- building blocks -----------------------------------------------------------------------------------


def test_random_patches_are_seeded_and_tiles_cover_the_volume(cohort):
    a = random_patches(cohort.subset([0, 1]), 8, 3, seed=5)
    b = random_patches(cohort.subset([0, 1]), 8, 3, seed=5)
    assert a.x.shape == (6, 1, 8, 8, 8) and torch.equal(a.x, b.x) and list(a.meta["subject"]) == [0, 0, 0, 1, 1, 1]
    assert not torch.equal(a.x, random_patches(cohort.subset([0, 1]), 8, 3, seed=6).x)
    tiles = tile_patches(cohort.subset([0]), 12, keep_background=True)
    assert len(tiles) == 8
    rebuilt = torch.zeros(24, 24, 24, dtype=torch.long)
    for n, (i, j, k) in enumerate((i, j, k) for i in (0, 12) for j in (0, 12) for k in (0, 12)):
        rebuilt[i : i + 12, j : j + 12, k : k + 12] = tiles.y[n]
    assert torch.equal(rebuilt, cohort.y[0])
    with pytest.raises(ValueError, match="exceeds"):
        random_patches(cohort, 32, 1, seed=0)


def test_unet_head_predicts_at_full_resolution_and_exposes_every_level():
    m = Med3DSegmenter(**MODEL, num_classes=4)
    x = torch.randn(1, 1, 16, 16, 16)
    assert m(x).shape == (1, 4, 16, 16, 16)
    feats = m.encode(x)
    assert [f.shape[2] for f in feats] == [16, 8, 4]  # stem (full), layer 1 (1/2), layer 4 (1/4)
    with pytest.raises(ValueError, match="head"):
        Med3DSegmenter(head="fcn")


def test_medicalnet_weights_load_into_the_unet_encoder(tmp_path):
    donor = Med3DSegmenter(depth=10, width=0.125, stem_stride=1, max_pool=True, head="med3d")
    state = {f"module.{k.removeprefix('encoder.')}": v for k, v in donor.state_dict().items() if k.startswith("encoder.")}
    state.update({f"module.conv_seg.{k.removeprefix('decoder.')}": v for k, v in donor.state_dict().items() if k.startswith("decoder.")})
    torch.save({"state_dict": state}, tmp_path / "resnet_10.pth")
    model = Med3DSegmenter(**MODEL, num_classes=4)
    report = load_medicalnet_weights(model, tmp_path / "resnet_10.pth")
    assert torch.equal(model.encoder.conv1.weight, donor.encoder.conv1.weight)
    assert report.missing and all(k.startswith("decoder.") for k in report.missing)  # the U-Net head stays at init
    assert report.unexpected  # MedicalNet's conv_seg has no place in a U-Net head: reported, not loaded


def test_segmentation_unlearning_keeps_the_original_batchnorm_statistics(study):
    # A learning rate of ~0 changes nothing: the mechanics' single-patch batches do not re-estimate BN statistics.
    res = _unlearn(study, "noisy_label", {"epochs": 2, "lr": 1e-12})
    for (name, a), b in zip(study.original.state_dict().items(), res.model.state_dict().values(), strict=True):
        if "running" in name:
            assert torch.equal(a, b), name
    assert res.model.encoder.bn1.training is False and not any(m._forward_pre_hooks for m in res.model.modules())


def test_timer_counts_optimizer_steps_and_unlearning_seconds_exclude_curve_evaluation(study):
    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([p], lr=0.1)
    with Timer() as t:
        for _ in range(3):
            p.sum().backward()
            opt.step()
    p.sum().backward()
    opt.step()  # outside the timer: not counted
    assert t.steps == 3
    import time

    start = time.perf_counter()
    res = _unlearn(study, "noisy_label", {"epochs": 2}, on_epoch=lambda model, epoch, phase: time.sleep(1.0))
    wall = time.perf_counter() - start
    assert res.steps == 2 * len(study.unlearn_sets["forget"])
    # The two one-second curve evaluations are not the method's cost: they are missing from its seconds,
    # whatever the machine's load (a bound on the seconds themselves failed on a busy 2-core CPU).
    assert wall - res.seconds >= 1.9, (wall, res.seconds)
