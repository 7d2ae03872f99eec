"""Canary requests in the GAN experiment (issue #34): planting after the evaluator, the request, the
canary rows every method gets, and the signal floor a canary request must clear before ranking.

The GANs here are tiny and barely trained: these tests check the wiring and the bookkeeping. The
floor's arithmetic is tested on planted frames, where the answer is known.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from unlearn_lib.data import ArrayDataset
from unlearn_lib.data.mnist import load_embedded_mnist
from unlearn_lib.results import ResultsRecorder
from unlearn_lib.studies.gan import CanaryPlan, GANExperiment, canary_signal, plan_requests
from unlearn_lib.studies.gan.canary_request import CANARY_METRICS, canary_level
from unlearn_lib.studies.gan.verdicts import informative, signal_table

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"iterations": 4, "batch_size": 16, "latent_dim": 8, "g_width": 4, "d_width": 4, "device": "cpu"}
PLAN = {"duplicates": [1, 5], "per_level": 1, "n_samples": 200}
SIZES = dict(evaluator_epochs=1, classifier_width=0.25, n_generated=40, downstream_epochs=1)


@pytest.fixture(scope="module")
def digits() -> tuple[ArrayDataset, ArrayDataset]:
    """300 training and 150 test digits of the embedded MNIST (real digits: canaries need their distances)."""
    train, test = load_embedded_mnist(seed=0)
    rng = np.random.default_rng(0)
    return train.subset(np.sort(rng.choice(len(train), 300, replace=False))), test.subset(rng.permutation(len(test))[:150])


@pytest.fixture(scope="module")
def experiments(digits, tmp_path_factory) -> tuple[GANExperiment, GANExperiment]:
    """The same data prepared plainly and with canaries, through one cache."""
    train, test = digits
    cache = tmp_path_factory.mktemp("cache")
    plain = GANExperiment.prepare(train, test, TINY, cache_dir=cache, **SIZES)
    planted = GANExperiment.prepare(train, test, TINY, cache_dir=cache, canaries=PLAN, **SIZES)
    return plain, planted


def test_canaries_go_into_the_gan_s_training_set_after_the_evaluator(experiments, digits):
    plain, exp = experiments
    train, _ = digits
    canaries = exp.canaries
    assert plain.canaries is None and canaries is not None
    # 2 canaries + 2 controls leave the ordinary digits, 1 + 5 copies come in
    assert len(exp.train) == len(train) - 4 + 6 == canaries.n_train
    assert exp.evaluator_info.key == plain.evaluator_info.key and exp.evaluator_info.cached  # trained on the digits alone
    assert exp.original_info.key != plain.original_info.key  # the original GAN saw the canaries
    assert exp.canary_plan == CanaryPlan.from_value(PLAN) and 0 < exp.extraction_threshold < canaries.separation / 2


def test_canary_request_forgets_every_copy_and_item_requests_draw_only_ordinary_digits(experiments):
    _, exp = experiments
    req = exp.canary_request()
    assert req.kind == "canaries" and np.array_equal(req.forget, exp.canaries.copy_indices())
    assert len(req.forget) == 6 and len(req.retain) == len(exp.train) - 6
    assert np.array_equal(exp.request(("canaries", []), seed=0).forget, req.forget)
    assert len(exp.canary_request(5).forget) == 5
    for seed in range(5):
        assert not set(exp.item_request(50, seed=seed).forget) & set(req.forget)
    with pytest.raises(ValueError, match="levels must be one or more of the planted duplicate levels"):
        exp.canary_request(7)


def test_a_plain_experiment_refuses_a_canary_request_and_draws_items_as_before(experiments):
    plain, _ = experiments
    with pytest.raises(ValueError, match="no planted canaries"):
        plain.canary_request()
    n = len(plain.train)
    expected = np.sort(np.random.default_rng(3).choice(n, size=10, replace=False))  # the draw before canaries existed
    assert np.array_equal(plain.item_request(10, seed=3).forget, expected)


def test_every_method_gets_canary_rows_and_the_signal_table_reads_them(experiments):
    _, exp = experiments
    rec = ResultsRecorder("05_gan_unlearning", "tiny", "dcgan")
    hp = {"gan_cascaded": {"rounds": 1, "unlearn_steps": 1, "learn_steps": 1, "batch_size": 16, "chunk_size": 4}}
    req = exp.canary_request()
    exp.for_request(req).run(["gan_retrain", "gan_cascaded"], rec, "canaries", hparams=hp, forget_size=len(req.forget))
    df = rec.frame()
    rows = df[df.split.map(lambda s: canary_level(s) is not None)]
    assert set(rows.split) == {"canary_d1", "canary_d5"} and set(rows.metric) == set(CANARY_METRICS)
    assert set(rows.method) == {"original", "gan_retrain", "gan_cascaded"}
    rates = rows[rows.metric.str.contains("extract")].value
    assert rates.between(0, 1).all()
    assert df[(df.metric == "d_membership_auc") & (df.split == "forget")].value.between(0, 1).all()
    signal = canary_signal(df, n_samples=PLAN["n_samples"])
    assert list(signal.d) == [1, 5] and signal.informative.dtype == bool
    assert (signal.floor >= 5 / PLAN["n_samples"]).all()
    forgotten = rec.arrays[f"forgotten/canaries/{len(req.forget)}/seed0"]
    assert forgotten.shape == (2, 1, 28, 28)  # each canary once, not each copy
    assert rec.arrays[f"heldout/canaries/{len(req.forget)}/seed0"].shape == (2, 1, 28, 28)  # its controls


def _frame(original: list[float], retrain: list[float], d: int = 50, metric: str = "extraction_rate") -> pd.DataFrame:
    rows = []
    for method, values in (("original", original), ("gan_retrain", retrain)):
        for seed, v in enumerate(values):
            rows.append({"scenario": "canaries", "method": method, "seed": seed, "split": f"canary_d{d}", "metric": metric, "value": v})
    return pd.DataFrame(rows)


def test_the_floor_reads_the_planted_mark_beside_extraction():
    """What 05's default original shows: no sample is a pixel copy (extraction 0, as retrain's), but
    the mark is drawn (here ~3 % against retrain's 0). The mark row carries the signal, the extraction
    row does not, and the request has something to forget."""
    df = pd.concat([_frame([0.0] * 3, [0.0] * 3), _frame([0.03, 0.025, 0.035], [0.0] * 3, metric="mark_rate")])
    table = canary_signal(df, n_samples=5000)
    assert table.measure.tolist() == ["extraction", "planted mark"]
    assert table.set_index("measure").informative.to_dict() == {"extraction": False, "planted mark": True}
    assert informative(df, ["canaries"], 5000) == {"canaries": True}
    assert informative(df[df.metric == "extraction_rate"], ["canaries"], 5000) == {"canaries": False}  # extraction alone: nothing
    wide = pd.concat([df, df.assign(split="canary_d1", value=0.0)])
    flags = signal_table(wide, ["canaries"]).set_index("measure")
    assert list(flags.index) == ["extraction (d=50)", "planted mark (d=50)"]  # the top level's rates, both compared


def test_the_signal_floor_passes_a_memorised_level_and_fails_a_null_one():
    memorised = canary_signal(_frame([0.04, 0.05, 0.045], [0.0, 0.0002, 0.0]), n_samples=5000).iloc[0]
    assert memorised.informative and memorised.ratio > 5 and memorised.seeds == 3
    null = canary_signal(_frame([0.001, 0.0008, 0.0012], [0.0008, 0.001, 0.0009]), n_samples=5000).iloc[0]
    assert not null.informative and 0.5 < null.ratio < 2
    # retrain at zero: the original needs `floor` samples' worth, not just one sample
    one_sample = canary_signal(_frame([0.0002] * 3, [0.0] * 3), n_samples=5000).iloc[0]
    assert not one_sample.informative and one_sample.floor == pytest.approx(5 / 5000)
    with pytest.raises(ValueError, match="no canary rate rows"):
        canary_signal(_frame([0.1], [0.0]).assign(split="forget"))
    with pytest.raises(ValueError, match="gan_retrain"):
        canary_signal(_frame([0.1], [0.0]).query("method == 'original'"))
    with pytest.raises(ValueError, match="floor must be a ratio > 1"):
        canary_signal(_frame([0.1], [0.0]), floor=1)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({"per_level": 0}, "canaries.per_level must be >= 1"),
        ({"duplicates": []}, "canaries.duplicates must be a non-empty list"),
        ({"duplicates": [1, 1]}, "must be distinct"),
        ({"kind": "rotated"}, "canaries.kind must be one of"),
        ({"quantile": 1.5}, "canaries.quantile must be a number in"),
        ({"n_samples": 10}, "canaries.n_samples must be >= 100"),
        ({"copies": 3}, r"unknown key\(s\) \['copies'\]"),
        ([1, 10], "canaries must be a dict"),
    ],
)
def test_a_bad_canary_plan_is_refused_naming_the_key(value, match):
    with pytest.raises(ValueError, match=match):
        CanaryPlan.from_value(value)


def test_a_bad_plan_is_refused_before_any_training(digits, tmp_path):
    train, test = digits
    with pytest.raises(ValueError, match=r"canaries\.kind"):
        GANExperiment.prepare(train, test, TINY, cache_dir=tmp_path, canaries={"kind": "rotated"}, **SIZES)
    assert not any(tmp_path.iterdir())  # nothing was trained or stored


def test_plan_requests_knows_the_canary_part():
    assert plan_requests(["canaries"], [16], 7, []) == {"canaries": ("canaries", [])}
    both = plan_requests(["items", "canaries"], [16, 64], 7, [])
    assert list(both) == ["items_16", "items_64", "canaries"]
    assert CanaryPlan().n_copies == 4 * 61 and CanaryPlan.from_value(PLAN).to_dict()["duplicates"] == [1, 5]
