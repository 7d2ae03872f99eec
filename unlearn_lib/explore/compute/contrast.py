"""The Contrast view's numbers: one method beside retrain and the original, per class, per prediction,
against memorisation and in feature space (penultimate-feature PCA and layer-wise CKA).

Split from :mod:`.screen` because these read a classifier study's per-example rows and saved arrays, not
its aggregate metrics.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .load import Missing

__all__ = [
    "cka_table",
    "classwise_accuracy",
    "embedding_figure",
    "feature_embedding_figure",
    "memorisation_figure",
    "memorisation_frame",
    "prediction_figure",
    "prediction_matrix",
]


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
