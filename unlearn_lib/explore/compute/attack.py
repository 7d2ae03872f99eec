"""The Attack view's numbers: the loss-threshold membership attack on forget against unseen examples.

Its own module because the attack is a small, self-contained computation (a threshold over per-example
scores) that tests check against hand-computed rates, apart from any figure of the other views.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .load import Missing

__all__ = ["AttackPoint", "attack_at", "attack_curve", "attack_figure", "attack_scores", "attack_summary"]


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
