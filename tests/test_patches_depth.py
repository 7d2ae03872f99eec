"""The depth task of notebook 04 (a patch label that needs the neighbourhood) and the original's learning curves.

The depth labels are checked on a hand-made box "brain" whose in-slice distances are known; the floors
and the CNN on a tiny simulated cohort; the learning curve against the original the study trains.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from unlearn_lib.cache import ArtifactCache
from unlearn_lib.data.cohort import simulate_cohort
from unlearn_lib.data.medical import DEPTH_CLASSES, depth_patches_from_cohort, load_brain_patches, patches_from_cohort, split_by_subject
from unlearn_lib.floors import classification_floors
from unlearn_lib.metrics import predict
from unlearn_lib.studies import medical as M

pytestmark = pytest.mark.usefixtures("one_thread")

SIDE, LO, HI = 24, 4, 20  # a box brain occupying [4, 20) on the two in-slice axes, every slice


def box_cohort(n: int = 2, seed: int = 0) -> SimpleNamespace:
    """Random images over a box-shaped brain; sexes alternate F, M."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((n, SIDE, SIDE, SIDE), dtype=np.int64)
    labels[:, LO:HI, LO:HI, :] = rng.integers(1, 4, size=(n, HI - LO, HI - LO, SIDE))
    images = rng.uniform(0.05, 1.0, size=(n, 1, SIDE, SIDE, SIDE)).astype(np.float32)
    meta = {"subject": np.arange(n), "sex": np.array(["F", "M"] * (n // 2) + ["F"] * (n % 2)), "age": np.full(n, 50.0)}
    return SimpleNamespace(images=images, labels=labels, meta=meta)


def box_depth(i: int, j: int) -> int:
    """In-slice distance from voxel (i, j) of the box to the nearest voxel outside it."""
    return min(i - LO + 1, HI - i, j - LO + 1, HI - j)


def test_depth_labels_are_the_in_slice_distance_to_the_brain_edge():
    cohort = box_cohort()
    data = depth_patches_from_cohort(cohort, patch_size=8, patches_per_subject=30, depth_edges=(0.1, 0.2), rotate=False, seed=3)
    cuts = np.array([0.1, 0.2]) * SIDE
    assert data.num_classes == len(DEPTH_CLASSES) == 3
    assert np.array_equal(data.labels, np.digitize(data.meta["depth"], cuts))
    assert np.bincount(data.labels).tolist() == [20, 20, 20]  # balanced: 10 per class and subject
    possible = {box_depth(i, j) for i in range(LO, HI) for j in range(LO, HI)}
    assert set(data.meta["depth"].astype(int)) <= possible and np.all(data.meta["depth"] == data.meta["depth"].round())
    # Unrotated, the centre pixel is the image voxel itself; find it and check its depth by hand.
    for n in range(0, 60, 7):
        s, subject = int(data.meta["slice"][n]), int(data.meta["subject"][n])
        hits = np.argwhere(cohort.images[subject, 0, :, :, s] == data.x[n, 0, 4, 4].item())
        assert any(box_depth(i, j) == data.meta["depth"][n] for i, j in hits if LO <= i < HI and LO <= j < HI)


def test_rotation_turns_the_window_about_the_labelled_voxel():
    cohort = box_cohort(1)
    kw = {"patch_size": 8, "patches_per_subject": 3, "depth_edges": (0.1, 0.2), "seed": 5}
    flat, turned = depth_patches_from_cohort(cohort, rotate=False, **kw), depth_patches_from_cohort(cohort, rotate=True, **kw)
    # The first class's voxel is drawn before any rotation is, so both runs cut the same first window.
    a, b = flat.x[0, 0].numpy(), turned.x[0, 0].numpy()
    assert a[4, 4] == b[4, 4]
    window, core = a[1:, 1:], b[1:, 1:]  # the odd 7x7 core around the centre is turned as a whole
    dihedral = [np.rot90(w, t) for w in (window, window[:, ::-1]) for t in range(4)]
    assert any(np.array_equal(core, d) for d in dihedral)


def test_female_gamma_changes_female_patches_only():
    cohort = box_cohort(2)
    kw = {"patch_size": 8, "patches_per_subject": 6, "depth_edges": (0.1, 0.2), "rotate": False, "seed": 1}
    plain, gamma = depth_patches_from_cohort(cohort, **kw), depth_patches_from_cohort(cohort, female_gamma=2.0, **kw)
    female = plain.meta["sex"] == "F"
    assert torch.equal(plain.x[~female], gamma.x[~female])
    assert torch.allclose(gamma.x[female], plain.x[female] ** 2)
    assert not torch.equal(plain.x[female], gamma.x[female])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"depth_edges": (0.2, 0.1)}, "depth_edges"),
        ({"depth_edges": (0.1,)}, "depth_edges"),
        ({"female_gamma": 0.0}, "female_gamma"),
        ({"patches_per_subject": 2}, "patches_per_subject"),
        ({"depth_edges": (0.1, 0.45)}, "no brain voxel"),
    ],
)
def test_depth_patches_reject_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        depth_patches_from_cohort(box_cohort(), **{"patch_size": 8, "patches_per_subject": 6, **kwargs})


def test_tissue_task_is_unchanged_and_unknown_tasks_are_refused(tmp_path):
    """The default task still cuts the old tissue patches (notebook 03's cohort is not touched)."""
    train, _ = load_brain_patches(6, 24, patch_size=8, patches_per_subject=6, n_test_subjects=2, cache_dir=tmp_path)
    cohort = simulate_cohort(6, 24, 0, cache_dir=tmp_path)
    ref_train, _ = split_by_subject(patches_from_cohort(cohort, patch_size=8, patches_per_subject=6, seed=0), 2, seed=0)
    assert torch.equal(train.x, ref_train.x) and torch.equal(train.y, ref_train.y)
    with pytest.raises(ValueError, match="task"):
        load_brain_patches(6, 24, patch_size=8, patches_per_subject=6, n_test_subjects=2, task="lobe", cache_dir=tmp_path)


@pytest.fixture(scope="module")
def tiny_depth(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cohort")
    return load_brain_patches(12, 32, patches_per_subject=60, n_test_subjects=4, task="depth", female_gamma=1.5, cache_dir=cache)


def tiny_study(train, test, epochs: int, cache=None) -> M.MedicalStudy:
    recipe = {"epochs": epochs, "lr": 0.01, "schedule": "constant", "batch_size": 32}
    return M.MedicalStudy(train, test, model_kwargs={"width": 0.25}, recipe=recipe, methods=["retrain"], device="cpu", cache=cache)


def test_floors_are_computed_and_below_the_cnn_on_a_tiny_cohort(tiny_depth):
    """The point of the depth task: neither the centre pixel nor a linear model on pixels solves it."""
    train, test = tiny_depth
    floors = classification_floors(train, test)
    test_floor = floors[floors.split == "test"].set_index("floor").value
    assert set(test_floor.index) == {"centre_pixel", "pixel_logreg"}
    assert test_floor["centre_pixel"] < 0.55  # a third is chance; the centre voxel alone gives little
    curve = M.learning_curve(tiny_study(train, test, 15), seed=0, max_epochs=15, patience=15)
    best = int(curve.best.iloc[-1])
    cnn = curve[(curve.epoch == best) & (curve.split == "test")].accuracy.item()
    assert cnn > test_floor.max() + 0.05, (cnn, test_floor.to_dict())


def test_the_curve_at_epoch_e_is_the_original_trained_for_e_epochs(tiny_depth, tmp_path):
    train, test = tiny_depth
    study = tiny_study(train, test, 3)
    curve = M.learning_curve(study, seed=1, max_epochs=3, patience=10)
    assert curve.epoch.max() == 3 and set(curve.split) == {"train", "val", "test"}
    for epochs in (2, 3):
        other = M.with_epochs(study, epochs)
        other.cache = ArtifactCache(tmp_path, enabled=False)
        net, _ = other.original(1)
        acc = float(np.mean(np.asarray(predict(net, test, other.task, "cpu").correct)))
        assert acc == curve[(curve.epoch == epochs) & (curve.split == "test")].accuracy.item()


def test_the_curve_stops_after_patience_and_needs_a_constant_rate(tiny_depth):
    train, test = tiny_depth
    curve = M.learning_curve(tiny_study(train, test, 40), seed=0, max_epochs=40, patience=1)
    last, best = int(curve.epoch.max()), int(curve.best.iloc[-1])
    assert last == best + 1 < 40  # one epoch without improvement ends it
    val = curve[curve.split == "val"].set_index("epoch").accuracy
    assert val[best] == val.max() and val[last] <= val[best]
    assert M.stopping_epoch([curve, curve.assign(best=7), curve.assign(best=9)]) == 7
    cosine = M.MedicalStudy(train, test, model_kwargs={"width": 0.25}, recipe={"epochs": 2, "schedule": "cosine"}, methods=["retrain"])
    with pytest.raises(ValueError, match="constant"):
        M.learning_curve(cosine, seed=0)
    with pytest.raises(ValueError, match="patience"):
        M.learning_curve(tiny_study(train, test, 2), seed=0, patience=0)


def test_without_patience_the_curve_runs_the_fixed_recipe_and_picks_nothing(tiny_depth):
    """The default profile's choice: every epoch is drawn, and the recipe's epoch count is kept even when
    validation peaked earlier (a pick on a noisy plateau is what drifted across CPUs)."""
    from unlearn_lib.results import ResultsRecorder

    train, test = tiny_depth
    study = tiny_study(train, test, 6)
    rec = ResultsRecorder("04_medical_fairness", "brain-patches", "small_cnn", run_id="t")
    assert M.run_curves(study, [0], rec, max_epochs=6, patience=None) == 6
    curve = M.learning_curve(study, seed=0, max_epochs=6, patience=None)
    assert curve.epoch.max() == 6 and len(curve) == 6 * 3  # never stopped early
    stopped = M.learning_curve(study, seed=0, max_epochs=6, patience=1)
    common = stopped.epoch.max()
    pd.testing.assert_frame_equal(  # the same replay: stopping only cuts it short
        curve[curve.epoch <= common].drop(columns="best").reset_index(drop=True), stopped.drop(columns="best").reset_index(drop=True)
    )
    stop = pd.DataFrame(rec.rows).query("metric == 'stop_epoch'").value
    assert stop.tolist() == [6.0]


def test_a_curve_is_cached_and_read_back_without_training(tiny_depth, tmp_path, monkeypatch):
    train, test = tiny_depth
    study = tiny_study(train, test, 2, cache=ArtifactCache(tmp_path, enabled=True))
    first = M.learning_curve(study, seed=0, max_epochs=2, patience=5)

    def refuse(*args, **kwargs):
        raise AssertionError("a cached curve was trained again")

    monkeypatch.setattr(M.curves, "_replay", refuse)
    again = M.learning_curve(study, seed=0, max_epochs=2, patience=5)
    pd.testing.assert_frame_equal(first, again)
    with pytest.raises(AssertionError, match="trained again"):
        M.learning_curve(study, seed=0, max_epochs=2, patience=4)  # another stopping rule: another curve


def test_stop_table_reads_the_picked_epoch_and_the_gap():
    rows = []
    for seed, last in ((0, 4), (1, 2)):
        for epoch in range(1, last + 1):
            for split, acc in (("train", 0.5 + 0.1 * epoch), ("val", 0.5), ("test", 0.45)):
                rows.append(
                    {
                        "scenario": M.CURVE,
                        "method": "original",
                        "seed": seed,
                        "split": split,
                        "metric": "accuracy",
                        "value": acc,
                        "epoch": epoch,
                    }
                )
        rows.append(
            {"scenario": M.CURVE, "method": "original", "seed": seed, "split": "val", "metric": "best_epoch", "value": 1.0, "epoch": None}
        )
    rows.append({"scenario": M.CURVE, "method": "original", "seed": 0, "split": "all", "metric": "stop_epoch", "value": 3.0, "epoch": None})
    table = M.stop_table(pd.DataFrame(rows))
    assert table.loc[0, "train − test"] == pytest.approx(0.8 - 0.45) and table.loc[0, "picked epochs"] == 3
    assert np.isnan(table.loc[1, "train"])  # seed 1's curve stopped at epoch 2: shown as missing, not dropped


def test_curve_rows_do_not_count_as_the_original_in_the_floor_margins(tiny_depth):
    """The floors' margin averages the original's test rows over scenarios: early epochs must not enter."""
    from unlearn_lib.floors import floor_margins
    from unlearn_lib.results import ResultsRecorder

    train, test = tiny_depth
    rec = ResultsRecorder("04_medical_fairness", "brain-patches", "small_cnn", run_id="t")
    M.run_curves(tiny_study(train, test, 3), [0], rec, max_epochs=3, patience=3)
    rec.add(scenario="size:0.1", method="original", seed=0, split="test", metric="accuracy", value=0.9)
    rec.add(scenario="floors", method="centre_pixel", seed=0, split="test", metric="accuracy", value=0.4)
    df = pd.DataFrame(rec.rows)
    assert floor_margins(df).loc["original", "accuracy"] == pytest.approx(0.9)
    assert set(df[df.scenario == M.CURVE].method) == {M.curves.CURVE_METHOD}
