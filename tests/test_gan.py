"""DCGAN models, the GAN recipe and its cache, the GAN strategy family and the GAN experiment."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from unlearn_lib.data import ArrayDataset
from unlearn_lib.metrics.gan import discriminator_scores
from unlearn_lib.models import build_model
from unlearn_lib.results import ResultsRecorder
from unlearn_lib.studies.gan import (
    GAN,
    GANExperiment,
    GANTrainConfig,
    list_gan_strategies,
    load_or_train_gan,
    make_gan,
    make_substitutes,
    sample,
    sample_grids,
    train_gan,
    unlearn_gan,
)
from unlearn_lib.studies.gan.base import GANUnlearnRequest
from unlearn_lib.utils import Timer

pytestmark = pytest.mark.usefixtures("one_thread")


TINY = {"iterations": 4, "batch_size": 16, "latent_dim": 8, "g_width": 4, "d_width": 4, "device": "cpu"}


def _split(data: ArrayDataset, cls: int = 1) -> tuple[ArrayDataset, ArrayDataset]:
    keep = data.y != cls
    return data.subset(torch.nonzero(keep).ravel().numpy()), data.subset(torch.nonzero(~keep).ravel().numpy())


@pytest.mark.parametrize(("size", "channels"), [(28, 1), (32, 3)])
def test_dcgan_shapes(size, channels):
    g = build_model("dcgan_generator", latent_dim=8, channels=channels, image_size=size, width=4)
    d = build_model("dcgan_discriminator", channels=channels, image_size=size, width=4)
    x = g(torch.randn(5, 8))
    assert x.shape == (5, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert d(x).shape == (5,)


def test_dcgan_refuses_bad_arguments():
    with pytest.raises(ValueError, match="image_size"):
        build_model("dcgan_generator", image_size=64)
    with pytest.raises(ValueError, match="width"):
        build_model("dcgan_discriminator", width=0)
    with pytest.raises(ValueError, match="channels"):
        build_model("dcgan_generator", channels=2)


def test_recipe_validation():
    with pytest.raises(ValueError, match="iterations"):
        GANTrainConfig(iterations=0)
    with pytest.raises(ValueError, match="beta1"):
        GANTrainConfig(beta1=1.0)
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        GANTrainConfig.from_dict({"epochs": 3})
    with pytest.raises(ValueError, match="device"):
        GANTrainConfig(device="tpu")
    with pytest.raises(ValueError, match="seed"):
        GANTrainConfig(seed=-1)


def test_training_is_deterministic_and_cached(tiny_images, tmp_path):
    gan1, info1 = load_or_train_gan(tiny_images, TINY, cache_dir=tmp_path)
    assert not info1["cached"] and info1["seconds"] > 0
    gan2, info2 = load_or_train_gan(tiny_images, TINY, cache_dir=tmp_path)
    assert info2["cached"] and info2["path"] == info1["path"]
    assert info2["seconds"] == pytest.approx(info1["seconds"])
    for a, b in zip(gan1.generator.state_dict().values(), gan2.generator.state_dict().values()):
        assert torch.equal(a, b)
    torch.load(info1["path"], weights_only=True)  # plain tensors and numbers only
    gan3, _ = load_or_train_gan(tiny_images, TINY, cache_dir=tmp_path, use_cache=False)  # same seed, trained again
    assert torch.equal(sample(gan1.generator, 6, 8, seed=1), sample(gan3.generator, 6, 8, seed=1))
    _, info4 = load_or_train_gan(tiny_images, {**TINY, "seed": 1}, cache_dir=tmp_path)
    assert info4["path"] != info1["path"] and not info4["cached"]
    assert len(list(tmp_path.glob("*.tmp"))) == 0


def test_unlearn_gan_validates_before_work(tiny_images):
    retain, forget = _split(tiny_images)
    gan = make_gan(GANTrainConfig(**TINY), 1, 28)
    with pytest.raises(ValueError, match="gan_cascaded"):
        unlearn_gan("cascade", gan, retain=retain, forget=forget, recipe=TINY)
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        unlearn_gan("gan_cascaded", gan, retain=retain, forget=forget, recipe=TINY, config={"epochs": 1})
    with pytest.raises(ValueError, match="empty"):
        unlearn_gan("gan_cascaded", gan, retain=retain, forget=forget.subset([]), recipe=TINY)
    with pytest.raises(ValueError, match="needs a classifier"):
        unlearn_gan(
            "gan_cascaded", gan, retain=retain, forget=forget, recipe=TINY, forget_class=1, config={"substitute_source": "generator"}
        )
    with pytest.raises(ValueError, match="substitute_source"):
        unlearn_gan("gan_cascaded", gan, retain=retain, forget=forget, recipe=TINY, config={"substitute_source": "noise"})
    with pytest.raises(ValueError, match="learn_steps"):
        unlearn_gan("gan_finetune", gan, retain=retain, forget=forget, recipe=TINY, config={"unlearn_steps": 0, "learn_steps": 0})


@pytest.mark.parametrize("method", list_gan_strategies())
def test_every_strategy_runs_and_leaves_the_input_alone(tiny_images, method):
    retain, forget = _split(tiny_images)
    gan = make_gan(GANTrainConfig(**TINY), 1, 28)
    before = copy.deepcopy(gan.generator.state_dict())
    res = unlearn_gan(
        method,
        gan,
        retain=retain,
        forget=forget,
        recipe=TINY,
        config=None if method == "gan_retrain" else {"rounds": 1, "unlearn_steps": 2, "learn_steps": 1, "batch_size": 16},
    )
    assert res.seconds > 0 and isinstance(res.gan, GAN)
    for k, v in gan.generator.state_dict().items():
        assert torch.equal(v, before[k])
    assert any(not torch.equal(v, before[k]) for k, v in res.gan.generator.state_dict().items())
    if method != "gan_retrain":
        assert len(res.history) == 3  # rounds * (unlearn_steps + learn_steps) steps of the shared loop


def test_unlearn_gan_warm_up_changes_no_result(tiny_images):
    """unlearn_gan takes one untimed zero-rate step on copies before its timer (a process's first
    optimizer and backward pass cost seconds), once per generator class, device and image shape; the
    unlearned GAN is the same whether or not the warm-up ran before it."""
    from unlearn_lib.strategies import base

    retain, forget = _split(tiny_images)
    gan = make_gan(GANTrainConfig(**TINY), 1, 28)
    before = copy.deepcopy(gan.state_dict())
    hp = {"rounds": 1, "unlearn_steps": 2, "learn_steps": 1, "batch_size": 16}
    base._WARMED.clear()
    with Timer() as outer:  # what the model cache's step count sees around a training
        first = unlearn_gan("gan_cascaded", gan, retain=retain, forget=forget, recipe=TINY, config=hp)
    assert [k for k in base._WARMED if k[0] == type(gan.generator).__qualname__], "no warm-up before the timer"
    again = unlearn_gan("gan_cascaded", gan, retain=retain, forget=forget, recipe=TINY, config=hp)  # already warm
    assert outer.steps == first.steps == again.steps, "the warm-up took optimizer steps that a surrounding count sees"
    for net in ("generator", "discriminator"):
        for k, v in first.gan.state_dict()[net].items():
            assert torch.equal(v, again.gan.state_dict()[net][k]), f"{net}.{k} depends on whether the warm-up ran"
            assert torch.equal(gan.state_dict()[net][k], before[net][k]), f"the warm-up changed the input's {net}.{k}"


def test_retrain_repeats_the_original_recipe(tiny_images):
    retain, forget = _split(tiny_images)
    cfg = GANTrainConfig(**TINY)
    res = unlearn_gan("gan_retrain", make_gan(cfg, 1, 28), retain=retain, forget=forget, recipe=cfg)
    ref = train_gan(make_gan(cfg, 1, 28), retain, cfg, torch.device("cpu"))
    assert torch.equal(sample(res.gan.generator, 4, 8), sample(ref.generator, 4, 8))


def test_fake_label_pushes_the_forget_images_down(tiny_images):
    retain, forget = _split(tiny_images)
    cfg = GANTrainConfig(**{**TINY, "iterations": 10})
    gan = train_gan(make_gan(cfg, 1, 28), tiny_images, cfg, torch.device("cpu"))

    def margin(g: GAN) -> float:
        return float(discriminator_scores(g.discriminator, forget.x).mean() - discriminator_scores(g.discriminator, retain.x).mean())

    hp = {"rounds": 1, "unlearn_steps": 6, "learn_steps": 0, "batch_size": 16, "lr_d": 5e-3, "lr_g": 1e-4}
    fl = unlearn_gan("gan_fake_label_only", gan, retain=retain, forget=forget, recipe=cfg, config=hp, forget_class=1)
    ft = unlearn_gan("gan_finetune", gan, retain=retain, forget=forget, recipe=cfg, config=hp, forget_class=1)
    assert margin(fl.gan) < margin(gan) - 1.0
    assert margin(fl.gan) < margin(ft.gan)


def test_substitutes_come_from_outside_the_forgotten_class(tiny_images):
    retain, forget = _split(tiny_images)
    gan = make_gan(GANTrainConfig(**TINY), 1, 28)
    req = GANUnlearnRequest(retain, forget, gan, GANTrainConfig(**TINY), torch.device("cpu"), forget_class=1)
    subs = make_substitutes(req, "auto")
    assert len(subs) == len(forget)
    flat = retain.x.flatten(1)
    assert all((flat == s.flatten()).all(1).any() for s in subs.x)  # every substitute is a retained image

    class NeverOne(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.tensor([0.0, 0.0, 1.0, 0.0]).expand(len(x), 4)

    req.classifier = NeverOne()
    gen_subs = make_substitutes(req, "generator")
    assert len(gen_subs) == len(forget) and gen_subs.x.min() >= 0 and gen_subs.x.max() <= 1

    class AlwaysOne(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.tensor([0.0, 1.0, 0.0, 0.0]).expand(len(x), 4)

    req.classifier = AlwaysOne()
    with pytest.raises(ValueError, match="substitutes outside class 1"):
        make_substitutes(req, "generator", max_draws=2)


def test_experiment_records_every_metric(tiny_images, tmp_path):
    exp = GANExperiment.prepare(
        tiny_images, tiny_images, TINY, evaluator_epochs=1, classifier_width=0.25, n_generated=40, downstream_epochs=1, cache_dir=tmp_path
    )
    rec = ResultsRecorder("05_gan_unlearning", "tiny", "dcgan")
    hp = {"gan_cascaded": {"rounds": 1, "unlearn_steps": 2, "learn_steps": 1, "batch_size": 16}}
    out = exp.for_request(exp.class_request(1)).run(["gan_retrain", "gan_cascaded"], rec, "class", hparams=hp)
    assert set(out) == {"original", "gan_retrain", "gan_cascaded"}
    metrics = set(rec.frame().metric)
    assert {"forgotten_class_share", "classifier_fid", "classifier_fid_other", "classifier_is", "d_membership_auc"} <= metrics
    assert {"downstream_accuracy", "seconds", "speed_up"} <= metrics
    rows = rec.frame().set_index(["method", "metric"]).value
    assert out["gan_cascaded"][("all", "speed_up")] == pytest.approx(rows[("gan_retrain", "seconds")] / rows[("gan_cascaded", "seconds")])
    with torch.no_grad():
        pred = exp.evaluator.eval()(exp.generate(exp.original)).argmax(1).cpu()
    assert out["original"][("generated", "forgotten_class_share")] == pytest.approx(float((pred == 1).float().mean()))
    samples = {k: v for k, v in rec.arrays.items() if k.startswith("samples/class/seed0/")}  # kept for drill-down
    assert set(samples) == {f"samples/class/seed0/{m}" for m in out} and all(v.dtype == np.uint8 for v in samples.values())
    assert all(v.shape == (exp.n_samples_kept, *tiny_images.x.shape[1:]) for v in samples.values())
    assert not np.array_equal(samples["samples/class/seed0/original"], samples["samples/class/seed0/gan_cascaded"])
    assert not any(k.startswith(("forgotten/", "heldout/")) for k in rec.arrays)  # a class request: the dataset has its images
    item = exp.item_request(8)
    assert len(item.forget) == 8 and len(set(item.forget) & set(item.retain)) == 0
    exp.for_request(item).run(["gan_cascaded"], rec, "items_8", hparams=hp, forget_size=8)
    forgotten, heldout = rec.arrays["forgotten/items_8/8/seed0"], rec.arrays["heldout/items_8/8/seed0"]
    assert forgotten.dtype == heldout.dtype == np.uint8 and forgotten.shape == heldout.shape == (8, *tiny_images.x.shape[1:])
    assert np.array_equal(forgotten, (tiny_images.x[torch.from_numpy(item.forget)] * 255).round().to(torch.uint8).numpy())
    assert np.array_equal(heldout, (exp.heldout_images(8) * 255).round().to(torch.uint8).numpy())  # what the ratio compared with
    assert "samples/items_8/8/seed0/gan_cascaded" in rec.arrays
    with pytest.raises(ValueError, match="hparams given for methods not in the run"):
        exp.for_request(item).run(["gan_cascaded"], rec, "x", hparams={"gan_finetune": {}})
    with pytest.raises(ValueError, match="forget_class"):
        exp.class_request(9)
    fig = sample_grids({m: exp.generate(g, 8) for m, g in exp.gans["class"].items()}, ncols=4)
    assert len(fig.axes) == 3
    # Each request ran on its own view: the experiment itself holds no request and no run's results, and
    # running it without one is refused before any work.
    assert exp._request is None and exp.results == {} and set(exp.gans) == {"class", "items_8"}
    with pytest.raises(ValueError, match="no forget request"):
        exp.run(["gan_cascaded"], rec, "x", hparams=hp)
    with pytest.raises(ValueError, match="request must be a ForgetRequest"):
        exp.for_request(1)
