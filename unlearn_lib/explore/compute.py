"""Pure functions behind the explorer: tables and figures from saved results, testable without widgets.

Every function takes DataFrames or arrays (what :mod:`unlearn_lib.results` loads) and returns a
DataFrame or a matplotlib figure; a selection that matches nothing raises :class:`Missing`, whose
message the views show instead of a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from scipy import stats

from ..results import ARRAYS, LATEST, load_examples, load_runs, run_dirs
from ..segmentation import SavedSlices, read_slices

__all__ = [
    "Missing",
    "attack_at",
    "attack_curve",
    "attack_figure",
    "cka_table",
    "classwise_accuracy",
    "cost_closeness_frame",
    "cost_figure",
    "discover_studies",
    "embedding_figure",
    "feature_embedding_figure",
    "gan_grid_figure",
    "gan_item_images",
    "gan_request",
    "gan_table",
    "is_class_request",
    "method_table",
    "nearest_figure",
    "nearest_frame",
    "prediction_figure",
    "prediction_matrix",
    "representation_arrays",
    "request_classes",
    "run_diff",
    "run_label",
    "saved_slices",
    "segmentation_dice",
    "segmentation_figure",
    "study_kind",
]

#: The model every method is measured against, per study family.
REFERENCES = ("retrain", "gan_retrain")


class Missing(LookupError):
    """What the user asked for is not in these results; the message says what is missing and why."""


# -- discovery -----------------------------------------------------------------------------------------------


def discover_studies(results_dir: str | Path) -> dict[str, Path]:
    """Every study (a notebook's results dir with a ``latest.json``) under ``results_dir``, by name.

    Works on the committed ``results/`` and on any ``--out`` dir of a batch run (same layout).
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise Missing(f"no results directory at {root}: run `make study` (or point results_dir at a batch's --out dir)")
    found = {p.parent.name: p.parent for p in sorted(root.glob(f"*/{LATEST}"))}
    if not found:
        raise Missing(f"no study results under {root}: no */{LATEST} (run `make study` or a notebook first)")
    return found


def study_kind(study_dir: str | Path) -> str:
    """``classifier``, ``segmentation`` or ``gan``, from the files the study's latest runs kept."""
    dirs = run_dirs(study_dir)
    if any((d / "slices.npz").is_file() for d in dirs):
        return "segmentation"
    for d in dirs:  # a GAN run's arrays are its sample grids; a classifier's are features and CKA
        if (d / ARRAYS).is_file():
            with np.load(d / ARRAYS) as arrays:
                if any(k.startswith("samples/") for k in arrays.files):
                    return "gan"
    return "classifier"


def run_label(run_dir: Path) -> str:
    """A run's name in a dropdown: study / run id (timestamp, profile when the batch recorded one)."""
    info: dict = {}
    task: dict = {}
    try:
        info = json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError):
        pass
    try:
        task = json.loads((run_dir / "task.json").read_text())
    except (OSError, ValueError):
        pass
    stamp = str(info.get("timestamp", ""))[:16]
    profile = task.get("profile")
    params = task.get("parameters") or info.get("parameters") or {}
    request = f"forget subjects {params['forget_requests']}" if params.get("forget_requests") else None
    extra = ", ".join(str(x) for x in (request, stamp, profile) if x)
    return f"{run_dir.parent.name}/{run_dir.name}" + (f" ({extra})" if extra else "")


def load_study(study_dir: str | Path) -> pd.DataFrame:
    """The latest runs' metrics of one study, or :class:`Missing` with the reason."""
    try:
        return load_runs(study_dir)
    except (FileNotFoundError, ValueError) as err:
        raise Missing(f"cannot read the metrics of {Path(study_dir).name}: {err}") from err


def load_study_examples(study_dir: str | Path) -> pd.DataFrame:
    """The latest runs' per-example rows, or :class:`Missing` (older runs kept none)."""
    try:
        return load_examples(study_dir)
    except (FileNotFoundError, ValueError) as err:
        raise Missing(f"{Path(study_dir).name}: {err}; re-run its notebook to keep them") from err


# -- screen ----------------------------------------------------------------------------------------------------


def _ci(values: np.ndarray, level: float = 0.95) -> float:
    """Half-width of the t confidence interval of the mean over seeds (nan with a single seed)."""
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return float("nan")
    return float(stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))


def _select(df: pd.DataFrame, scenario: str | None, seeds: list[int] | None) -> pd.DataFrame:
    sel = df if scenario is None else df[df.scenario == scenario]
    if seeds:
        sel = sel[sel.seed.isin(seeds)]
    return sel


def method_table(df: pd.DataFrame, scenario: str, metric: str, split: str, seeds: list[int] | None = None) -> pd.DataFrame:
    """Every method's mean ± 95% CI over seeds of one metric on one split, beside retrain's, sorted by
    the distance to retrain (closest first): the table that answers "which method is closest?"."""
    sel = _select(df, scenario, seeds)
    sel = sel[(sel.metric == metric) & (sel.split == split)]
    if sel.empty:
        raise Missing(f"no {metric!r} on split {split!r} in scenario {scenario!r} for these seeds")
    per_seed = sel.groupby(["method", "seed"], sort=False).value.mean().reset_index()
    rows = []
    for method, g in per_seed.groupby("method", sort=False):
        v = g.value.to_numpy(dtype=float)
        rows.append({"method": method, "seeds": len(v), "mean": float(np.nanmean(v)), "ci95": _ci(v)})
    table = pd.DataFrame(rows)
    ref = next((r for r in REFERENCES if r in set(table.method)), None)
    if ref is not None:
        ref_mean = float(table.loc[table.method == ref, "mean"].iloc[0])
        table["retrain"] = ref_mean
        table["delta"] = table["mean"] - ref_mean
        table = table.iloc[np.argsort(np.abs(table["delta"].to_numpy()), kind="stable")]
    table["mean ± CI"] = [f"{m:.3f} ± {c:.3f}" if np.isfinite(c) else f"{m:.3f}" for m, c in zip(table["mean"], table["ci95"])]
    return table.reset_index(drop=True)


def cost_closeness_frame(df: pd.DataFrame, scenario: str, metric: str, split: str, seeds: list[int] | None = None) -> pd.DataFrame:
    """Per method: wall time (``seconds`` on split ``all``) and the distance |mean − retrain| of the chosen metric."""
    table = method_table(df, scenario, metric, split, seeds)
    if "delta" not in table:
        raise Missing(f"no retrain in scenario {scenario!r}: closeness to retrain is undefined")
    sel = _select(df, scenario, seeds)
    secs = sel[(sel.metric == "seconds") & (sel.split == "all")].groupby("method").value.mean()
    if secs.empty:
        raise Missing(f"no wall times (metric 'seconds') in scenario {scenario!r}")
    out = table.assign(seconds=table.method.map(secs), distance=table["delta"].abs())
    out = out[out.method != "original"]  # doing nothing: its wall time is the original's training, not an unlearning cost
    return out.dropna(subset=["seconds"]).reset_index(drop=True)


def cost_figure(frame: pd.DataFrame, metric: str, split: str) -> plt.Figure:
    """Cost (wall time) against closeness to retrain, every point labelled with its method."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    sns.scatterplot(data=frame, x="seconds", y="distance", s=60, color="tab:blue", ax=ax)
    for _, r in frame.iterrows():
        ax.annotate(r.method, (r.seconds, r.distance), xytext=(4, 3), textcoords="offset points", fontsize=8)
    ax.set(xlabel="wall time (s)", ylabel=f"|{metric} − retrain| on {split}", title="cost against closeness to retrain")
    fig.tight_layout()
    return fig


def run_diff(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Every (scenario, method, split, metric) both runs measured, mean over seeds, and b − a, largest first."""
    keys = ["scenario", "method", "split", "metric"]
    ma = a.groupby(keys).value.mean().rename("a")
    mb = b.groupby(keys).value.mean().rename("b")
    both = pd.concat([ma, mb], axis=1, join="inner").reset_index()
    if both.empty:
        raise Missing("the two runs share no (scenario, method, split, metric): pick runs of the same study")
    both["b − a"] = both.b - both.a
    both = both[both.metric != "seconds"]
    return both.iloc[np.argsort(-np.abs(both["b − a"].to_numpy()), kind="stable")].reset_index(drop=True)


# -- contrast ---------------------------------------------------------------------------------------------------


def _prob_columns(ex: pd.DataFrame) -> list[str]:
    cols = sorted((c for c in ex.columns if c.startswith("prob_")), key=lambda c: int(c.split("_")[1]))
    if not cols:
        raise Missing("these per-example rows keep no class probabilities (prob_*)")
    return cols


def classwise_accuracy(ex: pd.DataFrame, scenario: str, methods: list[str], split: str) -> pd.DataFrame:
    """Accuracy per true class (rows) and model (columns) on one split: where did forgetting land?"""
    sel = ex[(ex.scenario == scenario) & (ex.split == split) & ex.method.isin(methods)]
    if sel.empty:
        raise Missing(f"no per-example rows for {methods} on {split!r} in scenario {scenario!r}")
    table = sel.pivot_table(index="label", columns="method", values="correct", aggfunc="mean")
    return table[[m for m in methods if m in table.columns]]


def prediction_matrix(ex: pd.DataFrame, scenario: str, method: str, split: str = "forget") -> pd.DataFrame:
    """Counts of true class (rows) against predicted class (columns) of one model on one split."""
    sel = ex[(ex.scenario == scenario) & (ex.split == split) & (ex.method == method)]
    if sel.empty:
        raise Missing(f"no per-example rows of {method!r} on {split!r} in scenario {scenario!r}")
    cols = _prob_columns(sel)
    pred = sel[cols].to_numpy().argmax(axis=1)
    table = pd.crosstab(sel.label.to_numpy(), pred, rownames=["true"], colnames=["predicted"])
    return table.reindex(columns=range(len(cols)), fill_value=0)  # every class a column: models side by side line up


def prediction_figure(ex: pd.DataFrame, scenario: str, methods: list[str], split: str = "forget") -> plt.Figure:
    """The prediction matrices of several models side by side (same examples)."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, len(methods), figsize=(3.4 * len(methods), 3.2), squeeze=False)
    for ax, m in zip(axes[0], methods):
        try:
            sns.heatmap(prediction_matrix(ex, scenario, m, split), annot=True, fmt="d", cbar=False, cmap="Blues", ax=ax)
        except Missing:
            ax.text(0.5, 0.5, "not in these results", ha="center", va="center")
        ax.set_title(f"{m}: predictions on {split}")
    fig.tight_layout()
    return fig


def embedding_figure(ex: pd.DataFrame, scenario: str, methods: list[str], features: dict[str, np.ndarray] | None = None) -> plt.Figure:
    """PCA of each model's outputs (log class probabilities; penultimate features when a run saved them),
    coloured by split: a forgotten set that still sits with retain is not forgotten."""
    from sklearn.decomposition import PCA

    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, len(methods), figsize=(3.6 * len(methods), 3.4), squeeze=False)
    for ax, m in zip(axes[0], methods):
        sel = ex[(ex.scenario == scenario) & (ex.method == m)]
        if sel.empty:
            ax.text(0.5, 0.5, "not in these results", ha="center", va="center")
            continue
        x = np.log(np.clip(sel[_prob_columns(sel)].to_numpy(dtype=float), 1e-6, 1.0))
        z = PCA(n_components=2, random_state=0).fit_transform(x)
        sns.scatterplot(x=z[:, 0], y=z[:, 1], hue=sel.split.to_numpy(), style=sel.split.to_numpy(), s=12, palette="colorblind", ax=ax)
        ax.set(title=f"{m}: PCA of log-probabilities", xticks=[], yticks=[])
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def memorisation_frame(ex: pd.DataFrame, scenario: str, methods: list[str]) -> pd.DataFrame:
    """Per example of the forget and retain splits: its memorisation score and each model's probability
    of the example's (trained) label. Raises :class:`Missing` when the run kept no memorisation scores."""
    sel = ex[(ex.scenario == scenario) & ex.method.isin(methods) & ex.split.isin(["forget", "retain"])]
    if "memorisation" not in sel or sel.memorisation.isna().all():
        raise Missing(f"no memorisation scores in scenario {scenario!r} (runs that scored their training set keep them)")
    sel = sel[sel.memorisation.notna()]
    probs = sel[_prob_columns(sel)].to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "method": sel.method.to_numpy(),
            "split": sel.split.to_numpy(),
            "memorisation": sel.memorisation.to_numpy(dtype=float),
            "p(label)": probs[np.arange(len(sel)), sel.label.to_numpy(dtype=int)],
        }
    )


def memorisation_figure(ex: pd.DataFrame, scenario: str, methods: list[str]) -> plt.Figure:
    """Each model's confidence in an example's label against how memorised the example is: retrain loses
    memorised forget examples and keeps typical ones; a method that forgot like it does the same."""
    frame = memorisation_frame(ex, scenario, methods)
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, len(methods), figsize=(3.6 * len(methods), 3.4), sharey=True, squeeze=False)
    for ax, m in zip(axes[0], methods):
        sub = frame[frame.method == m]
        if sub.empty:
            ax.text(0.5, 0.5, "not in these results", ha="center", va="center")
        else:
            sns.scatterplot(
                data=sub,
                x="memorisation",
                y="p(label)",
                hue="split",
                hue_order=["retain", "forget"],
                s=14,
                alpha=0.7,
                palette="colorblind",
                ax=ax,
            )
            ax.legend(title="split", fontsize=7, loc="lower left")
        ax.set(title=f"{m}", xlabel="memorisation score", ylabel="p(label)", xlim=(-0.05, 1.05), ylim=(-0.05, 1.05))
    fig.tight_layout()
    return fig


def representation_arrays(study_dir: str | Path) -> dict[str, np.ndarray]:
    """The ``embedding/...`` and ``cka/...`` arrays the study's latest runs saved (empty when they predate them)."""
    out: dict[str, np.ndarray] = {}
    for d in run_dirs(study_dir):
        if (d / ARRAYS).is_file():
            with np.load(d / ARRAYS) as npz:
                out.update({k: npz[k] for k in npz.files if k.startswith(("embedding/", "cka/"))})
    return out


def _seed_key(arrays: dict[str, np.ndarray], kind: str, scenario: str) -> str:
    keys = sorted({k.rsplit("/", 1)[0] for k in arrays if k.startswith(f"{kind}/{scenario}/seed")})
    if not keys:
        raise Missing(f"no {kind} arrays for scenario {scenario!r} (runs from before penultimate features were saved)")
    return keys[0]


def cka_table(arrays: dict[str, np.ndarray], scenario: str, methods: list[str]) -> pd.DataFrame:
    """Linear CKA to retrain per layer (rows) and model (columns), first seed: 1 means retrain's representation."""
    key = _seed_key(arrays, "cka", scenario)
    layers = [str(x) for x in arrays[f"{key}/layers"]]
    cols = {m: arrays[f"{key}/{m}"] for m in methods if f"{key}/{m}" in arrays}
    if not cols:
        raise Missing(f"no CKA of {methods} in scenario {scenario!r}")
    return pd.DataFrame(cols, index=pd.Index(layers, name="layer"))


def feature_embedding_figure(arrays: dict[str, np.ndarray], scenario: str, methods: list[str]) -> plt.Figure:
    """Each model's penultimate features on PCA axes fitted on retrain's, coloured by split, marked by class
    (forgotten class versus the rest): a forget set that sits where the original put it is not forgotten."""
    key = _seed_key(arrays, "embedding", scenario)
    split = arrays[f"{key}/split"].astype(str)
    label = arrays[f"{key}/label"]
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, len(methods), figsize=(3.6 * len(methods), 3.4), sharex=True, sharey=True, squeeze=False)
    forgotten = set(label[split == "forget"].tolist())
    kind = (
        np.where(np.isin(label, list(forgotten)), "forgotten class", "other classes") if len(forgotten) < len(set(label.tolist())) else None
    )
    for ax, m in zip(axes[0], methods):
        z = arrays.get(f"{key}/{m}")
        if z is None:
            ax.text(0.5, 0.5, "not in these results", ha="center", va="center")
            continue
        sns.scatterplot(x=z[:, 0], y=z[:, 1], hue=split, style=kind, s=12, palette="colorblind", ax=ax)
        ax.set(title=f"{m}: penultimate features (PCA)", xticks=[], yticks=[])
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


# -- attack -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttackPoint:
    """The threshold attack "member if score ≥ threshold" on forget (members?) against unseen examples."""

    threshold: float
    tpr: float
    fpr: float
    accuracy: float


def attack_at(forget: np.ndarray, unseen: np.ndarray, threshold: float) -> AttackPoint:
    """TPR (forget flagged as member), FPR (unseen flagged) and balanced accuracy at one threshold."""
    tpr = float(np.mean(forget >= threshold)) if len(forget) else float("nan")
    fpr = float(np.mean(unseen >= threshold)) if len(unseen) else float("nan")
    return AttackPoint(float(threshold), tpr, fpr, 0.5 * (tpr + 1 - fpr))


def attack_curve(forget: np.ndarray, unseen: np.ndarray) -> pd.DataFrame:
    """The attack at every distinct score; its best balanced accuracy is the worst case for the defender."""
    thresholds = np.unique(np.concatenate([forget, unseen, [np.inf]]))
    pts = [attack_at(forget, unseen, t) for t in thresholds]
    return pd.DataFrame([p.__dict__ for p in pts])


def attack_scores(ex: pd.DataFrame, scenario: str, method: str, unseen_split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """The loss attack's per-example scores of one model on the forget set and on unseen examples (held-out
    examples of the forgotten classes when the forget set covers only some classes)."""
    sel = ex[(ex.scenario == scenario) & (ex.method == method)]
    forget_rows = sel[sel.split == "forget"]
    unseen_rows = sel[sel.split == unseen_split]
    same = unseen_rows[unseen_rows.label.isin(set(forget_rows.label))]
    if forget_rows.label.nunique() < sel.label.nunique() and len(same):
        unseen_rows = same  # non-members like the forget set: held-out examples of its classes, as the study's MIA
    forget = forget_rows.mia_score.to_numpy(dtype=float)
    unseen = unseen_rows.mia_score.to_numpy(dtype=float)
    if not len(forget) or not len(unseen):
        raise Missing(f"no membership scores of {method!r} on forget and {unseen_split!r} in scenario {scenario!r}")
    return forget, unseen


def attack_summary(ex: pd.DataFrame, scenario: str, methods: list[str], threshold: float) -> pd.DataFrame:
    """Per model: the attack at ``threshold`` and its worst case over every threshold."""
    rows = []
    for m in methods:
        f, u = attack_scores(ex, scenario, m)
        at = attack_at(f, u, threshold)
        curve = attack_curve(f, u)
        best = curve.iloc[int(np.argmax(curve.accuracy.to_numpy()))]
        rows.append(
            {
                "model": m,
                "TPR": at.tpr,
                "FPR": at.fpr,
                "accuracy": at.accuracy,
                "worst-case accuracy": float(best.accuracy),
                "at threshold": float(best.threshold),
            }
        )
    return pd.DataFrame(rows)


def attack_figure(ex: pd.DataFrame, scenario: str, methods: list[str], threshold: float) -> plt.Figure:
    """Histograms of membership scores, forget against unseen, one panel per model, with the threshold."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, len(methods), figsize=(4.2 * len(methods), 3.2), sharey=True, squeeze=False)
    for ax, m in zip(axes[0], methods):
        f, u = attack_scores(ex, scenario, m)
        frame = pd.DataFrame({"score": np.concatenate([f, u]), "set": ["forget"] * len(f) + ["unseen (held out)"] * len(u)})
        sns.histplot(data=frame, x="score", hue="set", bins=30, stat="density", common_norm=False, palette="colorblind", ax=ax)
        ax.axvline(threshold, color="k", ls="--", lw=1)
        ax.set(title=m, xlabel="membership score (−loss)")
    fig.tight_layout()
    return fig


# -- segmentation -----------------------------------------------------------------------------------------------


def segmentation_dice(ex: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Dice per subject (split, group) and tissue, one column per model."""
    sel = ex[ex.method.isin(methods)]
    if sel.empty or "dice" not in sel:
        raise Missing(f"no per-subject Dice for {methods} in these results")
    table = sel.pivot_table(index=["split", "group", "label_name"], columns="method", values="dice", aggfunc="mean")
    return table[[m for m in methods if m in table.columns]]


def saved_slices(slices: SavedSlices | dict[str, np.ndarray]) -> SavedSlices:
    """A run's ``slices.npz`` arrays (either layout) as :class:`SavedSlices`, or :class:`Missing`."""
    if isinstance(slices, SavedSlices):
        return slices
    try:
        return read_slices(slices)
    except (ValueError, KeyError) as err:
        raise Missing(f"this run's slices.npz is not readable: {err}") from err


def segmentation_figure(
    slices: SavedSlices | dict[str, np.ndarray],
    subject: str,
    methods: list[str],
    alpha: float = 0.45,
    epoch: int | None = None,
    slice_pos: int | None = None,
) -> plt.Figure:
    """One kept slice of ``subject``: image, truth overlay, then each model's prediction overlay at unlearning
    ``epoch`` (None: each model's final one; original and retrain do not change with the epoch).

    ``slice_pos`` is a position among the kept slices (None: the middle one); older runs kept one."""
    saved = saved_slices(slices)
    if subject not in saved.subjects:
        raise Missing(f"no slice of the {subject!r} subject in this run's slices.npz (kept: {', '.join(saved.subjects)})")
    if epoch is not None and epoch not in saved.epochs:
        raise Missing(f"no slices at unlearning epoch {epoch} in this run (kept: {saved.epochs or 'final only'})")
    image, truth = saved.image(subject), saved.truth(subject)
    n = len(truth)
    pos = n // 2 if slice_pos is None else int(slice_pos)
    if not 0 <= pos < n:
        raise Missing(f"slice_pos {pos} is outside the {n} kept slice(s) of {subject!r}")
    image, truth = image[pos], truth[pos]
    panels: list[tuple[str, np.ndarray | None]] = [("image", None), ("truth", truth)]
    for m in methods:
        pred = saved.prediction(subject, m, epoch)
        fixed = epoch is not None and f"{subject}/epoch{epoch}/{m}" not in saved.data
        panels.append((f"{m} (final)" if fixed and pred is not None else m, None if pred is None else pred[pos]))
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 2.8), squeeze=False)
    where = f"axial slice {int(saved.slice_index[pos])}" if saved.slice_index is not None else "middle slice"
    fig.suptitle(f"{subject} ({saved.subjects[subject]}), {where}, {'final' if epoch is None else f'epoch {epoch}'}", fontsize=9)
    cmap = plt.get_cmap("viridis", 4)
    for ax, (name, mask) in zip(axes[0], panels):  # transposed, origin lower: as the study's own slices figure
        ax.imshow(image.T, cmap="gray", origin="lower")
        if mask is not None:
            ax.imshow(np.ma.masked_equal(mask.T, 0), cmap=cmap, vmin=0, vmax=3, alpha=alpha, origin="lower", interpolation="nearest")
        elif name != "image":
            ax.text(0.5, 0.5, "not saved", transform=ax.transAxes, ha="center", color="w")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


# -- GAN --------------------------------------------------------------------------------------------------------


def gan_table(df: pd.DataFrame, scenario: str, size: float | None = None) -> pd.DataFrame:
    """Per method: forgotten-class share (class requests) or nearest-neighbour ratio (item requests: below 1,
    its samples sit nearer the forgotten images than held-out ones), FID of its samples, and its wall time."""
    sel = df[df.scenario == scenario]
    if size is not None and "forget_size" in sel:
        sel = sel[sel.forget_size == size]
    wanted = {("generated", "forgotten_class_share"), ("forget", "nn_distance_ratio"), ("generated", "classifier_fid"), ("all", "seconds")}
    sel = sel[[(s, m) in wanted for s, m in zip(sel.split, sel.metric)]]
    if sel.empty:
        raise Missing(f"no forgotten-class share, nearest-neighbour ratio, FID or wall time in GAN scenario {scenario!r}")
    return sel.pivot_table(index="method", columns="metric", values="value", aggfunc="mean", sort=False)


def gan_samples(arrays: dict[str, np.ndarray], key: str) -> dict[str, np.ndarray]:
    """Every method's samples under ``samples/<key>/`` (same latent codes), by method."""
    prefix = f"samples/{key}/"
    out = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix) and "/" not in k[len(prefix) :]}
    if not out:
        raise Missing(f"no samples under {prefix} in arrays.npz")
    return out


def gan_grid_figure(samples: dict[str, np.ndarray], n: int = 16) -> plt.Figure:
    """One row per method of its first ``n`` samples: the same latent code in every column."""
    methods = list(samples)
    fig, axes = plt.subplots(len(methods), 1, figsize=(0.55 * n + 1.5, 0.75 * len(methods) + 0.3), squeeze=False)
    for ax, m in zip(axes[:, 0], methods):
        imgs = samples[m][:n, 0]
        ax.imshow(np.concatenate(list(imgs), axis=1), cmap="gray", vmin=0, vmax=255)
        ax.set_yticks([])
        ax.set_xticks([])
        ax.set_ylabel(m, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    return fig


def gan_request(key: str) -> tuple[str, float | None, int | None]:
    """(scenario, forget size, seed) of a samples key: ``items_64/64/seed0`` (current runs), ``items/16`` or
    ``class`` (older runs, which kept no seed)."""
    parts = key.split("/")
    seed = next((int(p[4:]) for p in parts[1:] if p.startswith("seed") and p[4:].isdigit()), None)
    size = next((float(p) for p in parts[1:] if p.replace(".", "", 1).isdigit()), None)
    return parts[0], size, seed


def is_class_request(scenario: str) -> bool:
    """A class request (``class``, ``class_7``, ``class_3+8``) rather than an item request."""
    return scenario == "class" or scenario.startswith("class_")


def request_classes(scenario: str, default: int | None = None) -> list[int]:
    """The digits a class request forgot, from its name (``class_3+8``), else ``default`` (older runs' ``class``)."""
    name = scenario.partition("_")[2]
    if name and all(p.isdigit() for p in name.split("+")):
        return [int(p) for p in name.split("+")]
    return [] if default is None else [int(default)]


def gan_item_images(arrays: dict[str, np.ndarray], key: str) -> tuple[np.ndarray, np.ndarray]:
    """The forgotten images of an item request and the held-out images its nearest-neighbour ratio uses."""
    forgotten, heldout = arrays.get(f"forgotten/{key}"), arrays.get(f"heldout/{key}")
    if forgotten is None or heldout is None:
        raise Missing(
            f"nearest neighbours need the forgotten images: request {key!r} forgot items this run did not save "
            "(runs of the current notebook 05 keep them; pick a class request)"
        )
    return forgotten, heldout


def _unit(images: np.ndarray) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    return x / 255.0 if images.dtype == np.uint8 or float(x.max()) > 1.5 else x


def nearest_frame(samples: np.ndarray, forgotten: np.ndarray, heldout: np.ndarray | None = None) -> pd.DataFrame:
    """Per sample: the pixel distance (images in [0, 1]) to its nearest forgotten image and, when given, to its
    nearest held-out image, with both indices; ``closer to forgotten`` is where a sample sits nearer what was forgotten."""
    from ..metrics.gan import nearest_neighbours

    s = _unit(samples)
    d_f, i_f = nearest_neighbours(_unit(forgotten), s)
    frame = pd.DataFrame({"to forgotten": d_f, "forgotten index": i_f})
    if heldout is not None:
        d_h, i_h = nearest_neighbours(_unit(heldout), s)
        frame["to held-out"], frame["held-out index"] = d_h, i_h
        frame["closer to forgotten"] = d_f < d_h
    return frame


def nearest_figure(samples: np.ndarray, forgotten: np.ndarray, n: int = 8, heldout: np.ndarray | None = None) -> plt.Figure:
    """Each of the first ``n`` samples (top) above its nearest forgotten image in pixel space and, when given,
    its nearest held-out image, each with its distance: a sample that copies a forgotten image sits much
    closer to it than to anything held out."""
    n = min(n, len(samples))
    frame = nearest_frame(samples[:n], forgotten, heldout)
    s, f = _unit(samples[:n]).numpy(), _unit(forgotten).numpy()
    rows = [("sample", s, None, None), ("nearest forgotten", f, frame["forgotten index"], frame["to forgotten"])]
    if heldout is not None:
        rows.append(("nearest held-out", _unit(heldout).numpy(), frame["held-out index"], frame["to held-out"]))
    fig, axes = plt.subplots(len(rows), n, figsize=(1.1 * n + 1.2, 1.3 * len(rows)), squeeze=False)
    for r, (name, pool, index, dist) in enumerate(rows):
        for i in range(n):
            ax = axes[r, i]
            ax.imshow(pool[i if index is None else int(index.iloc[i]), 0], cmap="gray", vmin=0, vmax=1)
            if dist is not None:
                ax.set_title(f"{dist.iloc[i]:.1f}", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    return fig
