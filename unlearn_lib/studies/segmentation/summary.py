"""Notebook 03's ``summary.md`` and its batch merger over forget requests run as separate tasks.

:func:`summary_parts` assembles the tables, and :func:`merge_parts` (named by
:mod:`unlearn_lib.batch.merge` as ``unlearn_lib.studies.segmentation:merge_parts``) redraws the figures and the
summary over all parts, by the same functions the notebook calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from ...floors import FLOORS
from .figures import dice_curves, slices_figure
from .tables import _groups, floors_table, horizon_spread, memorisation_table, tradeoff_table
from .tuning import seg_tuning_table
from .verdicts import claims_table, paper_lens_table


def merge_parts(
    df: pd.DataFrame, params: Mapping[str, Any], run_dirs: Sequence[Path], figures_dir: Path
) -> tuple[dict[str, pd.DataFrame | str], str]:
    """Notebook 03's merger (:mod:`unlearn_lib.batch.merge`): its summary and figures over forget requests
    that ran as separate tasks, drawn by the same functions the notebook calls.

    Why: each request is unlearned from the same cached baseline and is independent of the others, so
    the batch runs them side by side; the study's tables (mean ± spread over requests) need all of them."""
    from ...plotting import save_figure

    horizons = list(params["horizons"])
    floors = df.scenario == FLOORS  # every part records the same floors (they ignore the request): keep one copy
    df = pd.concat([df[~floors], df[floors].drop_duplicates(subset=[c for c in df.columns if c not in ("run_id", "timestamp")])])
    unl = df[df.scenario != FLOORS]
    figures_dir = Path(figures_dir)
    g = dice_curves(unl)
    save_figure(g.figure, figures_dir / "03_dice_curves.png")
    plt.close(g.figure)
    g = dice_curves(unl, metric="mae")
    save_figure(g.figure, figures_dir / "03_mae_curves.png")
    plt.close(g.figure)
    slices = Path(run_dirs[0]) / "slices.npz"
    if slices.is_file():  # the first request's subjects, as the one-task notebook draws them
        tissues = list(dict.fromkeys(m[len("dice_") :] for m in unl.metric.unique() if str(m).startswith("dice_")))
        fig = slices_figure(slices, ["background", *tissues])
        save_figure(fig, figures_dir / "03_slices.png")
        plt.close(fig)
    note = (
        f"profile {params.get('profile', '?')}; {len(params['forget_requests'])} forget request(s), "
        f"{params.get('unlearn_epochs', '?')} unlearning epochs; baseline and retrain trained with {params.get('recipe')}"
    )
    return summary_parts(df, horizons, params.get("min_signal", 0.01)), note


def summary_parts(df: pd.DataFrame, horizons: Sequence[int], min_signal: float = 0.01) -> dict[str, pd.DataFrame | str]:
    """The parts of ``summary.md``: floors, the horizon table, memorisation, the signal floor of requests
    labelled by their design (:mod:`unlearn_lib.studies.segmentation.design`), the mechanics' tuning
    (:mod:`.tuning`), the trade-off ranking, and the paper's
    lens beside retrain's (:mod:`.verdicts`)."""
    from ...report import markdown_table
    from .design import FLOOR_GAP, FLOOR_SPREAD, MIN_TRAINING_SEEDS, signal_floor_table

    parts: dict[str, pd.DataFrame | str] = {}
    if (df.scenario == FLOORS).any():
        parts["Held-out Dice of the trivial floors and of the baseline model"] = markdown_table(floors_table(df).reset_index())
    df = df[df.scenario != FLOORS]
    n = len(_groups(df))
    parts[
        f"Mean foreground Dice on retain / forget / held-out subjects at {', '.join(map(str, horizons))} unlearning epochs, mean ± std over {n} forget request(s)"
    ] = horizon_spread(df, horizons).reset_index()
    parts[
        "Memorisation: what the baseline knows about each forgotten subject beyond what retraining without it gives (paired over training seeds; informative only when the CI excludes 0 and the mean reaches min_signal)"
    ] = markdown_table((memo := memorisation_table(df, min_signal=min_signal)).reset_index())  # computed once, read below
    floor = signal_floor_table(df)
    if not floor.empty and floor.design.ne("unlabelled").any():  # requests labelled by their design
        parts[
            f"Signal floor per request: retrain's forget Dice ≥ {FLOOR_GAP} below the original's and ≥ {FLOOR_SPREAD:g}× retrain's held-out spread over ≥ {MIN_TRAINING_SEEDS} training seeds; typical requests have none"
        ] = markdown_table(floor.reset_index())
    tuning = seg_tuning_table(df)
    if not tuning.empty:
        parts[
            "Each mechanic's learning rate, picked on validation subjects from the same candidates at the same epochs (no forgotten subject's label reads it): the pick, whether it sits on the grid's edge, its score parts, and the search's cost"
        ] = markdown_table(tuning.reset_index(), "{:.3f}")
    table, informative = tradeoff_table(df, max(horizons), min_signal, memo=memo)
    excluded = table.attrs["excluded"]
    verdict = (
        f"ranked over the {len(table.attrs['requests'])} request(s) with signal"
        + (f" (left out, no signal over training seeds: {', '.join(map(str, excluded))})" if excluded else "")
        if informative
        else f"UNINFORMATIVE (no request's memorisation holds over training seeds and reaches {min_signal}: not ranked)"
    )
    parts[
        f"Distance to retrain at {max(horizons)} epochs (mean |Dice − retrain's| over the three splits, 95 % CI over training seeds, and whether it beats doing nothing), with cost; scenario {verdict}"
    ] = markdown_table(table.reset_index())
    lens = paper_lens_table(df, horizons, min_signal, memo=memo)
    if not lens.empty:
        over = ", ".join(map(str, lens.attrs["requests"]))
        parts[
            f"The paper's lens beside retrain's: each mechanic's forget Δ % and retain kept (mean, 95 % CI over training seeds) beside the paper's −93 % / 84 % (Noisy Label @50), the one rule's verdict per row, and whether retrain-matching agrees (over {over})"
        ] = markdown_table(lens.reset_index(), "{:.2f}")
        claims = claims_table(lens, max(horizons))
        if not claims.empty:
            parts[f"The paper's claims at {max(horizons)} epochs, verdicts over training seeds (over {over})"] = markdown_table(claims)
    return parts
