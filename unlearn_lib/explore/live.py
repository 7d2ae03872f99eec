"""Live unlearning for teaching (notebook 01): pick a digit, a method and its main knobs, press run.

It reuses the notebook's trained original (and its retrained reference for the notebook's digit), so a
press costs one unlearning run (seconds on a CPU), plus one retrain the first time another digit is
picked. Nothing is written: the notebook's static run records its results as before, whether or not
anyone presses the button.
"""

from __future__ import annotations

import dataclasses
import html
import time
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import pandas as pd

from ..data import make_forget_split
from ..studies.classifiers import ClassifierExperiment

__all__ = ["LiveUnlearning", "live_row", "live_unlearning"]

#: Methods fast enough to answer in seconds on a CPU at the notebook's size, and their main knobs.
KNOBS = {
    "finetune": ("lr", "epochs"),
    "neggrad_plus": ("lr", "epochs", "beta"),
    "scrub": ("lr", "epochs", "alpha"),
    "random_label": ("lr", "epochs"),
    "l1_sparse": ("lr", "epochs", "alpha"),
}
SPLITS = (("forget", "accuracy"), ("retain", "accuracy"), ("test", "accuracy"), ("forget", "mia"))


def live_row(values: Mapping[tuple[str, str], float], seconds: float | None = None) -> dict[str, float]:
    """One table row from an experiment's evaluated values: forget / retain / test accuracy and MIA."""
    row = {f"{s} {m}" if m != "accuracy" else f"{s} acc": float(values[(s, m)]) for s, m in SPLITS}
    row["seconds"] = float("nan") if seconds is None else seconds
    return row


class LiveUnlearning:
    """The widget: digit, method, lr / epochs / (beta or alpha), a run button, and the before/after table."""

    def __init__(self, experiment: ClassifierExperiment, hparams: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.base = experiment
        self.hparams = {k: dict(v) for k, v in (hparams or {}).items()}
        digits = sorted(int(d) for d in set(experiment.train.labels.tolist()))
        start = experiment.split.forget_class if experiment.split.forget_class is not None else digits[0]
        self.digit = widgets.Dropdown(description="digit", options=digits, value=int(start))
        self.method = widgets.Dropdown(description="method", options=list(KNOBS), value="scrub")
        self.lr = widgets.FloatLogSlider(description="lr", base=10, min=-4, max=-1, value=5e-4, continuous_update=False)
        self.epochs = widgets.IntSlider(description="epochs", min=1, max=5, value=1, continuous_update=False)
        self.knobs = {
            "beta": widgets.FloatSlider(description="beta", min=0.5, max=1.0, step=0.01, value=0.98, continuous_update=False),
            "alpha": widgets.FloatSlider(
                description="alpha", min=0.0, max=0.01, step=0.0001, value=0.001, readout_format=".4f", continuous_update=False
            ),
        }
        self.button = widgets.Button(description="run", button_style="primary", icon="play")
        self.status = widgets.HTML("<i>Pick a digit and a method, then press run.</i>")
        self.table = widgets.HTML()
        self.frame: pd.DataFrame | None = None
        self._retrain: dict[int, Mapping[tuple[str, str], float]] = {}
        self._experiments: dict[int, ClassifierExperiment] = {}
        self.method.observe(self._on_method, names="value")
        self.button.on_click(self.run)
        hint = widgets.HTML(
            "<i>What to look for:</i> the method should move forget accuracy and MIA from the original's towards retrain's "
            "while retain and test accuracy stay near the original's."
        )
        knobs = widgets.HBox([self.lr, self.epochs, *self.knobs.values()], layout=widgets.Layout(flex_flow="row wrap"))
        self.widget = widgets.VBox([hint, widgets.HBox([self.digit, self.method, self.button]), knobs, self.status, self.table])
        self._on_method()

    def _on_method(self, *_: object) -> None:
        """Start the knobs at the notebook's hyper-parameters for this method (else its defaults)."""
        from ..strategies.base import get_strategy

        cfg = get_strategy(self.method.value).Config()
        over = self.hparams.get(self.method.value, {})
        self.lr.value = float(over.get("lr", cfg.lr))
        self.epochs.value = min(int(over.get("epochs", 1)), self.epochs.max)
        for name, knob in self.knobs.items():
            knob.layout.display = None if name in KNOBS[self.method.value] else "none"
            if name in KNOBS[self.method.value]:
                knob.value = float(over.get(name, getattr(cfg, name)))

    def config(self) -> dict[str, Any]:
        """The method's configuration: the notebook's hparams for it, overridden by the knobs."""
        cfg = {**self.hparams.get(self.method.value, {}), "lr": self.lr.value, "epochs": self.epochs.value}
        for name, knob in self.knobs.items():
            if name in KNOBS[self.method.value]:
                cfg[name] = knob.value
        return cfg

    def experiment(self, digit: int) -> ClassifierExperiment:
        """The notebook's experiment for its digit; for another digit, the same original on a new split."""
        if digit not in self._experiments:
            if digit == self.base.split.forget_class:
                self._experiments[digit] = self.base
            else:
                split = make_forget_split(self.base.train.labels, "class", forget_class=digit, seed=self.base.seed)
                self._experiments[digit] = dataclasses.replace(self.base, split=split)
        return self._experiments[digit]

    def retrain_values(self, digit: int) -> Mapping[tuple[str, str], float]:
        """Retrain's values for this digit: the notebook's reference, else one retrain (through the cache)."""
        if digit not in self._retrain:
            exp = self.experiment(digit)
            done = getattr(exp, "results", {}).get("retrain")
            model = done.model if done is not None else exp._unlearn(exp.datasets(), "retrain", None).model
            self._retrain[digit] = exp.evaluate(model)
        return self._retrain[digit]

    def run(self, *_: object) -> pd.DataFrame:
        """Unlearn with the chosen method and knobs; show original, the method and retrain side by side."""
        self.button.disabled = True
        digit, method = int(self.digit.value), str(self.method.value)
        try:
            self.status.value = f"<i>running {html.escape(method)} on digit {digit} ...</i>"
            exp = self.experiment(digit)
            before = exp.evaluate_original()
            if digit not in self._retrain:
                self.status.value = f"<i>retraining without digit {digit} once (the reference) ...</i>"
            ref = self.retrain_values(digit)
            t0 = time.perf_counter()
            result = exp._unlearn(exp.datasets(), method, self.config())
            seconds = time.perf_counter() - t0
            after = exp.evaluate(result.model)
            self.frame = pd.DataFrame(
                [live_row(before), live_row(after, seconds), live_row(ref)], index=["original (before)", f"{method} (after)", "retrain"]
            )
            self.table.value = self.frame.to_html(float_format=lambda v: f"{v:.3f}", border=0, na_rep="–", classes="explore-table")
            self.status.value = f"<i>{html.escape(method)} on digit {digit}: {seconds:.1f} s, config {html.escape(str(self.config()))}</i>"
        except (ValueError, KeyError, RuntimeError) as err:
            self.status.value = f'<p style="color:#a33">{html.escape(type(err).__name__)}: {html.escape(str(err))}</p>'
        finally:
            self.button.disabled = False
        return self.frame


def live_unlearning(experiment: ClassifierExperiment, hparams: Mapping[str, Mapping[str, Any]] | None = None) -> LiveUnlearning:
    """The live widget over a notebook's prepared (and run) class-forgetting experiment."""
    return LiveUnlearning(experiment, hparams)
