"""Per-scenario tables of the GAN experiment, pivoted from the saved tidy metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ...verdict import paired_difference
from .canary_request import CANARY_RATES, CanaryPlan, canary_level, request_canary_signal
from .columns import GAN_COLUMNS, QUALITY_COLUMNS
from .verdicts import PAPER_SPEEDUP, claims_table, informative, retrain_table, signal_table

__all__ = [
    "GAN_COLUMNS",
    "PAPER_SPEEDUP",
    "canary_columns",
    "merge_parts",
    "quality_gap_by_size",
    "quality_gap_figure",
    "quality_table",
    "request_scenarios",
    "scenario_table",
    "speedup_figure",
    "speedup_table",
    "summary_parts",
]


def scenario_table(
    df: pd.DataFrame,
    scenario: str,
    columns: Mapping[tuple[str, str], str] = GAN_COLUMNS,
    methods: Sequence[str] | None = None,
    digits: int = 3,
) -> pd.DataFrame:
    """``mean ± 95 % CI half-width`` over seeds per method (rows) and metric (columns) of one scenario.

    The interval is the verdict rule's (:func:`~unlearn_lib.verdict.paired_difference`), so a table
    and the verdicts read from it agree on the spread; one seed gives the mean alone. Unlike a plain
    pivot it keeps methods that lack a metric (the original GAN has no wall time) as an empty cell,
    and it keeps the methods in run order (``original`` first).
    """
    sel = df[df.scenario == scenario]
    if sel.empty:
        raise ValueError(f"no rows for scenario {scenario!r}; scenarios present: {sorted(df.scenario.unique())}")
    order = list(methods) if methods is not None else list(dict.fromkeys(sel.method))
    out = pd.DataFrame(index=pd.Index(order, name="method"))
    for (split, metric), header in columns.items():
        per_seed = sel[(sel.split == split) & (sel.metric == metric)].groupby(["method", "seed"])["value"].mean()
        if per_seed.empty:
            continue
        cells = {}
        for m, values in per_seed.groupby(level="method"):
            d = paired_difference(values.to_numpy())
            cells[m] = f"{d.mean:.{digits}f}" + (f" ± {(d.hi - d.lo) / 2:.{digits}f}" if d.n > 1 else "")
        out[header] = [cells.get(m, "") for m in order]
    return out


def request_scenarios(df: pd.DataFrame) -> list[str]:
    """The request scenarios of a run in run order (``items_16``, ..., ``class_7``, ``class_3+8``, ``canaries``)."""
    return [s for s in dict.fromkeys(df.scenario) if str(s).startswith(("items_", "class_")) or s == "canaries"]


def canary_columns(df: pd.DataFrame) -> dict[tuple[str, str], str]:
    """Column headers of the canary table for the duplicate levels ``df`` holds (``canary_d<d>`` splits):
    per level, the planted-mark rate (marked canaries), the extraction rate, the controls' rate, the
    share of canaries extracted, the NN ratio."""
    levels = sorted({d for d in map(canary_level, df.split.unique()) if d is not None})
    names = {
        "mark_rate": CANARY_RATES["mark_rate"],  # the rates' headers are declared once, with the rates
        "extraction_rate": CANARY_RATES["extraction_rate"],
        "control_extraction_rate": "controls",
        "canaries_extracted": "canaries hit",
        "nn_ratio": "NN ratio",
    }
    have = set(zip(df.split, df.metric))
    return {(f"canary_d{d}", m): f"d={d}: {h}" for d in levels for m, h in names.items() if (f"canary_d{d}", m) in have}


def speedup_table(df: pd.DataFrame, method: str = "gan_cascaded", reference: str = "gan_retrain") -> pd.DataFrame:
    """Per request: its size, the optimizer steps of ``method`` and of ``reference``, their ratio, and
    the measured seconds ratio (mean and 95 % CI half-width over seeds). Why both: the steps ratio is what the two
    schedules imply, the seconds ratio what this machine measured; they differ by per-step costs
    (substitutes, the forget batch in the fake-label step)."""
    rows = []
    for scen in request_scenarios(df):
        sel = df[(df.scenario == scen) & (df.split == "all")]

        def values(m: str, metric: str, sel: pd.DataFrame = sel) -> pd.Series:
            return sel[(sel.method == m) & (sel.metric == metric)].set_index("seed")["value"]

        if values(method, "steps").empty or values(reference, "steps").empty:
            continue
        secs = values(reference, "seconds") / values(method, "seconds")
        ci = paired_difference(secs.dropna().to_numpy())
        size = df[df.scenario == scen].forget_size.dropna()
        rows.append(
            {
                "request": scen,
                "forget size": int(size.iloc[0]) if len(size) else -1,
                f"{method} steps": float(values(method, "steps").mean()),
                f"{reference} steps": float(values(reference, "steps").mean()),
                "steps ratio": float((values(reference, "steps") / values(method, "steps")).mean()),
                "seconds ratio": float(secs.mean()),
                "seconds ratio ± 95% CI": (ci.hi - ci.lo) / 2 if ci.n > 1 else 0.0,
                "seeds": len(secs),
            }
        )
    return pd.DataFrame(rows)


def speedup_figure(speed: pd.DataFrame, paper: float | None = None, label: str = "") -> Any:
    """Speed-up against request size: measured seconds ratio (mean ± 95 % CI over seeds) and steps ratio
    for item requests, class requests as points, the paper's headline as a line (``speedup_table``'s rows)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    items = speed[speed.request.str.startswith("items_")]
    ax.errorbar(
        items["forget size"], items["seconds ratio"], yerr=items["seconds ratio ± 95% CI"], marker="o", label="seconds ratio (items)"
    )
    ax.plot(items["forget size"], items["steps ratio"], marker="s", ls="--", label="steps ratio (items)")
    classes = speed[speed.request.str.startswith("class_")]
    ax.scatter(classes["forget size"], classes["seconds ratio"], marker="^", color="C3", label="seconds ratio (classes)", zorder=3)
    canaries = speed[speed.request == "canaries"]
    if len(canaries):
        ax.scatter(canaries["forget size"], canaries["seconds ratio"], marker="D", color="C4", label="seconds ratio (canaries)", zorder=3)
    if paper:
        ax.axhline(paper, color="grey", ls=":", label=f"paper headline {label}".strip())
    if (speed["forget size"] > 0).any() and (speed["seconds ratio"] > 0).any():  # a log axis needs a positive point
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
    ax.set_xlabel("forget request size (images)")
    ax.set_ylabel("retrain / gan_cascaded")
    ax.legend(fontsize=7)
    ax.set_title("speed-up against request size")
    return fig


def quality_gap_by_size(df: pd.DataFrame, reference: str = "gan_retrain") -> pd.DataFrame:
    """Item requests: each method's classifier-FID minus ``reference``'s, mean over seeds, one row per
    request size. Why a gap: retraining is what the request asks for, so 0 is the goal and a method's
    distance from it is its quality cost; an empty frame when ``df`` holds no item request."""
    sizes = df[df.scenario.str.startswith("items_") & (df.metric == "classifier_fid")].copy()
    sizes["request size"] = sizes.forget_size.astype(int)
    fid = sizes.pivot_table(index="request size", columns="method", values="value", aggfunc="mean")
    if not len(fid) or reference not in fid:
        return pd.DataFrame()
    return fid.drop(columns=[reference]).sub(fid[reference], axis=0)


def quality_gap_figure(gap: pd.DataFrame, reference: str = "gan_retrain") -> Any:
    """:func:`quality_gap_by_size` against request size (log scale, the sizes as plain numbers)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    for m in gap.columns:
        ax.plot(gap.index, gap[m], marker="o", label=m)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(gap.index), [str(n) for n in gap.index])
    ax.set_xlabel("forget request size (images)")
    ax.set_ylabel(f"classifier-FID minus {reference}'s")
    ax.legend(fontsize=7)
    ax.set_title("quality cost vs request size (items)")
    return fig


#: The scenario holding the original's quality checks and the real-digit reference (not a request).
TRAINING = "original_training"


#: How close to real digits' downstream accuracy an original must come to count as converged (#34's bar:
#: within 0.05 of the ceiling the measurement gives on real digits, not an absolute number).
CEILING_MARGIN = 0.05
#: The column that says, per original, whether it meets that bar.
NEAR_CEILING = f"downstream within {CEILING_MARGIN:g} of real digits"
#: The column that says whether an original reached the recipe's early-stop target (``target_is``,
#: ``target_downstream``), where training would have stopped before its cap of iterations.
REACHED = "reached the early-stop target"


def _last_check(checks: pd.DataFrame) -> tuple[int, dict[str, float]]:
    """The iteration of the last quality check among ``checks`` (one original's, or several seeds'), and
    each quality column at each seed's last check (averaged over the seeds given)."""
    is_steps = checks[checks.metric == "classifier_is"].step
    latest = checks[checks.step == checks.groupby(["seed", "split", "metric"], dropna=False).step.transform("max")]
    values = {h: latest[(latest.split == sp) & (latest.metric == m)].value.mean() for (sp, m), h in QUALITY_COLUMNS.items()}
    return int((is_steps if len(is_steps) else checks.step).max()), values


#: The canary request's scenario: its originals are trained on the digits with the canaries planted.
CANARIES = "canaries"


def _canary_originals(df: pd.DataFrame) -> dict[str, dict[str, float]]:
    """The canary request's originals (their own, trained with the canaries planted), per seed and their
    mean over seeds, from that request's evaluation: they are originals too, and can miss the bar."""
    sel = df[(df.scenario == CANARIES) & (df.method == "original")]
    seeds = sorted(sel.seed.dropna().unique())

    def values(part: pd.DataFrame) -> dict[str, float]:
        return {h: part[(part.split == sp) & (part.metric == m)].value.mean() for (sp, m), h in QUALITY_COLUMNS.items()}

    rows = {f"canary original seed {int(s)} (canaries planted; its request's evaluation)": values(sel[sel.seed == s]) for s in seeds}
    if len(seeds) > 1:
        rows[f"canary originals, mean over {len(seeds)} seeds"] = values(sel)
    return rows


def quality_table(df: pd.DataFrame, targets: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Each original's quality at its last check beside real digits and the bars read against them.

    Reads the ``original_training`` rows: the originals' checks (method ``original``, one per ``seed``
    and ``step``; each metric at the last step it was recorded) and
    :meth:`~unlearn_lib.studies.gan.GANExperiment.real_reference` (method ``real_digits``). With several
    seeds, each original has its row and a last row gives their mean: one seed's original can miss the
    bar the others meet, and a mean alone would hide it. The canary request's own originals (scenario
    ``canaries``) follow, judged by the same bars from that request's evaluation. ``targets`` (``target_is``,
    ``target_downstream``: the recipe's early stop) add that row and whether each original reached it
    (:data:`REACHED`);
    :data:`NEAR_CEILING` says whether its downstream accuracy is within :data:`CEILING_MARGIN` of real
    digits'. Why: a GAN's IS or downstream accuracy means little alone; against real digits it says
    how far it is from what the measurement can give at all; the IS's factors (effective classes /
    sample ambiguity) say whether a shortfall is missing digits or unclear ones.
    """
    sel = df[df.scenario == TRAINING]
    rows: dict[str, dict[str, Any]] = {}
    orig = sel[(sel.method == "original") & sel.step.notna()]
    seeds = sorted(orig.seed.dropna().unique()) if "seed" in orig else []
    if len(seeds) > 1:
        for s in seeds:
            iteration, values = _last_check(orig[orig.seed == s])
            rows[f"original seed {int(s)} (last check, iteration {iteration})"] = values
        rows[f"originals, mean over {len(seeds)} seeds"] = _last_check(orig)[1]
    elif len(orig):
        iteration, values = _last_check(orig)
        rows[f"original (last check, iteration {iteration})"] = values
    rows.update(_canary_originals(df))
    originals = list(rows)
    real = sel[sel.method == "real_digits"]
    ceiling = None
    if len(real):
        count = real[real.metric == "n_images"].value
        n = f"{int(count.iloc[0])} real training digits" if len(count) else "real training digits"
        rows[f"{n} (same measurement)"] = {
            h: real[(real.split == sp) & (real.metric == m)].value.mean() for (sp, m), h in QUALITY_COLUMNS.items()
        }
        ceiling = rows[f"{n} (same measurement)"].get(QUALITY_COLUMNS[("test", "downstream_accuracy")])
    if ceiling is not None and pd.notna(ceiling):
        for label in originals:  # a missing value never meets a bar (NaN >= x is False)
            acc = rows[label].get(QUALITY_COLUMNS[("test", "downstream_accuracy")], float("nan"))
            rows[label][NEAR_CEILING] = "yes" if acc >= ceiling - CEILING_MARGIN else "no"
    if targets is not None:
        named = {"target_is": "classifier IS", "target_downstream": "downstream acc."}
        bar = {h: float(targets[k]) for k, h in named.items() if k in targets}  # a target not given is not drawn as 0
        rows["early-stop target (target_is, target_downstream)"] = bar
        for label in originals:
            rows[label][REACHED] = "yes" if all(rows[label].get(h, float("nan")) >= v for h, v in bar.items()) else "no"
    out = pd.DataFrame.from_dict(rows, orient="index")
    verdicts = [c for c in (NEAR_CEILING, REACHED) if c in out.columns]
    out = out.reindex(columns=[c for c in [*QUALITY_COLUMNS.values(), *verdicts] if c in out.columns])
    out.index.name = "model"
    out = out.dropna(axis=1, how="all")
    for c in verdicts:
        out[c] = out[c].fillna("")
    return out.round(3)


def summary_parts(
    df: pd.DataFrame, dataset: str, targets: Mapping[str, float] | None = None, canary_samples: int | None = None
) -> dict[str, Any]:
    """The parts of notebook 05's ``summary.md``: the originals' quality against real digits and the bars
    (when the original's training rows are in ``df``), whether each request has something to forget,
    one table per request (mean ± 95 % CI over seeds) and its verdicts against retrain
    (:mod:`unlearn_lib.studies.gan.verdicts`), the canary request's signal and extraction tables (when it ran;
    ``canary_samples`` is the plan's ``n_samples``), the study's claims, and the speed-up table
    beside the paper's headline, each row saying whether its request had signal. Shared by the
    notebook and the split merger."""
    parts: dict[str, Any] = {}
    if (df.scenario == TRAINING).any():
        parts[
            f"Quality of the originals against real digits (the ceiling of the measurement): {NEAR_CEILING}, and the recipe's early-stop target"
        ] = quality_table(df, targets).reset_index()
        df = df[df.scenario != TRAINING]
    scenarios = request_scenarios(df)
    signal = signal_table(df, scenarios)
    canary = request_canary_signal(df, scenarios, n_samples=canary_samples)
    flags = informative(df, scenarios, canary_samples, table=signal, canary=canary)
    if len(signal):
        parts[
            "Is there something to forget? The original against gan_retrain per request and forgetting measure (paired 95% CI over seeds)"
        ] = signal
    for scen in scenarios:
        size = df[df.scenario == scen].forget_size.dropna()
        n = int(size.iloc[0]) if len(size) else 0
        if scen == "canaries":
            parts[
                "Canaries: is there something to forget? (the original's extraction and planted-mark rates against gan_retrain's, mean over seeds)"
            ] = canary
            parts["Request canaries: planted mark and extraction per duplicate level, mean ± 95% CI over seeds"] = scenario_table(
                df, scen, columns=canary_columns(df[df.scenario == scen])
            ).reset_index()
            what = f"every copy of the planted canaries, {n} images"
        else:
            what = f"{n} random training images" if scen.startswith("items_") else f"every image of digit(s) {scen[6:]}"
        parts[f"Request {scen} ({what}), mean ± 95% CI over seeds"] = scenario_table(df, scen).reset_index()
        if {"original", "gan_retrain"} <= set(df[df.scenario == scen].method):  # what every verdict compares
            label = "informative" if flags.get(scen) else "UNINFORMATIVE: nothing to forget, so not a result"
            parts[f"Request {scen} against gan_retrain ({label}): method − retrain, paired 95% CI over seeds"] = retrain_table(
                df, scen
            ).reset_index()
    claims = claims_table(df, scenarios, dataset, canary_samples, flags=flags)
    if len(claims):
        parts["The study's claims: Sun et al.'s number beside ours, verdicts over seeds"] = claims
    speed = speedup_table(df)
    speed["signal"] = [bool(flags.get(r, False)) for r in speed["request"]] if len(speed) else []
    speed["paper (Sun et al.)"] = PAPER_SPEEDUP.get(dataset)
    parts[
        "Speed-up of gan_cascaded over gan_retrain per request (steps and measured seconds) beside the paper's headline; a speed-up counts only where the request has signal"
    ] = speed
    return parts


def merge_parts(df: pd.DataFrame, params: Mapping[str, Any], run_dirs: Sequence[Path], figures_dir: Path) -> tuple[dict[str, Any], str]:
    """Notebook 05's merger (:mod:`unlearn_lib.batch.merge`) when the profile splits it by ``parts``
    (each task some of the requests: :func:`~unlearn_lib.studies.gan.experiment.plan_requests`).

    Why: every request starts from the same cached original and is independent of the others, so
    the batch runs them side by side; the summary and the figures over request size need them all. The original's training
    curve (recorded by every part, identical) enters the summary as its last check only: the notebook
    plots it."""
    import matplotlib.pyplot as plt

    from ...plotting import save_figure

    rows = df[df.scenario != TRAINING]
    speed = speedup_table(rows)
    if len(speed):  # the notebook's figures, redrawn over every part (each part drew its own requests only)
        dataset = str(params.get("dataset", ""))
        fig = speedup_figure(speed, PAPER_SPEEDUP.get(dataset), dataset)
        save_figure(fig, Path(figures_dir) / "05_speedup_vs_request_size.png")
        plt.close(fig)
    gap = quality_gap_by_size(rows)
    if len(gap):
        fig = quality_gap_figure(gap)
        save_figure(fig, Path(figures_dir) / "05_quality_vs_request_size.png")
        plt.close(fig)
    note = (
        f"parts {list(params.get('parts', []))}; seeds {list(params.get('seeds', []))}; "
        f"original and gan_retrain: "
        f"{params.get('recipe')}; cascade {params.get('cascade')}"
    )
    recipe = params.get("recipe") or {}
    targets = {k: recipe[k] for k in ("target_is", "target_downstream") if k in recipe} or None
    samples = CanaryPlan.from_value(params["canaries"]).n_samples if params.get("canaries") is not None else None
    return summary_parts(df, str(params.get("dataset", "")), targets, canary_samples=samples), note
