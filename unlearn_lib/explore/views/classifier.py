"""The views over one classifier study's per-example rows: Contrast (per class, per prediction, in feature
space) and Attack (the membership attack at a threshold).

Together in one module because both share :class:`_ClassifierView`'s study, scenario and method controls,
and both show only the classifier studies (01, 02, 04).
"""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import pandas as pd

from .. import compute as C
from ..compute import Missing
from .base import View, _first, _html_table, _png

__all__ = ["AttackView", "ContrastView"]


def _classifier_studies(studies: dict[str, Path]) -> dict[str, Path]:
    return {k: v for k, v in studies.items() if C.study_kind(v) == "classifier"}


class _ClassifierView(View):
    """Shared controls of the views over one classifier study's per-example rows."""

    def _classifier_controls(self) -> None:
        self.study = widgets.Dropdown(description="study", options=list(self.studies))
        self.scenario = widgets.Dropdown(description="scenario")
        self.method = widgets.Dropdown(description="method")
        self.study.observe(self._on_study, names="value")
        self.scenario.observe(self._on_scenario, names="value")

    def _on_study(self, *_: object) -> None:
        self._quiet = True
        try:
            if self.study.value is None:
                raise Missing("no classifier study (01, 02, 04) in these results")
            self.ex = C.load_study_examples(self.studies[self.study.value])
            scenarios = list(dict.fromkeys(self.ex.scenario))
            self.scenario.options = scenarios
            self.scenario.value = _first(scenarios, ("class",))
            self._set_methods()
        except Missing as err:
            self.ex = None
            self._quiet = False
            self._clear()
            self.message.value = f'<p style="color:#a33"><b>Not in these results:</b> {html.escape(str(err))}</p>'
            return
        finally:
            self._quiet = False
        self.update()

    def _set_methods(self) -> None:
        methods = [m for m in dict.fromkeys(self.ex[self.ex.scenario == self.scenario.value].method) if m not in ("original", "retrain")]
        self.method.options = methods
        self.method.value = _first(methods, ("scrub",))

    def _on_scenario(self, *_: object) -> None:
        if self._quiet or self.ex is None:
            return
        self._quiet = True
        try:
            self._set_methods()
        finally:
            self._quiet = False
        self.update()

    def _models(self) -> list[str]:
        return [m for m in (self.method.value, "retrain", "original") if m]

    def _update(self) -> None:
        if self.ex is None:
            raise Missing("no per-example rows loaded")
        self._draw()

    def _draw(self) -> None:
        raise NotImplementedError


class ContrastView(_ClassifierView):
    """One method beside retrain and the original, per class, per prediction and in feature space."""

    title = "Contrast"
    hint = (
        "a method that forgot like retrain has retrain's accuracy per class (the forgotten class near retrain's, "
        "the others near the original's) and retrain's prediction matrix on the forget set."
    )

    def __init__(self, studies: dict[str, Path]) -> None:
        super().__init__(_classifier_studies(studies))
        self._classifier_controls()
        self.split = widgets.Dropdown(description="split", options=["test", "forget", "retain"], value="test")
        self.note = widgets.HTML()
        self.cka: pd.DataFrame | None = None
        self._cache: dict[str, dict[str, np.ndarray]] = {}
        self.memorisation_note = widgets.HTML()
        self._layout([self.study, self.scenario, self.method, self.split], 1, 3, note=self.note)
        self.widget.children = (*self.widget.children, self.memorisation_note)
        self._watch(self.method, self.split)
        self._on_study()

    def _draw(self) -> None:
        models = self._models()
        self.frame = C.classwise_accuracy(self.ex, self.scenario.value, models, self.split.value)
        self.tables[0].value = f"<b>Accuracy per class on {self.split.value}</b>" + _html_table(self.frame, index=True)
        self.images[0].value = _png(C.prediction_figure(self.ex, self.scenario.value, models, "forget"))
        arrays = self._arrays()
        try:
            self.cka = C.cka_table(arrays, self.scenario.value, models)
            self.images[1].value = _png(C.feature_embedding_figure(arrays, self.scenario.value, models))
            self.note.value = "<b>Layer-wise linear CKA to retrain</b> (1: retrain's representation)" + _html_table(self.cka, index=True)
        except Missing as err:
            self.cka = None
            self.images[1].value = _png(C.embedding_figure(self.ex, self.scenario.value, models))
            self.note.value = (
                f"<p><i>{html.escape(str(err))}: the embedding below is a PCA of each model's log-probabilities instead, "
                "and layer-wise CKA needs a run of the current code.</i></p>"
            )

        try:
            self.images[2].value = _png(C.memorisation_figure(self.ex, self.scenario.value, models))
            self.memorisation_note.value = (
                "<p><b>Confidence against memorisation</b> (forget and retain examples): retrain loses the memorised "
                "forget examples and keeps the typical ones; a method that forgot like retrain does the same.</p>"
            )
        except Missing as err:
            self.images[2].value = b""
            self.memorisation_note.value = f"<p><i>{html.escape(str(err))}</i></p>"

    def _arrays(self) -> dict[str, np.ndarray]:
        study = self.study.value
        if study not in self._cache:
            self._cache[study] = C.representation_arrays(self.studies[study])
        return self._cache[study]


class AttackView(_ClassifierView):
    """The loss attack on forget against unseen examples, at a threshold you move, beside retrain."""

    title = "Attack"
    hint = "if the method's forget and unseen histograms overlap as much as retrain's, and its worst-case accuracy is near retrain's, an attacker cannot tell the forgotten examples apart."

    def __init__(self, studies: dict[str, Path]) -> None:
        super().__init__(_classifier_studies(studies))
        self._classifier_controls()
        self.threshold = widgets.FloatSlider(description="threshold", min=-5.0, max=0.0, step=0.01, value=-0.5, continuous_update=False)
        self._layout([self.study, self.scenario, self.method, self.threshold], 1, 1)
        self._watch(self.method, self.threshold)
        self._on_study()

    def _set_methods(self) -> None:
        super()._set_methods()
        sel = self.ex[self.ex.scenario == self.scenario.value]
        scores = sel[sel.split == "forget"].mia_score.to_numpy(dtype=float)
        self.threshold.min, self.threshold.max = min(float(np.nanquantile(scores, 0.01)), -1e-3), 0.0
        self.threshold.step = max((0.0 - self.threshold.min) / 200, 1e-4)
        self.threshold.value = float(np.nanmedian(scores))

    def _draw(self) -> None:
        models = self._models()
        self.frame = C.attack_summary(self.ex, self.scenario.value, models, self.threshold.value)
        self.tables[0].value = (
            "<b>Attack 'member if score ≥ threshold': forget examples against held-out examples of the same classes</b>"
            + _html_table(self.frame)
            + "<p><i>Accuracy 0.5 is a coin toss. The worst case picks the best threshold after the fact, so on a few dozen "
            "held-out examples it sits a little above 0.5 even for retrain: compare with retrain's, not with 0.5.</i></p>"
        )
        self.images[0].value = _png(C.attack_figure(self.ex, self.scenario.value, models[:2], self.threshold.value))
