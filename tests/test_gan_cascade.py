"""Behaviour of the cascade (issue #14): it forgets a class better than plain fine-tuning at the same
budget, its work follows the request, retraining repeats the original's recipe and length, the
original stops on quality, and the seed-split merger rebuilds the tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from unlearn_lib.data import ArrayDataset
from unlearn_lib.metrics.gan import (
    TorchmetricsFID,
    classifier_fid,
    classifier_outputs,
    downstream_accuracy,
    nearest_neighbour_distances,
    torchmetrics_fid,
)
from unlearn_lib.models import build_model
from unlearn_lib.report import markdown_table
from unlearn_lib.results import ResultsRecorder
from unlearn_lib.studies.gan import (
    GANExperiment,
    GANTrainConfig,
    load_or_train_gan,
    make_gan,
    make_gan_config,
    sample,
    train_gan,
    unlearn_gan,
)
from unlearn_lib.studies.gan.experiment import plan_requests
from unlearn_lib.studies.gan.report import NEAR_CEILING, REACHED, merge_parts, quality_gap_by_size, quality_table, speedup_table
from unlearn_lib.verdict import HOLDS, judge

pytestmark = pytest.mark.usefixtures("one_thread")

TOY = GANTrainConfig(iterations=200, batch_size=32, latent_dim=8, g_width=8, d_width=8, lr_g=1e-3, lr_d=1e-3, device="cpu")


class Quadrant(nn.Module):
    """The quadrant images' exact classifier: the class is the brightest quadrant."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 20 * torch.stack([x[:, 0, r * 14 : (r + 1) * 14, c * 14 : (c + 1) * 14].mean((1, 2)) for r in range(2) for c in range(2)], 1)


def _split(data: ArrayDataset, cls: int = 1) -> tuple[ArrayDataset, ArrayDataset]:
    keep = data.y != cls
    return data.subset(torch.nonzero(keep).ravel().numpy()), data.subset(torch.nonzero(~keep).ravel().numpy())


def _share(gan, cls: int = 1) -> float:
    device = next(gan.generator.parameters()).device  # where it trained (a GPU under make test-gpu); images come back on the CPU
    return float((Quadrant()(sample(gan.generator, 400, gan.latent_dim, seed=5, device=device)).argmax(1) == cls).float().mean())


@pytest.fixture(scope="module")
def toy_gan(shared_quadrant_images, device):
    torch.manual_seed(0)
    return train_gan(make_gan(TOY, 1, 28), shared_quadrant_images, TOY, device)


#: Unlearning seeds the cascade-vs-finetune comparison is paired over.
SEEDS = range(5)


def test_cascade_forgets_a_class_better_than_finetuning_at_the_same_budget(toy_gan, shared_quadrant_images, device):
    """Judged by the project's verdict rule over 5 unlearning seeds, not on one seed's margin.

    Measured (finetune share - cascade share, seeds 0-7): 0.023-0.085 (mean 0.055) on an AMD EPYC with
    torch's default kernels, 0.050-0.168 (mean 0.126) there under ATEN_CPU_CAPABILITY=default with
    ONEDNN_MAX_CPU_ISA=AVX2, where the toy GAN itself trains to another model (class share 0.49, not 0.31).
    One seed's difference went as low as 0.023, so the old single-seed 0.05 margin failed on one CPU; the
    paired 95 % CI over 5 seeds excluded 0 under both kernel selections. The cascade's mean share was 0.19x
    and 0.46x the original's there; on an H200 with deterministic CUDA kernels (make test-gpu) the toy GAN
    drew the class less (0.18) and the cascade left 0.82x of it (0.12-0.17 over the 5 seeds), so a fixed
    ratio is no floor: the same verdict rule says the cascade draws the class less than the original did."""
    retain, forget = _split(shared_quadrant_images)
    before = _share(toy_gan)
    assert before > 0.1, "the toy GAN draws the class to forget"
    cfg = {"chunk_size": 15, "unlearn_steps": 20, "learn_steps": 10, "batch_size": 32}
    shares: dict[str, list[float]] = {"gan_cascaded": [], "gan_finetune": []}
    for seed in SEEDS:
        runs = {
            m: unlearn_gan(
                m,
                toy_gan,
                retain=retain,
                forget=forget,
                recipe=TOY,
                config=cfg,
                forget_class=1,
                classifier=Quadrant(),
                device=device,
                seed=seed,
            )
            for m in shares
        }
        assert runs["gan_cascaded"].steps == runs["gan_finetune"].steps, "same budget"
        for m, run in runs.items():
            shares[m].append(_share(run.gan))
    verdict = judge(shares["gan_finetune"], shares["gan_cascaded"], "greater")
    assert verdict.label == HOLDS, f"cascade {shares['gan_cascaded']} vs finetune {shares['gan_finetune']}: {verdict}"
    forgot = judge([before] * len(SEEDS), shares["gan_cascaded"], "greater")
    assert forgot.label == HOLDS, f"cascade shares {shares['gan_cascaded']} vs {before:.3f} before: {forgot}"


def test_cascade_work_follows_the_request_size(toy_gan, shared_quadrant_images, device):
    data = shared_quadrant_images
    cfg = {"chunk_size": 8, "unlearn_steps": 2, "learn_steps": 1, "batch_size": 16}
    steps = {}
    for n in (4, 16, 40):
        forget_idx = np.arange(n)
        retain = data.subset(np.arange(n, len(data)))
        res = unlearn_gan("gan_cascaded", toy_gan, retain=retain, forget=data.subset(forget_idx), recipe=TOY, config=cfg, device=device)
        steps[n] = res.steps
        assert len({h["stage"] for h in res.history}) == -(-n // 8), "one stage per chunk"
        assert res.steps == 2 * make_gan_config("gan_cascaded", cfg).total_steps(n), "two optimizer steps per iteration, as stated"
    assert steps[4] < steps[16] < steps[40]


def _monitor_after(n_checks: int):
    calls = []

    def monitor(gan) -> dict[str, float]:
        calls.append(1)
        torch.rand(3)  # a monitor that draws from the global RNG must not change the training
        ok = len(calls) >= n_checks
        return {"classifier_is": 9.0 if ok else 2.0, "downstream_accuracy": 0.95 if ok else 0.3}

    return monitor


def test_original_stops_on_quality_and_retraining_repeats_it(tiny_images, tmp_path):
    rec = GANTrainConfig(
        iterations=40, batch_size=16, latent_dim=8, g_width=4, d_width=4, check_every=4, target_is=8.0, target_downstream=0.9, device="cpu"
    )
    gan, info = load_or_train_gan(tiny_images, rec, cache_dir=tmp_path, monitor=_monitor_after(3), monitor_key="toy")
    assert info["stopped_at"] == 12 and [r["iteration"] for r in info["curve"]] == [4.0, 8.0, 12.0]
    assert info["curve"][-1]["classifier_is"] == 9.0 and info["recipe"].iterations == 12 and info["recipe"].check_every == 0
    _, info2 = load_or_train_gan(tiny_images, rec, cache_dir=tmp_path, monitor=_monitor_after(1), monitor_key="toy")
    assert info2["cached"] and info2["curve"] == info["curve"] and info2["stopped_at"] == 12  # the curve travels with the weights
    # Retraining with the resolved recipe on the same data is the same training: the same weights.
    torch.manual_seed(123)
    fixed = train_gan(make_gan(info["recipe"], 1, 28), tiny_images, info["recipe"], torch.device("cpu"))
    for a, b in zip(gan.generator.state_dict().values(), fixed.generator.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="monitor"):
        load_or_train_gan(tiny_images, rec, cache_dir=tmp_path)


def test_experiment_retrain_uses_the_originals_recipe_and_is_cached(tiny_images, tmp_path):
    recipe = {
        "iterations": 6,
        "batch_size": 16,
        "latent_dim": 8,
        "g_width": 4,
        "d_width": 4,
        "check_every": 3,
        "target_is": 0.0,
        "target_downstream": 0.0,
        "device": "cpu",
    }
    exp = GANExperiment.prepare(
        tiny_images, tiny_images, recipe, evaluator_epochs=1, classifier_width=0.25, n_generated=40, downstream_epochs=1, cache_dir=tmp_path
    )
    assert exp.info["original_iterations"] == 3, "zero targets: stops at the first check"
    assert exp.retrain_recipe == exp.recipe.resolved(3)
    assert {
        k: v for k, v in exp.retrain_recipe.to_dict().items() if k not in ("iterations", "check_every", "target_is", "target_downstream")
    } == {k: v for k, v in exp.recipe.to_dict().items() if k not in ("iterations", "check_every", "target_is", "target_downstream")}
    req = exp.class_request([1, 2])
    assert set(tiny_images.y[req.forget].tolist()) == {1, 2} and req.forget_class == (1, 2)
    assert np.array_equal(exp.request(("class", [1, 2]), seed=5).forget, req.forget), "a class request does not depend on the seed"
    drawn = [exp.request(("items", 8), seed=s).forget for s in (0, 1, 1)]
    assert np.array_equal(drawn[1], drawn[2]) and not np.array_equal(drawn[0], drawn[1]), "items: one fixed draw per seed"
    assert np.array_equal(drawn[1], exp.item_request(8, seed=1008).forget), "the notebook's draw: seed * 1000 + size"
    first = exp.retrain(req)
    assert first.steps == 2 * 3, "measured optimizer steps: the original's length"
    second = exp.retrain(req)
    assert second.seconds == pytest.approx(first.seconds), "read from the cache with its measured time"
    rec = ResultsRecorder("05_gan_unlearning", "tiny", "dcgan")
    out = exp.for_request(req).run(
        ["gan_retrain", "gan_cascaded"],
        rec,
        "class_1+2",
        hparams={"gan_cascaded": {"chunk_size": 16, "unlearn_steps": 1, "learn_steps": 1, "batch_size": 16}},
        forget_size=len(req.forget),
    )
    assert out["gan_retrain"][("all", "steps")] == 6.0
    assert 0 <= out["original"][("generated", "forgotten_class_share")] <= 1
    items = exp.for_request(exp.item_request(8)).run(
        ["gan_cascaded"],
        rec,
        "items_8",
        hparams={"gan_cascaded": {"chunk_size": 4, "unlearn_steps": 1, "learn_steps": 1, "batch_size": 16}},
        forget_size=8,
    )
    assert items["gan_cascaded"][("forget", "nn_distance_ratio")] > 0
    with pytest.raises(ValueError, match="every class"):
        exp.class_request([0, 1, 2, 3])


def test_torchmetrics_fid_matches_the_libraries_frechet_distance_and_nn_distances():
    torch.manual_seed(0)
    net = build_model("small_cnn", width=0.25).eval()
    a, b = torch.rand(200, 1, 28, 28), torch.rand(200, 1, 28, 28) * 0.5
    assert torchmetrics_fid(net, a, b) == pytest.approx(classifier_fid(net, a, b), rel=1e-4)
    assert torchmetrics_fid(net, a, b) > torchmetrics_fid(net, a, torch.rand(200, 1, 28, 28))
    reused = TorchmetricsFID(net, a)  # the real statistics once, each call a fresh generated set
    sets = [b, torch.rand(200, 1, 28, 28), b]
    assert [reused(x) for x in sets] == pytest.approx([torchmetrics_fid(net, a, x) for x in sets], rel=1e-9)
    # Features the caller has already (one evaluator pass for FID, IS and labels) give exactly the same FID,
    # a subset of them too; a wrong shape or both inputs are refused.
    features, probs = classifier_outputs(net, b)
    assert reused(features=features) == reused(b)
    assert reused(features=features[:150]) == reused(b[:150])
    for bad in ({"features": features[:, :3]}, {"generated": b, "features": features}, {}):
        with pytest.raises(ValueError, match=r"features|either"):
            reused(**bad)
    # The downstream classifier trained on labels from probabilities given is the one it would label itself.
    x_test, y_test = torch.rand(50, 1, 28, 28), torch.randint(0, 10, (50,))
    given = downstream_accuracy(b, net, x_test, y_test, model_kwargs={"width": 0.25}, epochs=1, probabilities=probs)
    assert given == downstream_accuracy(b, net, x_test, y_test, model_kwargs={"width": 0.25}, epochs=1)
    with pytest.raises(ValueError, match="probabilities must be"):
        downstream_accuracy(b, net, x_test, y_test, epochs=1, probabilities=probs[:10])
    d = nearest_neighbour_distances(torch.cat([a[:5], b]), a[:10])
    assert np.allclose(d[:5], 0.0) and (d[5:] > 0).all()


def test_parts_name_a_group_of_requests_or_one_request_in_the_studys_order():
    every = plan_requests(["items", "classes"], [16, 64], 7, [3, 8])
    assert every == {"items_16": ("items", 16), "items_64": ("items", 64), "class_7": ("class", 7), "class_3+8": ("class", [3, 8])}
    assert plan_requests(["classes", "items"], [16, 64], 7, [3, 8]) == every, "the study's order, whatever the parts' order"
    one_each = [plan_requests([name], [16, 64], 7, [3, 8]) for name in every]
    assert [list(p.items()) for p in one_each] == [[item] for item in every.items()], "one task per request makes the same requests"
    assert list(plan_requests(["class_7", "items_64"], [16, 64], 7, [])) == ["items_64", "class_7"]
    assert list(plan_requests(["classes"], [16], 7, [])) == ["class_7"], "no multi-digit request when forget_classes is empty"
    for bad in (["items_32"], ["class_3+8"], ["items", "items"], ["pixels"], []):
        with pytest.raises(ValueError, match="parts"):
            plan_requests(bad, [16, 64], 7, [])


def _rows(seed: int, size: int, retrain_s: float, cascade_s: float, cascade_steps: float) -> list[dict]:
    base = {"seed": seed, "split": "all", "scenario": f"items_{size}", "forget_size": size}
    return [
        {**base, "method": "gan_retrain", "metric": "seconds", "value": retrain_s},
        {**base, "method": "gan_retrain", "metric": "steps", "value": 1000.0},
        {**base, "method": "gan_cascaded", "metric": "seconds", "value": cascade_s},
        {**base, "method": "gan_cascaded", "metric": "steps", "value": cascade_steps},
        {**base, "method": "gan_cascaded", "split": "generated", "metric": "classifier_is", "value": 5.0 + seed},
        {**base, "method": "gan_cascaded", "split": "generated", "metric": "classifier_fid", "value": 10.0 + seed + size},
        {**base, "method": "gan_retrain", "split": "generated", "metric": "classifier_fid", "value": 4.0 + size},
    ]


def test_speedup_table_and_the_seed_merger(tmp_path):
    rows = [
        *_rows(0, 16, 100.0, 2.0, 20.0),
        *_rows(1, 16, 100.0, 4.0, 20.0),
        *_rows(0, 64, 100.0, 8.0, 80.0),
        *_rows(1, 64, 100.0, 8.0, 80.0),
    ]
    curve = {
        "seed": 0,
        "split": "generated",
        "scenario": "original_training",
        "forget_size": None,
        "method": "original",
        "metric": "classifier_is",
        "value": 3.0,
        "step": 10,
    }
    df = pd.DataFrame([*rows, curve, {**curve, "seed": 1}])
    speed = speedup_table(df).set_index("request")
    assert speed.loc["items_16", "steps ratio"] == 50.0 and speed.loc["items_64", "steps ratio"] == 12.5
    assert speed.loc["items_16", "seconds ratio"] == pytest.approx(37.5) and speed.loc["items_16", "seeds"] == 2
    parts, note = merge_parts(
        df, {"seeds": [0, 1], "parts": ["items", "classes"], "dataset": "mnist-embedded", "recipe": {}, "cascade": {}}, [], tmp_path
    )
    tables = [v for k, v in parts.items() if k.startswith("Request items_16")]
    assert len(tables) == 1 and "±" in tables[0].set_index("method").loc["gan_cascaded", "classifier IS"]
    assert "seeds [0, 1]" in note
    assert (tmp_path / "05_speedup_vs_request_size.png").is_file(), "the merger redraws the figure over every seed"
    gap = quality_gap_by_size(df)
    assert list(gap.index) == [16, 64] and gap["gan_cascaded"].tolist() == [6.5, 6.5], "FID minus retrain's, mean over seeds"
    assert (tmp_path / "05_quality_vs_request_size.png").is_file(), "and the quality gap over every request size"
    assert quality_gap_by_size(df[~df.scenario.str.startswith("items_")]).empty


class _QuadrantMeans(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x[:, 0, r * 14 : (r + 1) * 14, c * 14 : (c + 1) * 14].mean((1, 2)) for r in range(2) for c in range(2)], 1)


class QuadrantNet(nn.Module):
    """:class:`Quadrant` with ``blocks()`` (features, then a head), so the GAN metrics can read it."""

    def __init__(self) -> None:
        super().__init__()
        self.features, self.head = _QuadrantMeans(), nn.Linear(4, 4)
        with torch.no_grad():
            self.head.weight.copy_(20 * torch.eye(4))
            self.head.bias.zero_()

    def blocks(self) -> list[nn.Module]:
        return [self.features, self.head]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def test_real_reference_is_the_ceiling_the_original_is_read_against(tiny_images, tmp_path):
    recipe = {"iterations": 3, "batch_size": 16, "latent_dim": 8, "g_width": 4, "d_width": 4, "device": "cpu"}
    exp = GANExperiment.prepare(
        tiny_images, tiny_images, recipe, evaluator_epochs=1, classifier_width=0.25, n_generated=60, downstream_epochs=2, cache_dir=tmp_path
    )
    exp.evaluator = QuadrantNet()  # an exact, confident classifier of the four classes
    ref = exp.real_reference()
    assert set(ref) == {
        *(("generated", m) for m in ("classifier_is", "classifier_fid", "effective_classes", "sample_ambiguity", "n_images")),
        ("test", "downstream_accuracy"),
    }
    assert 3.5 < ref[("generated", "classifier_is")] <= 4.0 + 1e-9, "real images: confident and nearly balanced over 4 classes"
    assert ref[("generated", "effective_classes")] > 3.5 and ref[("generated", "sample_ambiguity")] < 1.1, "all four, each clear"
    assert ref[("generated", "n_images")] == 60
    assert ref == exp.real_reference(), "the same draw for the same seed"
    gen = exp.evaluate_request(exp.original, exp.class_request(1))
    assert gen[("generated", "classifier_is")] < ref[("generated", "classifier_is")] - 1.0, "a 3-iteration GAN scores far below real images"
    factors = gen[("generated", "effective_classes")] / gen[("generated", "sample_ambiguity")]
    assert factors == pytest.approx(gen[("generated", "classifier_is")], rel=1e-6), "IS = effective classes / sample ambiguity"
    exp.n_generated = 500  # more than the 200 training images: all of them, and the count says so
    assert exp.real_reference()[("generated", "n_images")] == len(tiny_images)


def test_one_evaluation_per_gan_serves_every_request_and_test_set(tiny_images, tmp_path):
    """The original's request-independent metrics are computed once per latent draw, and one downstream
    classifier per GAN serves both test sets; the numbers are those of separate, fresh computations."""
    recipe = {"iterations": 6, "batch_size": 16, "latent_dim": 8, "g_width": 4, "d_width": 4, "device": "cpu"}
    exp = GANExperiment.prepare(
        tiny_images, tiny_images, recipe, evaluator_epochs=1, classifier_width=0.25, n_generated=60, downstream_epochs=2, cache_dir=tmp_path
    )
    one, two = exp.evaluate_request(exp.original, exp.class_request(1)), exp.evaluate_request(exp.original, exp.class_request([0, 2]))
    assert exp.sample_quality(exp.original) is exp.sample_quality(exp.original), "the original's evaluation is reused"
    shared = [("generated", "classifier_fid"), ("generated", "classifier_is"), ("test", "downstream_accuracy")]
    assert [one[k] for k in shared] == [two[k] for k in shared]
    gen = exp.generate(exp.original)
    keep = ~torch.isin(tiny_images.y, torch.tensor([0, 2]))
    fresh = {
        ("generated", "classifier_fid"): torchmetrics_fid(exp.evaluator, tiny_images.x, gen),
        ("test", "downstream_accuracy"): downstream_accuracy(
            gen, exp.evaluator, tiny_images.x, tiny_images.y, model_kwargs={"width": 0.25}, epochs=2, seed=exp.seed
        ),
        ("test_other_classes", "downstream_accuracy"): downstream_accuracy(
            gen, exp.evaluator, tiny_images.x[keep], tiny_images.y[keep], model_kwargs={"width": 0.25}, epochs=2, seed=exp.seed
        ),
    }
    assert {k: two[k] for k in fresh} == pytest.approx(fresh, rel=1e-6)
    exp.seed = 1  # another latent draw: another evaluation
    assert exp.sample_quality(exp.original) is not exp._original_quality[0]


def test_quality_table_reads_the_bar_and_the_ceiling(tmp_path):
    base = {"seed": 0, "scenario": "original_training", "forget_size": None}
    rows = []
    for step, is_, acc in ((500, 5.0, 0.7), (1000, 6.5, 0.86)):
        rows += [
            {**base, "method": "original", "split": "generated", "metric": "classifier_is", "value": is_, "step": step},
            {**base, "method": "original", "split": "test", "metric": "downstream_accuracy", "value": acc, "step": step},
        ]
    rows += [
        {**base, "method": "original", "split": "generated", "metric": "effective_classes", "value": 9.0, "step": 1000},
        {**base, "method": "real_digits", "split": "generated", "metric": "n_images", "value": 1000.0, "step": None},
        {**base, "method": "real_digits", "split": "generated", "metric": "classifier_is", "value": 9.5, "step": None},
        {**base, "method": "real_digits", "split": "test", "metric": "downstream_accuracy", "value": 0.93, "step": None},
        {**base, "method": "real_digits", "split": "generated", "metric": "classifier_fid", "value": 0.4, "step": None},
    ]
    df = pd.DataFrame(rows)
    table = quality_table(df, {"target_is": 8.0, "target_downstream": 0.9})
    orig = table.loc["original (last check, iteration 1000)"]
    assert orig["classifier IS"] == 6.5 and orig[REACHED] == "no", "the last check, below the bar"
    assert orig["effective classes"] == 9.0 and "sample ambiguity" not in table.columns, "only the columns with a value"
    assert table.loc["1000 real training digits (same measurement)", "downstream acc."] == 0.93
    assert pd.isna(orig["classifier-FID"]) and "| – |" in markdown_table(table), "a missing number reads –, not nan"
    met = quality_table(df, {"target_is": 6.0, "target_downstream": 0.85})
    assert met.loc["original (last check, iteration 1000)", REACHED] == "yes"
    assert REACHED not in quality_table(df).columns, "no targets: no verdict"
    only_is = quality_table(df, {"target_is": 6.0})
    assert pd.isna(only_is.loc["early-stop target (target_is, target_downstream)", "downstream acc."]), "a target not given is not 0"
    assert only_is.loc["original (last check, iteration 1000)", REACHED] == "yes", "judged on the targets given"
    parts, _ = merge_parts(
        df,
        {
            "seeds": [0],
            "parts": ["items"],
            "dataset": "mnist-embedded",
            "recipe": {"target_is": 8.0, "target_downstream": 0.9},
            "cascade": {},
        },
        [],
        tmp_path,
    )
    quality = next(v for k, v in parts.items() if k.startswith("Quality of the original"))
    assert list(quality[REACHED]) == ["no", "", ""]
    assert (
        orig[NEAR_CEILING] == "no" and table.loc["1000 real training digits (same measurement)", NEAR_CEILING] == ""
    )  # 0.86 < 0.93 - 0.05


def test_quality_table_gives_each_seeds_original_its_row():
    """#34's bar (downstream within 0.05 of real digits) is judged per original: one seed's original
    can miss it while the mean of three hides which."""
    base = {"scenario": "original_training", "forget_size": None, "method": "original", "split": "test", "metric": "downstream_accuracy"}
    rows = [{**base, "seed": s, "step": step, "value": v} for s, v in ((0, 0.88), (1, 0.80)) for step in (500, 1000)]
    rows += [{**base, "seed": 0, "method": "real_digits", "step": None, "value": 0.91}]
    table = quality_table(pd.DataFrame(rows))
    assert list(table.index[:3]) == [
        "original seed 0 (last check, iteration 1000)",
        "original seed 1 (last check, iteration 1000)",
        "originals, mean over 2 seeds",
    ]
    assert list(table[NEAR_CEILING][:3]) == ["yes", "no", "no"]  # 0.88 and 0.80 against 0.91 - 0.05; mean 0.84
    assert table.loc["originals, mean over 2 seeds", "downstream acc."] == pytest.approx(0.84)


def test_quality_table_judges_the_canary_requests_own_originals_too():
    """The canary request trains its own originals (canaries planted): the table judges them by the same bar."""
    base = {"forget_size": None, "method": "original", "split": "test", "metric": "downstream_accuracy", "step": None}
    rows = [{**base, "scenario": "original_training", "seed": 0, "step": 1000, "value": 0.88}]
    rows += [{**base, "scenario": "canaries", "seed": s, "value": v} for s, v in ((0, 0.78), (1, 0.87))]
    rows += [{**base, "scenario": "original_training", "seed": 0, "method": "real_digits", "value": 0.91}]
    table = quality_table(pd.DataFrame(rows))
    canary = [i for i in table.index if i.startswith("canary original")]
    assert canary == [
        "canary original seed 0 (canaries planted; its request's evaluation)",
        "canary original seed 1 (canaries planted; its request's evaluation)",
        "canary originals, mean over 2 seeds",
    ]
    assert list(table.loc[canary, NEAR_CEILING]) == ["no", "yes", "no"]  # 0.78, 0.87 and their mean 0.825 against 0.91 - 0.05
    assert table.loc["canary originals, mean over 2 seeds", "downstream acc."] == pytest.approx(0.825)
