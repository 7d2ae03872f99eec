"""The explorer's drill-downs on tiny synthetic result dirs (no committed results needed): segmentation
slices by subject, epoch and slice in both ``slices.npz`` layouts, and a GAN item request's samples beside
their nearest forgotten and held-out images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from unlearn_lib.explore import compute as C
from unlearn_lib.explore.views import GANView, SegmentationView
from unlearn_lib.results import ResultsRecorder
from unlearn_lib.studies.segmentation import read_slices, save_slices

H = 12


def _dice_rows(rec: ResultsRecorder, methods: list[str]) -> None:
    rec.add_many(scenario="final", method="original", seed=0, values={("forget", "dice"): 0.9})
    for m in methods:
        frame = pd.DataFrame({"id": [0, 0], "label": [1, 2], "label_name": ["GM", "WM"], "dice": [0.5, 0.6], "mae": 0.1, "loss": 0.2})
        rec.add_examples(frame, scenario="final", method=m, seed=0, split="forget", group="subject 0")


def _seg_run(tmp_path: Path, slices: dict[str, np.ndarray]) -> Path:
    """A notebook-03 results dir holding one run with these slices and per-subject Dice."""
    rec = ResultsRecorder("03_segmentation_unlearning", "toy", "med3d")
    _dice_rows(rec, ["original", "retrain", "scrub", "finetune"])
    run = rec.write(tmp_path / "results" / "03_segmentation_unlearning", {"forget_requests": [[0]]})
    save_slices(slices, run / "slices.npz")
    return tmp_path / "results"


def _new_layout() -> dict[str, np.ndarray]:
    """Subjects 0 (forget) and 3 (retain), three kept slices, epochs 20 and 50; scrub changes between
    epochs, finetune stopped before 50; original and retrain only once."""
    rng = np.random.default_rng(0)
    out: dict[str, np.ndarray] = {
        "slice_index": np.array([3, 6, 9], dtype=np.int16),
        "subjects": np.array([0, 3]),
        "roles": np.array(["forget", "retain"]),
        "epochs": np.array([20, 50]),
    }
    for s in (0, 3):
        out[f"subject{s}/image"] = rng.random((3, H, H)).astype(np.float16)
        out[f"subject{s}/truth"] = rng.integers(0, 4, (3, H, H)).astype(np.uint8)
        for m in ("original", "retrain", "scrub", "finetune"):
            out[f"subject{s}/final/{m}"] = rng.integers(0, 4, (3, H, H)).astype(np.uint8)
        out[f"subject{s}/epoch20/scrub"] = np.zeros((3, H, H), np.uint8)  # nothing predicted yet: no overlay at 20
        out[f"subject{s}/epoch50/scrub"] = out[f"subject{s}/final/scrub"]
        out[f"subject{s}/epoch20/finetune"] = rng.integers(0, 4, (3, H, H)).astype(np.uint8)
    return out


def test_segmentation_sliders_pick_subject_epoch_and_slice(tmp_path):
    slices = _new_layout()
    v = SegmentationView(C.discover_studies(_seg_run(tmp_path, slices)))
    assert v.message.value == "" and v.method.value == "scrub" and set(v.method.options) == {"scrub", "finetune"}
    assert [label for label, _ in v.subject.options] == ["subject0 (forget)", "subject3 (retain)"]
    assert [value for _, value in v.epoch.options] == [20, 50, None] and v.epoch.value == 50
    assert (v.slice.min, v.slice.max, v.slice.value) == (0, 2, 1) and not v.slice.disabled
    assert "axial slices 3, 6, 9" in v.note.value and "unlearning epochs 20, 50" in v.note.value
    assert "need a run that saves more" not in v.note.value
    seen = {v.images[0].value}
    v.slice.value = 0
    seen.add(v.images[0].value)
    v.epoch.value = 20
    seen.add(v.images[0].value)
    v.subject.value = "subject3"
    seen.add(v.images[0].value)
    assert len(seen) == 4 and all(seen)  # every control redraws a different picture
    assert v.frame is not None and list(v.frame.columns) == ["scrub", "retrain", "original"]


def test_segmentation_figure_shows_the_epoch_and_slice_asked_for():
    saved = read_slices(_new_layout())
    fig = C.segmentation_figure(saved, "subject0", ["scrub", "retrain", "finetune"], epoch=20, slice_pos=2)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["image", "truth", "scrub", "retrain (final)", "finetune"]
    assert np.array_equal(axes[0].images[0].get_array(), saved.image("subject0")[2].T)
    assert np.array_equal(axes[4].images[1].get_array().data, saved.data["subject0/epoch20/finetune"][2].T)
    assert axes[2].images[1].get_array().mask.all()  # scrub at epoch 20 predicted background only
    assert "axial slice 9" in fig._suptitle.get_text() and "epoch 20" in fig._suptitle.get_text()
    fig = C.segmentation_figure(saved, "subject0", ["finetune"], epoch=50)
    assert any("not saved" in t.get_text() for t in fig.axes[2].texts)  # finetune stopped before epoch 50
    with pytest.raises(C.Missing, match="slice_pos 3"):
        C.segmentation_figure(saved, "subject0", ["scrub"], slice_pos=3)
    with pytest.raises(C.Missing, match="epoch 30"):
        C.segmentation_figure(saved, "subject0", ["scrub"], epoch=30)
    with pytest.raises(C.Missing, match="'forget'"):
        C.segmentation_figure(saved, "forget", ["scrub"])


def test_segmentation_reads_the_older_one_slice_layout(tmp_path):
    rng = np.random.default_rng(1)
    old = {
        role: {k: rng.integers(0, 4, (H, H)).astype(np.uint8) for k in ("image", "truth", "original", "retrain", "scrub")}
        for role in ("forget", "retain")
    }
    v = SegmentationView(C.discover_studies(_seg_run(tmp_path, old)))
    assert v.message.value == "" and v.images[0].value
    assert [value for _, value in v.subject.options] == ["forget", "retain"] and v.method.options == ("scrub",)
    assert v.slice.disabled and v.slice.max == 0 and [value for _, value in v.epoch.options] == [None]
    assert "one middle slice" in v.note.value
    png = v.images[0].value
    v.subject.value = "retain"
    assert v.images[0].value and v.images[0].value != png
    fig = C.segmentation_figure(read_slices(save_slices(old, tmp_path / "s.npz")), "forget", ["scrub"])
    assert np.array_equal(fig.axes[2].images[1].get_array().data, old["forget"]["scrub"].T)


def test_segmentation_unreadable_slices_give_a_message(tmp_path):
    v = SegmentationView(C.discover_studies(_seg_run(tmp_path, {"junk": np.zeros(3)})))
    assert "not readable" in v.note.value and "saved no readable slices.npz" in v.message.value
    assert v.images[0].value == b""


# -- GAN item requests ------------------------------------------------------------------------------------------


def _digits(rng: np.random.Generator, n: int) -> np.ndarray:
    return (rng.random((n, 1, 28, 28)) * 255).astype(np.uint8)


def _gan_run(tmp_path: Path, keep_items: bool) -> tuple[Path, dict[str, np.ndarray]]:
    """A notebook-05 run of one item request (current key scheme): the original copies forgotten images,
    gan_retrain draws something else."""
    rng = np.random.default_rng(0)
    forgotten, heldout = _digits(rng, 16), _digits(rng, 16)
    key = "items_16/16/seed0"
    arrays = {
        f"samples/{key}/original": forgotten[[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]],
        f"samples/{key}/gan_retrain": _digits(rng, 12),
    }
    if keep_items:
        arrays[f"forgotten/{key}"], arrays[f"heldout/{key}"] = forgotten, heldout
    rec = ResultsRecorder("05_gan_unlearning", "mnist-embedded", "dcgan")
    for m, ratio in (("original", 0.0), ("gan_retrain", 1.0)):
        rec.add_many(
            scenario="items_16",
            method=m,
            seed=0,
            values={("forget", "nn_distance_ratio"): ratio, ("generated", "classifier_fid"): 5.0},
            forget_size=16,
        )
    for k, a in arrays.items():
        rec.add_array(k, a)
    rec.write(tmp_path / "results" / "05_gan_unlearning", {"dataset": "mnist-embedded"})
    return tmp_path / "results", arrays


def test_gan_item_request_shows_nearest_forgotten_and_held_out(tmp_path):
    results, arrays = _gan_run(tmp_path, keep_items=True)
    v = GANView(C.discover_studies(results))
    assert v.scenario.value == "items_16/16/seed0" and v.message.value == ""
    assert "nn_distance_ratio" in v.frame.columns  # the study's own metric beside the pictures
    v.method.value = "original"
    d = v.nearest
    assert (d["to forgotten"] == 0).all() and d["closer to forgotten"].all()  # copies of forgotten items
    assert list(d["forgotten index"]) == [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]
    assert "12 sample(s) sit closer to a forgotten image" in v.tables[0].value and v.images[1].value
    png = v.images[1].value
    v.method.value = "gan_retrain"
    assert v.images[1].value != png and (v.nearest["to forgotten"] > 0).all()
    heldout = arrays["heldout/items_16/16/seed0"].reshape(16, -1) / 255.0
    sample = arrays["samples/items_16/16/seed0/gan_retrain"][0].reshape(-1) / 255.0
    assert v.nearest["to held-out"].iloc[0] == pytest.approx(np.sqrt(((heldout - sample) ** 2).sum(1)).min(), rel=1e-5)


def test_gan_item_request_without_saved_items_says_so(tmp_path):
    results, _ = _gan_run(tmp_path, keep_items=False)
    v = GANView(C.discover_studies(results))
    assert v.message.value == "" and v.images[0].value  # the grid still draws
    assert v.images[1].value == b"" and v.nearest is None
    assert "forgot items this run did not save" in v.tables[0].value


def test_gan_request_keys_old_and_new():
    assert C.gan_request("items_64/64/seed2") == ("items_64", 64.0, 2)
    assert C.gan_request("items/16") == ("items", 16.0, None)
    assert C.gan_request("class") == ("class", None, None)
    assert C.is_class_request("class_3+8") and not C.is_class_request("items_16")
    assert C.request_classes("class_3+8") == [3, 8] and C.request_classes("class", 7) == [7]


def _graded_examples(with_scores: bool) -> pd.DataFrame:
    """Forget and retain examples of two models; the retrained one lost the memorised forget examples."""
    rows = []
    for method in ("retrain", "scrub"):
        for i, (split, mem) in enumerate([("forget", 0.9), ("forget", 0.0), ("retain", 0.0), ("retain", 0.8)]):
            p = 0.1 if (method == "retrain" and split == "forget" and mem > 0.5) else 0.95
            row = {"scenario": "high", "method": method, "split": split, "id": i, "label": 1, "prob_0": 1 - p, "prob_1": p}
            rows.append({**row, "memorisation": mem} if with_scores else row)
    return pd.DataFrame(rows)


def test_memorisation_view_pairs_each_example_score_with_the_models_confidence():
    frame = C.memorisation_frame(_graded_examples(True), "high", ["scrub", "retrain"])
    memorised = frame[(frame.split == "forget") & (frame.memorisation > 0.5)].set_index("method")["p(label)"]
    assert memorised["retrain"] == pytest.approx(0.1) and memorised["scrub"] == pytest.approx(0.95)
    assert len(frame) == 8
    assert C.memorisation_figure(_graded_examples(True), "high", ["scrub", "retrain"]).axes[0].get_xlabel() == "memorisation score"
    with pytest.raises(C.Missing, match="no memorisation scores"):
        C.memorisation_frame(_graded_examples(False), "high", ["scrub"])
