"""Verdicts of the GAN study against retrain, from saved rows.

Why: a GAN unlearning method is good when its model is indistinguishable from one retrained without
the request, not when it moves furthest from the original. The cascade drives the forgotten digit's
share and the discriminator's membership AUC *below* retrain's, which looks like strong forgetting but
is a model retrain would never produce (and its other-digit FID pays for it). So every method is read
as a paired difference to retrain over seeds, with the project's one verdict rule
(:func:`unlearn_lib.verdict.judge`), and one that lands below retrain on a forgetting measure is
flagged *over-forgets*. The untouched original is a row too: a method is only worth its steps where it
comes closer to retrain than doing nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ...verdict import HOLDS, judge, paired_difference
from .canary_request import CANARY_RATES, canary_level, request_canary_signal
from .columns import GAN_COLUMNS

__all__ = [
    "ABLATION_CLAIMS",
    "FORGETTING",
    "MIN_SIGNAL",
    "PAPER_SPEEDUP",
    "RETRAIN_METRICS",
    "ablation_table",
    "claims_table",
    "informative",
    "retrain_table",
    "signal_table",
]

#: (split, metric) -> header of what every request is compared with retrain on (those a request has).
RETRAIN_METRICS: dict[tuple[str, str], str] = {
    k: GAN_COLUMNS[k]
    for k in [
        ("generated", "forgotten_class_share"),
        ("forget", "d_membership_auc"),
        ("generated", "classifier_fid"),
        ("generated", "classifier_fid_other"),
    ]
}

#: Metrics on which lower means "more forgotten": a method significantly below retrain over-forgets.
FORGETTING: tuple[str, ...] = ("forgotten_class_share", "d_membership_auc", *CANARY_RATES)

#: The smallest lead of the original over retrain that makes a request informative, per forgetting
#: measure (beside the paired CI excluding zero): 2 points of the forgotten digit's share, 0.05 of the
#: discriminator's membership AUC (the classifier studies' ``min_signal_mia``). The canary rates have
#: the canaries' own floor (:func:`~unlearn_lib.studies.gan.canary_request.canary_signal`), so none here.
MIN_SIGNAL: dict[str, float] = {"forgotten_class_share": 0.02, "d_membership_auc": 0.05, **dict.fromkeys(CANARY_RATES, 0.0)}

#: Our reading of Sun et al.'s ablation as claims on a class request: (claim, metric, a, direction, b),
#: judged as "a is `direction` than b", paired over seeds.
ABLATION_CLAIMS: tuple[tuple[str, tuple[str, str], str, str, str], ...] = (
    (
        "the fake label does the forgetting (share: fake label alone below substitution alone)",
        ("generated", "forgotten_class_share"),
        "gan_fake_label_only",
        "less",
        "gan_substitution_only",
    ),
    (
        "substitution adds forgetting to the fake label (share: cascade below fake label alone)",
        ("generated", "forgotten_class_share"),
        "gan_cascaded",
        "less",
        "gan_fake_label_only",
    ),
    (
        "substitution protects the other digits (FID on other digits: cascade below fake label alone)",
        ("generated", "classifier_fid_other"),
        "gan_cascaded",
        "less",
        "gan_fake_label_only",
    ),
)


def _per_seed(df: pd.DataFrame, split: str, metric: str) -> pd.DataFrame:
    """``seed x method`` values of one metric of one request."""
    sel = df[(df["split"] == split) & (df["metric"] == metric)]
    return sel.pivot_table(index="seed", columns="method", values="value", aggfunc="mean")


def _metrics(df: pd.DataFrame) -> dict[tuple[str, str], str]:
    """The compared metrics this request's rows hold, the canaries' rates at their top level included."""
    have = set(zip(df["split"], df["metric"]))
    out = {k: h for k, h in RETRAIN_METRICS.items() if k in have}
    levels = sorted({d for d in map(canary_level, df["split"].unique()) if d is not None})
    if levels:
        top = f"canary_d{levels[-1]}"
        out.update({(top, m): f"{h} (d={levels[-1]})" for m, h in CANARY_RATES.items() if (top, m) in have})
    return out


def retrain_table(df: pd.DataFrame, scenario: str, reference: str = "gan_retrain", methods: Sequence[str] | None = None) -> pd.DataFrame:
    """One request's methods (the original first) against ``reference``, paired over seeds.

    Per compared metric, the cell is ``method − retrain`` with its 95 % CI. Then, per method, the
    metrics on which it is closer to retrain than the untouched original is (``|original − retrain|``
    minus ``|method − retrain|`` per seed, judged "greater"), and those on which it over-forgets (its
    value below retrain's on a forgetting measure, judged "less"). With fewer than two seeds nothing is
    judged: a single seed is never a result.

    Raises:
        ValueError: no rows of ``scenario``, or no ``reference`` / ``original`` rows in it.
    """
    sel = df[df["scenario"] == scenario]
    if sel.empty:
        raise ValueError(f"no rows for scenario {scenario!r}; scenarios present: {sorted(df['scenario'].unique())}")
    missing = [m for m in ("original", reference) if m not in set(sel["method"])]
    if missing:
        raise ValueError(f"scenario {scenario!r} has no {missing} rows: every verdict compares a method with {reference}")
    order = list(methods) if methods is not None else [m for m in dict.fromkeys(sel["method"]) if m != reference]
    rows: dict[str, dict[str, object]] = {m: {} for m in order}
    closer: dict[str, list[str]] = {m: [] for m in order}
    over: dict[str, list[str]] = {m: [] for m in order}
    for (split, metric), header in _metrics(sel).items():
        wide = _per_seed(sel, split, metric)
        if reference not in wide or "original" not in wide:
            continue
        ref = wide[reference]
        base = (wide["original"] - ref).abs()
        for m in order:
            if m not in wide:
                rows[m][f"{header} − retrain"] = ""
                continue
            pair = pd.concat([wide[m], ref, base], axis=1, keys=["m", "r", "b"]).dropna()
            rows[m][f"{header} − retrain"] = str(paired_difference(pair["m"].to_numpy(), pair["r"].to_numpy()))
            if m == "original" or len(pair) < 2:
                continue
            if judge(pair["b"].to_numpy(), (pair["m"] - pair["r"]).abs().to_numpy(), "greater").label == HOLDS:
                closer[m].append(header)
            if metric in FORGETTING and judge(pair["m"].to_numpy(), pair["r"].to_numpy(), "less").label == HOLDS:
                over[m].append(header)
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "method"
    out["closer to retrain than the original on"] = [
        "(doing nothing)" if m == "original" else ", ".join(closer[m]) or "nothing" for m in order
    ]
    out["over-forgets on"] = ["" if m == "original" else ", ".join(over[m]) or "—" for m in order]
    return out


def ablation_table(df: pd.DataFrame, scenarios: Sequence[str], claims: Sequence[tuple] = ABLATION_CLAIMS) -> pd.DataFrame:
    """The ablation as claims: per class request and claim, the paired difference ``a − b`` over seeds
    and its verdict (*holds*, *not reproduced*, *inconclusive*). A claim whose methods did not run on a
    request is left out, never guessed."""
    out = []
    for scenario in scenarios:
        sel = df[df["scenario"] == scenario]
        for claim, (split, metric), a, direction, b in claims:
            wide = _per_seed(sel, split, metric)
            if a not in wide or b not in wide:
                continue
            pair = wide[[a, b]].dropna()
            v = judge(pair[a].to_numpy(), pair[b].to_numpy(), direction)
            out.append({"request": scenario, "claim": claim, "compared": f"{a} − {b}", "difference": str(v.difference), "verdict": v.label})
    return pd.DataFrame(out, columns=["request", "claim", "compared", "difference", "verdict"])


def signal_table(
    df: pd.DataFrame, scenarios: Sequence[str], reference: str = "gan_retrain", min_signal: Mapping[str, float] = MIN_SIGNAL
) -> pd.DataFrame:
    """Is there something to forget? Per request and forgetting measure, ``original − retrain`` paired
    over seeds, its verdict (:func:`~unlearn_lib.verdict.judge`, "greater") and whether the mean lead
    reaches ``min_signal``. A request is *informative* when at least one measure both holds and reaches
    its floor; only then is a method's forgetting, or its speed-up over retraining, a result. (The
    canary request also has its own extraction floor:
    :func:`~unlearn_lib.studies.gan.canary_request.canary_signal`.)"""
    out = []
    for scenario in scenarios:
        sel = df[df["scenario"] == scenario]
        for (split, metric), header in _metrics(sel).items():
            if metric not in FORGETTING:
                continue
            wide = _per_seed(sel, split, metric)
            if reference not in wide or "original" not in wide:
                continue
            pair = wide[["original", reference]].dropna()
            v = judge(pair["original"].to_numpy(), pair[reference].to_numpy(), "greater")
            floor = float(min_signal.get(metric, 0.0))
            out.append(
                {
                    "request": scenario,
                    "measure": header,
                    "original − retrain": str(v.difference),
                    "verdict": v.label,
                    "floor": floor,
                    "signal": v.label == HOLDS and v.difference.mean >= floor,
                }
            )
    frame = pd.DataFrame(out, columns=["request", "measure", "original − retrain", "verdict", "floor", "signal"])
    frame["informative"] = frame.groupby("request")["signal"].transform("any").astype(bool) if len(frame) else pd.Series(dtype=bool)
    return frame


def informative(
    df: pd.DataFrame,
    scenarios: Sequence[str],
    canary_samples: int | None = None,
    reference: str = "gan_retrain",
    table: pd.DataFrame | None = None,
    canary: pd.DataFrame | None = None,
) -> dict[str, bool]:
    """``{request: informative}`` from :func:`signal_table` (a request without rows is not informative).

    The canary request must also meet its own floor at some duplicate level
    (:func:`~unlearn_lib.studies.gan.canary_request.canary_signal`, ``canary_samples``: the plan's ``n_samples``).
    ``table`` and ``canary``: :func:`signal_table`'s and ``canary_signal``'s results when the caller has
    them already (the summary shows both), so neither is computed twice."""
    table = signal_table(df, scenarios, reference) if table is None else table
    flags = table.groupby("request")["informative"].first().to_dict() if len(table) else {}
    out = {s: bool(flags.get(s, False)) for s in scenarios}
    if "canaries" in out:
        if canary is None:
            canary = request_canary_signal(df, scenarios, reference=reference, n_samples=canary_samples)
        out["canaries"] = out["canaries"] and canary is not None and bool(canary["informative"].any())
    return out


#: Sun et al. (2023), abstract: times less time than retraining from scratch, per dataset.
PAPER_SPEEDUP: dict[str, int] = {"mnist-embedded": 185, "mnist": 185, "cifar10": 284}


def claims_table(
    df: pd.DataFrame,
    scenarios: Sequence[str],
    dataset: str,
    canary_samples: int | None = None,
    flags: Mapping[str, bool] | None = None,
) -> pd.DataFrame:
    """The study's claims with the paper's number beside ours and a verdict from the one rule.

    The speed-up claim is judged only on requests with signal (:func:`informative`): on a request the
    original never memorised, retraining's length is all a ratio would measure. Our number is the
    measured seconds ratio ``retrain / cascade`` with its paired CI, judged "greater than 1"; the paper's
    is its headline ("up to"), which sets no bar a single request must reach. The ablation's claims
    (:data:`ABLATION_CLAIMS`, our reading) have no number in the abstract. ``flags``: :func:`informative`'s
    result when the caller has it already."""
    flags = informative(df, scenarios, canary_samples) if flags is None else flags
    paper = PAPER_SPEEDUP.get(dataset)
    rows = []
    for scenario in [s for s in scenarios if flags.get(s)]:
        secs = _per_seed(df[df["scenario"] == scenario], "all", "seconds")
        if not {"gan_retrain", "gan_cascaded"} <= set(secs.columns):
            continue
        pair = secs[["gan_retrain", "gan_cascaded"]].dropna()
        v = judge((pair["gan_retrain"] / pair["gan_cascaded"]).to_numpy(), 1.0, "greater")
        rows.append(
            {
                "claim": f"{scenario}: the cascade unlearns in less time than retraining",
                "paper": f"up to {paper}x less time" if paper else "not stated for this dataset",
                "ours": f"seconds ratio {v.difference.mean + 1:.1f}x; ratio − 1: {v.difference}",
                "verdict": v.label,
            }
        )
    for r in ablation_table(df, [s for s in scenarios if s.startswith("class_")]).itertuples():
        rows.append(
            {
                "claim": f"{r.request}: {r.claim}",
                "paper": "not in the abstract (our reading)",
                "ours": f"{r.compared}: {r.difference}",
                "verdict": r.verdict,
            }
        )
    return pd.DataFrame(rows, columns=["claim", "paper", "ours", "verdict"])
