"""The artifact cache: hits return the stored weights without training, anything damaged, foreign or
unsafe is trained again (never loaded), and the experiments give the same numbers warm as cold."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from torch import nn

from unlearn_lib import cache as cache_mod
from unlearn_lib.cache import ArtifactCache, CacheWarning, fingerprint
from unlearn_lib.data import ArrayDataset, make_forget_split
from unlearn_lib.results import ResultsRecorder
from unlearn_lib.studies import medical as M
from unlearn_lib.studies.classifiers import ClassifierExperiment
from unlearn_lib.studies.segmentation import SegmentationExperiment

pytestmark = pytest.mark.usefixtures("one_thread")

PARTS = {"data": "abc", "model": "linear", "recipe": {"epochs": 1, "lr": 0.1}, "seed": 0, "device": "cpu"}


class Trainer:
    """A ``train`` callable that counts its calls and sets the weights from a seed (a stand-in for training)."""

    def __init__(self, seconds: float = 12.5) -> None:
        self.calls = 0
        self.seconds = seconds

    def __call__(self, model: nn.Module) -> float:
        self.calls += 1
        g = torch.Generator().manual_seed(100 + self.calls)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn(p.shape, generator=g))
        return self.seconds


def build() -> nn.Module:
    return nn.Linear(3, 2)


def weights(model: nn.Module) -> list[torch.Tensor]:
    return [t.clone() for t in model.state_dict().values()]


def same(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(weights(a), weights(b), strict=True))


def test_second_call_is_a_hit_with_the_same_weights_and_stored_seconds(tmp_path):
    store, train = ArtifactCache(tmp_path, enabled=True), Trainer(seconds=312.0)
    first, info1 = store.load_or_train("original", PARTS, build, train)
    assert train.calls == 1 and not info1.cached and info1.seconds == 312.0
    assert info1.path == tmp_path / "original" / f"{store.key('original', **PARTS)}.pt" and info1.path.is_file()
    prov = json.loads(info1.path.with_suffix(".json").read_text())
    assert prov["parts"] == PARTS and prov["seconds"] == 312.0 and prov["torch"] == torch.__version__
    assert {"machine", "date", "sha256", "code_version"} <= set(prov)
    assert "trained in 312 s (now cached)" in info1.describe()

    second, info2 = store.load_or_train("original", PARTS, build, Trainer(seconds=1.0))
    assert train.calls == 1 and info2.cached and info2.seconds == 312.0  # the measured time, not the reader's
    assert same(first, second) and not second.training
    assert info2.describe().startswith("original loaded from cache, trained in 312 s on ")
    assert f"torch {torch.__version__}" in info2.describe()


@pytest.mark.parametrize(
    "change",
    [{"recipe": {"epochs": 2, "lr": 0.1}}, {"seed": 1}, {"data": "abd"}, {"device": "cuda"}],
    ids=["recipe", "seed", "data", "device"],
)
def test_any_other_part_is_a_miss(tmp_path, change):
    store = ArtifactCache(tmp_path, enabled=True)
    store.load_or_train("original", PARTS, build, Trainer())
    train = Trainer()
    _, info = store.load_or_train("original", {**PARTS, **change}, build, train)
    assert train.calls == 1 and not info.cached
    _, other_kind = store.load_or_train("retrain", PARTS, build, train)  # the kind is part of the key too
    assert not other_kind.cached


def test_the_model_code_version_is_part_of_the_key(tmp_path, monkeypatch):
    store = ArtifactCache(tmp_path, enabled=True)
    before = store.key("original", **PARTS)
    monkeypatch.setattr(cache_mod, "code_version", lambda: "edited-model")
    assert store.key("original", **PARTS) != before


def test_fingerprint_follows_inputs_targets_and_dtype():
    x, y = torch.rand(4, 1, 2, 2), torch.tensor([0, 1, 0, 1])
    base = fingerprint(ArrayDataset(x, y))
    assert fingerprint(ArrayDataset(x.clone(), y.clone(), meta={"sex": np.array(list("FMFM"))})) == base  # metadata train nothing
    assert fingerprint(ArrayDataset(x, torch.tensor([0, 1, 1, 1]))) != base
    assert fingerprint(ArrayDataset(x.double(), y)) != base
    assert fingerprint(ArrayDataset(x.reshape(4, 1, 4, 1), y)) != base
    with pytest.raises(ValueError, match=r"tensor \.x and \.y"):
        fingerprint([1, 2])


def _entry(tmp_path) -> tuple[ArtifactCache, nn.Module, os.PathLike]:
    store = ArtifactCache(tmp_path, enabled=True)
    model, info = store.load_or_train("original", PARTS, build, Trainer())
    return store, model, info.path


def _retrained(store: ArtifactCache, match: str) -> tuple[nn.Module, Trainer]:
    train = Trainer()
    with pytest.warns(CacheWarning, match=match):
        model, info = store.load_or_train("original", PARTS, build, train)
    assert train.calls == 1 and not info.cached
    again, info2 = store.load_or_train("original", PARTS, build, Trainer())  # the entry was rewritten, sound
    assert info2.cached and same(model, again)
    return model, train


def test_truncated_checkpoint_is_retrained_never_loaded(tmp_path, monkeypatch):
    store, _, pt = _entry(tmp_path)
    data = pt.read_bytes()
    pt.write_bytes(data[: len(data) // 2])
    loads = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **kw: loads.append(a) or real_load(*a, **kw))
    _retrained(store, "checksum differs")
    assert len(loads) == 1  # only the sound rewritten entry was read, never the truncated one


def test_truncated_checkpoint_with_a_matching_checksum_is_retrained(tmp_path):
    """Even if the provenance was rewritten to match, a file torch cannot read is not used."""
    store, _, pt = _entry(tmp_path)
    pt.write_bytes(pt.read_bytes()[:100])
    meta = pt.with_suffix(".json")
    prov = json.loads(meta.read_text())
    prov["sha256"] = cache_mod.hashlib.sha256(pt.read_bytes()).hexdigest()
    meta.write_text(json.dumps(prov))
    _retrained(store, "weights_only=True")


@pytest.mark.parametrize(
    "edit",
    [
        lambda p: {**p, "parts": {**p["parts"], "seed": 7}},
        lambda p: {**p, "kind": "retrain"},
        lambda p: {**p, "cache_version": -1},
        lambda p: "not an object",
    ],
    ids=["parts", "kind", "version", "garbage"],
)
def test_provenance_that_does_not_match_is_retrained(tmp_path, edit):
    store, _, pt = _entry(tmp_path)
    meta = pt.with_suffix(".json")
    meta.write_text(json.dumps(edit(json.loads(meta.read_text()))))
    _retrained(store, "provenance")


def test_missing_provenance_is_retrained(tmp_path):
    store, _, pt = _entry(tmp_path)
    pt.with_suffix(".json").unlink()
    _retrained(store, "provenance file missing")


class Bomb:
    """Unpickling this runs ``os.system``: what a malicious checkpoint would do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_bomb_is_refused_not_executed(tmp_path):
    store, _, pt = _entry(tmp_path)
    marker = tmp_path / "bomb-went-off"
    torch.save({"weight": Bomb(str(marker))}, pt)
    meta = pt.with_suffix(".json")  # a provenance that vouches for the bomb: the checksum check alone would pass
    prov = json.loads(meta.read_text())
    prov["sha256"] = cache_mod.hashlib.sha256(pt.read_bytes()).hexdigest()
    meta.write_text(json.dumps(prov))
    _retrained(store, "weights_only=True")
    assert not marker.exists(), "the checkpoint's pickle was executed"


def test_state_dict_that_does_not_fit_is_retrained(tmp_path):
    store, _, _ = _entry(tmp_path)
    with pytest.warns(CacheWarning, match="does not fit"):
        _, info = store.load_or_train("original", PARTS, lambda: nn.Linear(3, 5), Trainer())
    assert not info.cached


def test_disabled_cache_always_trains_and_writes_nothing(tmp_path, monkeypatch):
    for store in (ArtifactCache(tmp_path, enabled=False), _env_disabled(tmp_path, monkeypatch)):
        assert not store.enabled
        train = Trainer()
        for _ in range(2):
            _, info = store.load_or_train("original", PARTS, build, train)
            assert not info.cached and info.path is None
        assert train.calls == 2 and "cache off" in info.describe()
        assert not any(tmp_path.iterdir())
    monkeypatch.setenv("UNLEARN_NO_CACHE", "0")
    assert ArtifactCache(tmp_path).enabled


def _env_disabled(tmp_path, monkeypatch) -> ArtifactCache:
    monkeypatch.setenv("UNLEARN_NO_CACHE", "1")
    return ArtifactCache(tmp_path)


def test_default_root_is_unlearn_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("UNLEARN_CACHE", str(tmp_path / "here"))
    assert ArtifactCache().root == tmp_path / "here"


def test_bad_key_parts_and_kind_are_refused(tmp_path):
    store = ArtifactCache(tmp_path, enabled=True)
    with pytest.raises(ValueError, match="kind"):
        store.key("../up", **PARTS)
    with pytest.raises(TypeError, match="JSON data"):
        store.key("original", model=object())


# -- the experiments ---------------------------------------------------------------------------------

RECIPE = {"epochs": 1, "batch_size": 32}
METHODS = ["retrain", "finetune"]
HP = {"finetune": {"epochs": 1}}
TIMES = {"seconds", "speed_up"}


def _classifier(data, task, split, store):
    exp, seconds = ClassifierExperiment.prepare(
        data, data, split, task, model_kwargs={"width": 0.25}, train_config=RECIPE, device="cpu", mia_folds=2, cache=store
    )
    out = exp.run(METHODS, ResultsRecorder("t", "tiny", "small_cnn"), "class", HP, seconds)
    return exp, seconds, out


def _untimed(out):
    return {m: {k: v for k, v in vals.items() if k[1] not in TIMES} for m, vals in out.items()}


def test_classifier_experiment_warm_equals_cold(tiny_images, tiny_task, tiny_split, tmp_path):
    cold_exp, cold_s, cold = _classifier(tiny_images, tiny_task, tiny_split, ArtifactCache(tmp_path, enabled=True))
    assert not cold_exp.original_info.cached and not cold_exp.results["retrain"].cached
    off_exp, _, off = _classifier(tiny_images, tiny_task, tiny_split, ArtifactCache(tmp_path / "off", enabled=False))
    warm_exp, warm_s, warm = _classifier(tiny_images, tiny_task, tiny_split, ArtifactCache(tmp_path, enabled=True))

    assert warm_exp.original_info.cached and warm_s == cold_s  # the original's stored, measured time
    assert "original loaded from cache" in warm_exp.original_info.describe()
    assert same(warm_exp.original, cold_exp.original) and same(off_exp.original, cold_exp.original)
    res = warm_exp.results["retrain"]
    assert res.cached and res.provenance.cached and res.seconds == cold_exp.results["retrain"].seconds
    assert res.config == warm_exp.recipe.to_dict()  # the notebooks' invariant holds for a cached reference too
    assert same(res.model, cold_exp.results["retrain"].model)
    assert warm["retrain"][("all", "seconds")] == cold["retrain"][("all", "seconds")]
    # speed-up divides the stored retrain time by this run's finetune time
    assert warm["finetune"][("all", "speed_up")] == pytest.approx(res.seconds / warm_exp.results["finetune"].seconds)
    assert _untimed(warm) == _untimed(cold) == _untimed(off)


def test_classifier_retrain_refuses_hyper_parameters_before_the_lookup(tiny_images, tiny_task, tiny_split, tmp_path):
    exp, _, _ = _classifier(tiny_images, tiny_task, tiny_split, ArtifactCache(tmp_path, enabled=True))
    with pytest.raises(ValueError, match="retrain takes no hyper-parameters"):
        exp._unlearn(exp.datasets(), "retrain", {"epochs": 3})


def _volumes(n: int) -> ArrayDataset:
    g = torch.Generator().manual_seed(0)
    y = (torch.rand(n, 8, 8, 8, generator=g) * 3).long()
    x = y[:, None].float() / 3 + 0.05 * torch.randn(n, 1, 8, 8, 8, generator=g)
    return ArrayDataset(x, y, {"subject": np.arange(n)}, num_classes=3)


def test_segmentation_baseline_and_retrain_come_from_the_cache(tmp_path):
    def one(store):
        kwargs = {"depth": 10, "width": 0.0625, "max_pool": False}
        exp = SegmentationExperiment(_volumes(4), [0], [3], kwargs, device="cpu", cache=store)
        seconds = exp.train_baseline({"epochs": 1, "lr": 1e-2})
        out = exp.run(["retrain"], ResultsRecorder("03", "toy", "med3d"), "final")
        return exp, seconds, out

    store = ArtifactCache(tmp_path, enabled=True)
    cold, cold_s, cold_out = one(store)
    warm, warm_s, warm_out = one(store)
    assert not cold.original_info.cached and warm.original_info.cached and warm_s == cold_s
    assert warm.results["retrain"].cached and warm.results["retrain"].seconds == cold.results["retrain"].seconds
    assert same(warm.original, cold.original) and same(warm.results["retrain"].model, cold.results["retrain"].model)
    assert _untimed(warm_out) == _untimed(cold_out)


def test_medical_original_is_cached_per_seed(shared_quadrant_images, tmp_path):
    def study():
        return M.MedicalStudy(
            shared_quadrant_images,
            shared_quadrant_images.subset(np.arange(0, 120, 2)),
            model_kwargs={"width": 0.25},
            recipe={"epochs": 1, "batch_size": 32},
            methods=["retrain"],
            device="cpu",
            mia_folds=2,
            cache=ArtifactCache(tmp_path, enabled=True),
        )

    def run(s):
        split = make_forget_split(s.labels, "random", fraction=0.1, seed=0, val_fraction=s.val_fraction)
        out = s.run(split, 0, "size", ResultsRecorder("04", "tiny", "small_cnn"))
        return s.experiment(split, 0), out

    cold, warm = study(), study()
    cold_exp, cold_out = run(cold)
    warm_exp, warm_out = run(warm)
    assert not cold.original_infos[0].cached and warm.original_infos[0].cached
    assert warm.original(0)[1] == cold.original(0)[1] and same(warm.original(0)[0], cold.original(0)[0])
    assert warm_exp.original_info is warm.original_infos[0]
    assert warm_exp.results["retrain"].cached and not cold_exp.results["retrain"].cached
    assert _untimed(warm_out) == _untimed(cold_out)


def test_gan_and_evaluator_use_the_artifact_cache(tiny_images, tmp_path):
    from unlearn_lib.studies.gan import load_or_train_evaluator, load_or_train_gan

    recipe = {"iterations": 2, "batch_size": 16, "latent_dim": 8, "g_width": 4, "d_width": 4, "device": "cpu"}
    gan, info = load_or_train_gan(tiny_images, recipe, cache_dir=tmp_path)
    assert not info["cached"] and (tmp_path / "gan").is_dir() and info["path"].endswith(".pt")
    assert json.loads((tmp_path / "gan" / f"{info['artifact'].key}.json").read_text())["seconds"] == info["seconds"]
    again, info2 = load_or_train_gan(tiny_images, recipe, cache_dir=tmp_path)
    assert info2["cached"] and info2["seconds"] == info["seconds"] and "loaded from cache" in info2["artifact"].describe("original GAN")
    assert same(gan.generator, again.generator) and same(gan.discriminator, again.discriminator)

    kw = {"model_kwargs": {"width": 0.25}, "config": {"epochs": 1}, "device": "cpu", "cache_dir": tmp_path}
    net, ev = load_or_train_evaluator(tiny_images, tiny_images, **kw)
    net2, ev2 = load_or_train_evaluator(tiny_images, tiny_images, **kw)
    assert not ev["cached"] and ev2["cached"] and ev2["test_accuracy"] == ev["test_accuracy"] and same(net, net2)
    assert (tmp_path / "evaluator").is_dir()
    _, off = load_or_train_evaluator(tiny_images, tiny_images, **{**kw, "cache_dir": tmp_path / "off"}, use_cache=False)
    assert not off["cached"] and off["path"] is None and not (tmp_path / "off").exists()


def test_a_study_moved_under_studies_keeps_its_models_cache_names():
    """03's and 05's recipes are keyed by the names they were first cached under, so moving the study's
    package did not orphan trained models; a subclass (another recipe) keeps its own name."""
    from dataclasses import dataclass

    from unlearn_lib.cache import recipe_parts
    from unlearn_lib.experiments.base import training_parts
    from unlearn_lib.studies.gan import training as gan_training
    from unlearn_lib.studies.segmentation.recipe import SegTrainConfig
    from unlearn_lib.tasks import SegmentationTask

    data = ArrayDataset(torch.zeros(2, 1, 4, 4, 4), torch.zeros(2, 4, 4, 4, dtype=torch.long))
    parts = training_parts(data, "med3d", {}, 0, 0, SegTrainConfig(), SegmentationTask(2), "cpu")
    assert parts["recipe"]["type"] == "unlearn_lib.segmentation.recipe.SegTrainConfig"

    @dataclass
    class Longer(SegTrainConfig):
        pass

    other = training_parts(data, "med3d", {}, 0, 0, Longer(), SegmentationTask(2), "cpu")
    assert other["recipe"]["type"].endswith("Longer")
    gan = recipe_parts(gan_training.GANTrainConfig(), drop=("device",))
    assert gan["type"] == "unlearn_lib.gan.training.GANTrainConfig"
    from unlearn_lib.cache import cache_name

    with pytest.raises(ValueError, match="cache_name needs a class"):
        cache_name(SegTrainConfig, "")
