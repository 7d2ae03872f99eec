"""The GAN study's verdicts against retrain (unlearn_lib.studies.gan.verdicts), on planted tidy rows: an
over-forgetting method is flagged and a faithful one is not, a request without a lead over retrain is
uninformative, the ablation's claims get the verdict their planted differences call for, and a single
seed never gives a verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from unlearn_lib.studies.gan.canary_request import request_canary_signal
from unlearn_lib.studies.gan.verdicts import ablation_table, claims_table, informative, retrain_table, signal_table

SHARE = ("generated", "forgotten_class_share")
AUC = ("forget", "d_membership_auc")
FID = ("generated", "classifier_fid_other")


def _rows(scenario: str, values: dict[str, dict[tuple[str, str], list[float]]]) -> pd.DataFrame:
    """Tidy rows of one request: ``values[method][(split, metric)]`` holds one value per seed."""
    out = []
    for method, metrics in values.items():
        for (split, metric), per_seed in metrics.items():
            for seed, v in enumerate(per_seed):
                out.append({"scenario": scenario, "method": method, "seed": seed, "split": split, "metric": metric, "value": v})
    return pd.DataFrame(out)


def _class_request(cascade_share: list[float], seeds: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(0)

    def jitter(centre: float, sd: float = 0.003) -> list[float]:
        return list(centre + sd * rng.standard_normal(seeds))

    return _rows(
        "class_7",
        {
            "original": {SHARE: jitter(0.11), AUC: jitter(0.56), FID: jitter(23.0, 0.5)},
            "gan_retrain": {SHARE: jitter(0.02), AUC: jitter(0.45), FID: jitter(20.0, 0.5)},
            "gan_cascaded": {SHARE: cascade_share[:seeds], AUC: jitter(0.45), FID: jitter(28.0, 0.5)},
            "gan_fake_label_only": {SHARE: jitter(0.012), AUC: jitter(0.46), FID: jitter(31.0, 0.5)},
            "gan_substitution_only": {SHARE: jitter(0.06), AUC: jitter(0.52), FID: jitter(24.0, 0.5)},
        },
    )


def test_a_method_below_retrain_on_a_forgetting_measure_is_flagged_as_over_forgetting():
    df = _class_request([0.001, 0.002, 0.001, 0.0, 0.002])  # far below retrain's 0.02: a model retrain never makes
    table = retrain_table(df, "class_7")
    assert list(table.index)[:2] == ["original", "gan_cascaded"] and "gan_retrain" not in table.index
    assert "forgotten-class share" in table.loc["gan_cascaded", "over-forgets on"]
    assert table.loc["gan_substitution_only", "over-forgets on"] == "—"  # above retrain: under-forgets, not over
    # what the steps bought: the cascade's share and AUC are closer to retrain's than the original's are
    assert "D membership AUC" in table.loc["gan_cascaded", "closer to retrain than the original on"]
    assert table.loc["original", "closer to retrain than the original on"] == "(doing nothing)"

    faithful = retrain_table(_class_request([0.02, 0.021, 0.019, 0.02, 0.022]), "class_7")
    assert faithful.loc["gan_cascaded", "over-forgets on"] == "—"
    assert "forgotten-class share" in faithful.loc["gan_cascaded", "closer to retrain than the original on"]


def test_a_single_seed_is_never_judged():
    table = retrain_table(_class_request([0.0], seeds=1), "class_7")
    assert table.loc["gan_cascaded", "over-forgets on"] == "—"
    assert table.loc["gan_cascaded", "closer to retrain than the original on"] == "nothing"
    assert "1 seed: no interval" in table.loc["gan_cascaded", "forgotten-class share − retrain"]
    assert signal_table(_class_request([0.0], seeds=1), ["class_7"]).verdict.eq("inconclusive").all()


def test_a_request_is_informative_only_with_a_lead_that_holds_and_reaches_its_floor():
    items = _rows(
        "items_16",
        {
            "original": {AUC: [0.50, 0.55, 0.47, 0.52, 0.49]},
            "gan_retrain": {AUC: [0.51, 0.50, 0.49, 0.53, 0.48]},  # the original does not know them any better
        },
    )
    tiny = _rows(
        "items_64",
        {"original": {AUC: [0.520, 0.521, 0.519, 0.520, 0.522]}, "gan_retrain": {AUC: [0.50, 0.501, 0.499, 0.50, 0.502]}},
    )  # a lead that holds but is below the 0.05 floor
    df = pd.concat([items, tiny, _class_request([0.02] * 5)])
    table = signal_table(df, ["items_16", "items_64", "class_7"])
    assert table.set_index(["request", "measure"]).loc[("items_64", "D membership AUC"), "verdict"] == "holds"
    assert informative(df, ["items_16", "items_64", "class_7"]) == {"items_16": False, "items_64": False, "class_7": True}


def test_the_canary_request_also_needs_its_extraction_floor():
    def canary(original_rate: float) -> pd.DataFrame:
        values = {
            "original": {("canary_d50", "extraction_rate"): [original_rate] * 3, AUC: [0.9, 0.91, 0.92]},
            "gan_retrain": {("canary_d50", "extraction_rate"): [0.01, 0.012, 0.011], AUC: [0.5, 0.51, 0.49]},
        }
        return _rows("canaries", values)

    assert informative(canary(0.2), ["canaries"], canary_samples=1000) == {"canaries": True}
    assert informative(canary(0.02), ["canaries"], canary_samples=1000) == {"canaries": False}  # 2x retrain, under the 5x floor
    assert "extraction (d=50) − retrain" in retrain_table(canary(0.2), "canaries").columns
    # The summary and the notebook read the canary signal through one helper: None when the request did not run.
    assert request_canary_signal(canary(0.2), ["class"]) is None
    assert request_canary_signal(canary(0.2).assign(scenario="class"), ["canaries"]) is None
    assert request_canary_signal(canary(0.2), ["canaries"], n_samples=1000).informative.all()


def test_the_ablation_claims_get_the_verdict_their_planted_differences_call_for():
    df = _class_request([0.002, 0.003, 0.002, 0.001, 0.002])  # the cascade forgets more than the fake label alone
    table = ablation_table(df, ["class_7"]).set_index("claim")
    verdicts = table.verdict.to_dict()
    assert verdicts[next(c for c in verdicts if c.startswith("the fake label does"))] == "holds"
    assert verdicts[next(c for c in verdicts if c.startswith("substitution adds"))] == "holds"
    assert verdicts[next(c for c in verdicts if c.startswith("substitution protects"))] == "holds"  # 28 < 31
    worse = _class_request([0.03, 0.031, 0.029, 0.03, 0.032])  # the cascade forgets less than the fake label alone
    adds = ablation_table(worse, ["class_7"]).set_index("claim").verdict
    assert adds[next(c for c in adds.index if c.startswith("substitution adds"))] == "not reproduced"
    assert ablation_table(df, ["items_16"]).empty  # no rows, no claims: never guessed


def test_bad_input_names_what_is_missing():
    df = _class_request([0.02] * 5)
    with pytest.raises(ValueError, match="no rows for scenario 'class_3'"):
        retrain_table(df, "class_3")
    with pytest.raises(ValueError, match=r"no \['gan_retrain'\] rows"):
        retrain_table(df[df.method != "gan_retrain"], "class_7")


def test_the_claims_table_puts_the_paper_number_beside_ours_and_claims_speed_only_with_signal():
    seconds = ("all", "seconds")
    cls = pd.concat(
        [
            _class_request([0.002, 0.003, 0.002, 0.001, 0.002]),
            _rows("class_7", {"gan_retrain": {seconds: [500.0, 480, 510, 495, 505]}, "gan_cascaded": {seconds: [20.0, 19, 21, 20, 22]}}),
        ]
    )
    items = _rows(
        "items_16",
        {
            "original": {AUC: [0.50, 0.55, 0.47, 0.52, 0.49]},
            "gan_retrain": {AUC: [0.51, 0.50, 0.49, 0.53, 0.48], seconds: [500.0] * 5},
            "gan_cascaded": {AUC: [0.2] * 5, seconds: [2.0, 2.1, 1.9, 2.0, 2.2]},  # fast, but nothing to forget
        },
    )
    claims = claims_table(pd.concat([cls, items]), ["items_16", "class_7"], "mnist-embedded")
    speed = claims[claims.claim.str.contains("less time")]
    assert speed.claim.tolist() == ["class_7: the cascade unlearns in less time than retraining"]
    assert speed.paper.iloc[0] == "up to 185x less time" and speed.verdict.iloc[0] == "holds"
    assert claims.verdict.isin(["holds", "not reproduced", "inconclusive"]).all() and len(claims) == 4


def test_the_speedup_figure_draws_a_task_that_ran_only_the_canary_request(tmp_path):
    """The default profile runs the canary request as a task of its own: its figure has no item or class point."""
    from unlearn_lib.plotting import save_figure
    from unlearn_lib.studies.gan.report import speedup_figure

    speed = pd.DataFrame(
        [{"request": "canaries", "forget size": 244, "steps ratio": 41.7, "seconds ratio": 28.7, "seconds ratio ± 95% CI": 0.0}]
    )
    fig = speedup_figure(speed, 185, "mnist-embedded")
    assert save_figure(fig, tmp_path / "speed.png").stat().st_size > 0
    assert "seconds ratio (canaries)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
