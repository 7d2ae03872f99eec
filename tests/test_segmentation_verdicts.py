"""Notebook 03's two lenses: the paper's claim per mechanic, and retrain-matching, judged over training seeds."""

from __future__ import annotations

import pandas as pd
import pytest

from unlearn_lib.results import ResultsRecorder
from unlearn_lib.studies.segmentation import PAPER_HEADLINE, claims_table, paper_lens_table

GROUP = "ventricles (subject 0)"
ORIGINAL = {"forget": 0.9, "retain": 0.9, "heldout": 0.85}
RETRAIN = {"forget": 0.6, "retain": 0.9, "heldout": 0.85}
#: Dice at 50 epochs per mechanic: over-forgets with retain kept; ends at retrain; wrecks everything alike.
AFTER = {
    "noisy_label": {"forget": 0.1, "retain": 0.88, "heldout": 0.84},
    "retain_label": {"forget": 0.6, "retain": 0.9, "heldout": 0.85},
    "random_encoder": {"forget": 0.45, "retain": 0.45, "heldout": 0.425},
}


def _rows(seeds: tuple[int, ...] = (0, 1, 2)) -> pd.DataFrame:
    rec = ResultsRecorder("03", "toy", "med3d")
    for seed in seeds:
        j = 0.003 * (seed - 1)  # a seed's jitter: small against every planted effect

        def values(dice: dict[str, float], j: float = j) -> dict[tuple[str, str], float]:
            return {**{(s, "dice"): v + j for s, v in dice.items()}, ("all", "seconds"): 1.0, ("all", "steps"): 10.0}

        rec.add_many(scenario="curve", method="original", seed=seed, values=values(ORIGINAL), epoch=0, group=GROUP)
        rec.add_many(scenario="final", method="retrain", seed=seed, values=values(RETRAIN), group=GROUP)
        for m, dice in AFTER.items():
            for epoch in (20, 50):
                rec.add_many(scenario="curve", method=m, seed=seed, values=values(dice), epoch=epoch, group=GROUP)
            rec.add_many(scenario="final", method=m, seed=seed, values=values(dice), group=GROUP)
    return rec.frame()


def test_the_paper_and_retrain_lenses_judge_each_mechanic_and_say_where_they_disagree():
    both = paper_lens_table(_rows(), (20, 50))
    assert both.attrs["requests"] == [GROUP]  # the one request, informative over three seeds
    lens = both.xs(50, level="epochs")
    noisy = lens.loc["noisy_label"]
    assert noisy["verdict"] == "holds"  # forget falls, retain stays above the paper's 84 %
    assert noisy["paper forget Δ %"] == PAPER_HEADLINE["forget_change_pct"] and noisy["paper retain %"] == 84.0
    assert noisy["forgets the subject, not the task"] == "holds"
    assert noisy["retrain lens (closer than doing nothing)"] == "not reproduced"  # far below retrain's 0.6
    assert noisy["lenses"].startswith("disagree") and "over-forgetting" in noisy["lenses"]
    retain = lens.loc["retain_label"]  # ends at retrain: the paper's claim (retain below Noisy Label's) fails
    assert retain["retrain lens (closer than doing nothing)"] == "holds" and retain["verdict"] == "not reproduced"
    assert retain["lenses"].startswith("disagree: closer to retrain")
    wreck = lens.loc["random_encoder"]  # every split halves: the paper's claim holds, but it forgets nothing specific
    assert wreck["verdict"] == "holds" and wreck["forgets the subject, not the task"] != "holds"
    assert wreck["forget Δ %"] == pytest.approx(-50.0, abs=0.5) and wreck["retain % of baseline"] == pytest.approx(50.0, abs=0.5)
    assert lens["training seeds"].eq(3).all() and pd.isna(lens.loc["retain_label", "paper retain %"])


def test_one_training_seed_never_reproduces_or_refutes_the_paper():
    lens = paper_lens_table(_rows(seeds=(0,)), (50,))
    assert lens.verdict.eq("inconclusive").all() and lens["forget Δ % CI"].eq("–").all()


def test_the_claims_table_carries_the_lens_verdicts_at_the_papers_horizon():
    lens = paper_lens_table(_rows(), (20, 50))
    claims = claims_table(lens, 50).set_index("claim")
    assert list(claims.columns) == ["paper", "ours", "verdict"] and len(claims) == len(AFTER)
    noisy = claims.loc[next(c for c in claims.index if c.startswith("noisy_label @50"))]
    assert noisy.verdict == lens.loc[("noisy_label", 50), "verdict"] == "holds" and "-93 %" in noisy.paper
    assert claims.verdict.tolist() == lens.xs(50, level="epochs").verdict.tolist()
    assert claims_table(lens, 35).empty  # no row at a horizon that was not evaluated
