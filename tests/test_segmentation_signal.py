"""Issue #33's behaviour on a tiny trained cohort: a planted subject carries a signal, a typical one does not.

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

from __future__ import annotations

import pytest

from unlearn_lib.cache import ArtifactCache
from unlearn_lib.data import load_dataset
from unlearn_lib.results import ResultsRecorder
from unlearn_lib.segmentation import SegmentationExperiment
from unlearn_lib.segmentation.design import FLOOR_GAP, DistinctivePlan, plant_distinctive

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
VENTRICLES, TYPICAL, HELD_OUT = [0], [2], [6, 7]


SEEDS = (0, 1)


@pytest.fixture(scope="module")
def gaps(tmp_path_factory) -> dict[str, float]:
    """Mean over ``SEEDS`` of the retrain gap of a ventricles request and of a typical one (one original per seed)."""
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
