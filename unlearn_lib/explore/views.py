"""The explorer's views: each owns its widgets and an ``update()`` that redraws its table and figure.

Views read results only (never write); what a selection lacks shows as a message in the view, not a
traceback. Tables render as HTML widgets and figures as PNG image widgets, so a view updates in
JupyterLab, in Voilà and when driven from Python (tests set ``.value`` and read ``.frame``/``.png``).
"""

from __future__ import annotations

import html
import io
import json
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..results import EXAMPLES, load_runs, run_dirs
from ..segmentation import SavedSlices
from . import compute as C
from .compute import Missing

__all__ = ["AttackView", "ContrastView", "Explorer", "GANView", "ScreenView", "SegmentationView", "View", "explorer"]


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _html_table(frame: pd.DataFrame, index: bool = False) -> str:
    return frame.to_html(index=index, float_format=lambda v: f"{v:.3f}", classes="explore-table", border=0, na_rep="–")


def _first(options: list, preferred: tuple = ()) -> object:
    return next((p for p in preferred if p in options), options[0] if options else None)


class View:
    """A titled panel: a one-sentence hint, its controls, a message line, tables and figures."""

    title = "view"
    hint = ""

    def __init__(self, studies: dict[str, Path]) -> None:
        self.studies = studies
        self.message = widgets.HTML()
        self.tables: list[widgets.HTML] = []
        self.images: list[widgets.Image] = []
        self.frame: pd.DataFrame | None = None
        self._quiet = False
        self.updates = 0

    def _layout(self, controls: list[widgets.Widget], n_tables: int, n_images: int, note: widgets.Widget | None = None) -> None:
        self.tables = [widgets.HTML() for _ in range(n_tables)]
        self.images = [
            widgets.Image(format="png", layout=widgets.Layout(width="auto", max_width="100%", align_self="flex-start"))
            for _ in range(n_images)
        ]
        parts: list[widgets.Widget] = [widgets.HTML(f"<i>What to look for:</i> {html.escape(self.hint)}")]
        parts += [widgets.HBox(controls, layout=widgets.Layout(flex_flow="row wrap"))]
        parts += [self.message] + ([note] if note is not None else []) + self.tables + self.images
        self.widget = widgets.VBox(parts)

    def _watch(self, *controls: widgets.Widget) -> None:
        for c in controls:
            c.observe(self.update, names="value")

    def _clear(self) -> None:
        for t in self.tables:
            t.value = ""
        for im in self.images:
            im.value = b""

    def update(self, *_: object) -> None:
        """Redraw from the current selection; what is missing becomes the message."""
        if self._quiet:
            return
        self.updates += 1
        try:
            self._update()
            self.message.value = ""
        except Missing as err:
            self._clear()
            self.frame = None
            self.message.value = f'<p style="color:#a33"><b>Not in these results:</b> {html.escape(str(err))}</p>'

    def _update(self) -> None:
        raise NotImplementedError


class ScreenView(View):
    """Every method against retrain, with the cost of getting there; and the differences of two runs."""

    title = "Screen"
    hint = "methods sort by distance to retrain (delta near 0 is best); the scatter shows what that closeness costs in wall time."

    def __init__(self, studies: dict[str, Path]) -> None:
        super().__init__(studies)
        self.study = widgets.Dropdown(description="study", options=list(studies))
        self.scenario = widgets.Dropdown(description="scenario")
        self.split = widgets.Dropdown(description="split")
        self.metric = widgets.Dropdown(description="metric")
        self.seeds = widgets.SelectMultiple(description="seeds", rows=3)
        self.run_a = widgets.Dropdown(description="run A", layout=widgets.Layout(width="48%"))
        self.run_b = widgets.Dropdown(description="run B", layout=widgets.Layout(width="48%"))
        self.other = widgets.Text(
            description="other results",
            placeholder="another results dir (a batch's --out, another commit's results/): its runs join the choices",
            continuous_update=False,
            layout=widgets.Layout(width="96%"),
        )
        self.other_note = widgets.HTML()
        self.diff_message = widgets.HTML()
        self.diff_frame: pd.DataFrame | None = None
        self._layout([self.study, self.scenario, self.split, self.metric, self.seeds], 1, 1)
        self.diff_table = widgets.HTML()
        self.widget.children = (
            *self.widget.children,
            widgets.HTML("<b>Two runs</b> <i>(two profiles, seeds or commits' results of one study): what changed, largest first.</i>"),
            self.other,
            self.other_note,
            widgets.HBox([self.run_a, self.run_b]),
            self.diff_message,
            self.diff_table,
        )
        self.study.observe(self._on_study, names="value")
        self._watch(self.scenario, self.split, self.metric, self.seeds)
        self.run_a.observe(self.update_diff, names="value")
        self.run_b.observe(self.update_diff, names="value")
        self.other.observe(self._on_study, names="value")
        self._on_study()

    def _on_study(self, *_: object) -> None:
        self._quiet = True
        try:
            if self.study.value is None:
                raise Missing("no study in these results")
            self.df = C.load_study(self.studies[self.study.value])
            scenarios = list(dict.fromkeys(self.df.scenario.dropna()))
            self.scenario.options = scenarios
            self.scenario.value = _first(scenarios, ("class", "final"))
            self._refresh_choices()
            runs = run_dirs(self.studies[self.study.value], which="all")
            labels = [(C.run_label(r), str(r)) for r in runs]
            other = Path(self.other.value.strip()).expanduser() / self.study.value if self.other.value.strip() else None
            if other is not None and other.is_dir():
                labels += [(f"other: {C.run_label(r)}", str(r)) for r in run_dirs(other, which="all")]
            self.other_note.value = ""
            if other is not None and not other.is_dir():
                self.other_note.value = f"<p><i>No {html.escape(str(other))}: that results dir has no run of this study.</i></p>"
            self.run_a.options = labels
            self.run_b.options = labels
            self.run_a.value = labels[0][1]
            self.run_b.value = labels[-1][1]
        except (Missing, FileNotFoundError, ValueError) as err:
            self.df = pd.DataFrame(columns=["scenario", "split", "metric", "seed", "method", "value"])
            self.message.value = f'<p style="color:#a33"><b>Not in these results:</b> {html.escape(str(err))}</p>'
            self._quiet = False
            return
        finally:
            self._quiet = False
        self.update()
        self.update_diff()

    def _refresh_choices(self) -> None:
        sel = self.df[self.df.scenario == self.scenario.value]
        splits = list(dict.fromkeys(sel.split))
        metrics = [m for m in dict.fromkeys(sel.metric) if m != "seconds"]
        seeds = sorted(int(s) for s in sel.seed.dropna().unique())
        self.split.options = splits
        self.split.value = _first(splits, ("forget", "heldout", "generated"))
        self.metric.options = metrics
        self.metric.value = _first(metrics, ("accuracy", "dice", "forgotten_class_share"))
        self.seeds.options = seeds
        self.seeds.value = tuple(seeds)

    def update(self, *args: object) -> None:
        if args and getattr(args[0], "owner", None) is self.scenario and not self._quiet:
            self._quiet = True
            try:
                self._refresh_choices()
            finally:
                self._quiet = False
        super().update(*args)

    def _update(self) -> None:
        seeds = list(self.seeds.value)
        self.frame = C.method_table(self.df, self.scenario.value, self.metric.value, self.split.value, seeds)
        cols = [c for c in ("method", "seeds", "mean ± CI", "retrain", "delta") if c in self.frame]
        self.tables[0].value = _html_table(self.frame[cols])
        try:
            cost = C.cost_closeness_frame(self.df, self.scenario.value, self.metric.value, self.split.value, seeds)
            self.images[0].value = _png(C.cost_figure(cost, self.metric.value, self.split.value))
        except Missing as err:
            self.images[0].value = b""
            self.tables[0].value += f"<p><i>No scatter: {html.escape(str(err))}</i></p>"

    def update_diff(self, *_: object) -> None:
        """Redraw the two-run difference table."""
        if self._quiet:
            return
        try:
            if not self.run_a.value or not self.run_b.value:
                raise Missing("this study keeps no runs to compare")
            self.diff_frame = C.run_diff(load_runs(self.run_a.value), load_runs(self.run_b.value))
            same = (
                "<p><i>Run A and run B are the same run: pick another to see differences.</i></p>"
                if self.run_a.value == self.run_b.value
                else ""
            )
            self.diff_table.value = same + _html_table(self.diff_frame.head(25))
            self.diff_message.value = ""
        except (Missing, FileNotFoundError, ValueError) as err:
            self.diff_frame = None
            self.diff_table.value = ""
            self.diff_message.value = f'<p style="color:#a33">{html.escape(str(err))}</p>'


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


class SegmentationView(View):
    """Kept slices of the forget and retain subjects under each model, at each saved epoch, and Dice per subject and tissue."""

    title = "Segmentation"
    hint = "after unlearning, the forget subject's prediction should look like retrain's (not like the truth the original memorised), while retain subjects keep their Dice."

    def __init__(self, studies: dict[str, Path]) -> None:
        super().__init__({k: v for k, v in studies.items() if C.study_kind(v) == "segmentation"})
        self.run = widgets.Dropdown(description="request")
        self.subject = widgets.Dropdown(description="subject")
        self.method = widgets.Dropdown(description="method")
        self.epoch = widgets.Dropdown(description="epoch")
        self.slice = widgets.IntSlider(description="slice", min=0, max=0, value=0, continuous_update=False)
        self.alpha = widgets.FloatSlider(description="overlay", min=0.0, max=1.0, step=0.05, value=0.45, continuous_update=False)
        self.note = widgets.HTML()
        self.saved: SavedSlices | None = None
        self._layout([self.run, self.subject, self.method, self.epoch, self.slice, self.alpha], 1, 1, note=self.note)
        runs = [r for study in self.studies.values() for r in run_dirs(study)]
        self.run.options = [(C.run_label(r), str(r)) for r in runs]
        self.run.value = str(runs[0]) if runs else None
        self.run.observe(self._on_run, names="value")
        self._watch(self.subject, self.method, self.epoch, self.slice, self.alpha)
        self._on_run()

    def _on_run(self, *_: object) -> None:
        self._quiet = True
        try:
            self.saved, self.ex = None, None
            self.note.value = ""
            if self.run.value:
                run = Path(self.run.value)
                if (run / "slices.npz").is_file():
                    with np.load(run / "slices.npz", allow_pickle=False) as z:
                        self.saved = C.saved_slices({k: z[k] for k in z.files})
                self.ex = pd.read_parquet(run / EXAMPLES) if (run / EXAMPLES).is_file() else None
            self._set_choices()
        except Missing as err:
            self.saved = None
            self.note.value = f"<p><i>{html.escape(str(err))}</i></p>"
        finally:
            self._quiet = False
        self.update()

    def _set_choices(self) -> None:
        saved = self.saved
        subjects = [] if saved is None else [(f"{name} ({role})", name) for name, role in saved.subjects.items()]
        self.subject.options = subjects
        self.subject.value = subjects[0][1] if subjects else None
        methods = [] if saved is None else [m for m in saved.methods() if m not in ("original", "retrain")]
        self.method.options = methods
        self.method.value = _first(methods, ("scrub",))
        epochs = [] if saved is None else [(str(e), e) for e in saved.epochs]
        self.epoch.options = [*epochs, ("final", None)]
        self.epoch.value = epochs[-1][1] if epochs else None
        n = 1 if saved is None else len(saved.truth(next(iter(saved.subjects))))
        self.slice.max = max(n - 1, 0)
        self.slice.value = n // 2
        self.slice.disabled = n == 1
        if saved is None:
            return
        if saved.slice_index is None:
            self.note.value = (
                "<p><i>This run kept one middle slice of one forget and one retain subject, each model's final prediction "
                "only: re-run notebook 03 to keep several slices per subject at every horizon.</i></p>"
            )
        else:
            self.note.value = (
                f"<p><i>This run kept axial slices {', '.join(str(int(i)) for i in saved.slice_index)} of "
                f"{len(saved.subjects)} subjects (every forget subject and the first retain ones): image, truth, every model's "
                f"final prediction and each method's at unlearning epochs {', '.join(map(str, saved.epochs)) or '(none)'}; "
                "the original and retrain do not change with the epoch.</i></p>"
            )

    def _update(self) -> None:
        if not self.run.value:
            raise Missing("no segmentation study (03) in these results")
        if self.saved is None:
            raise Missing(f"{self.run.value} saved no readable slices.npz")
        models = [m for m in (self.method.value, "retrain", "original") if m]
        fig = C.segmentation_figure(self.saved, self.subject.value, models, self.alpha.value, self.epoch.value, self.slice.value)
        self.images[0].value = _png(fig)
        if self.ex is None:
            raise Missing(f"{self.run.value} saved no per-subject Dice ({EXAMPLES})")
        self.frame = C.segmentation_dice(self.ex, models)
        self.tables[0].value = "<b>Dice per subject and tissue</b> (each model's final)" + _html_table(self.frame, index=True)


class GANView(View):
    """Samples of every method from the same latent codes, their forgotten-class share and FID."""

    title = "GAN"
    hint = "in a column (one latent code) an unlearned generator should stop drawing the forgotten digit while keeping the others' quality (FID near retrain's)."

    def __init__(self, studies: dict[str, Path]) -> None:
        super().__init__({k: v for k, v in studies.items() if C.study_kind(v) == "gan"})
        self.scenario = widgets.Dropdown(description="request")
        self.n = widgets.IntSlider(description="samples", min=4, max=32, value=12, continuous_update=False)
        self.method = widgets.Dropdown(description="neighbours of")
        self._layout([self.scenario, self.n, self.method], 1, 2)
        self.arrays: dict[str, np.ndarray] = {}
        self.df: pd.DataFrame | None = None
        self.forgotten: dict[tuple[int, ...], np.ndarray] = {}
        self.nearest: pd.DataFrame | None = None
        self.params: dict = {}
        if self.studies:
            study = next(iter(self.studies.values()))
            self.df = C.load_study(study)
            for run in run_dirs(study):  # a split study (05's items and classes parts) keeps each part's requests in its own run
                if (run / "arrays.npz").is_file():
                    self.arrays.update(np.load(run / "arrays.npz"))
                if not self.params and (run / "run.json").is_file():  # the parts share data parameters
                    self.params = json.loads((run / "run.json").read_text()).get("parameters", {})
        keys = sorted(
            {k[len("samples/") :].rsplit("/", 1)[0] for k in self.arrays if k.startswith("samples/")}, key=lambda k: (k.count("/"), k)
        )
        self.scenario.options = keys
        self.scenario.value = next((k for k in keys if C.is_class_request(C.gan_request(k)[0])), keys[0] if keys else None)
        self.scenario.observe(self._on_scenario, names="value")
        self._watch(self.n, self.method)
        self._on_scenario()

    def _on_scenario(self, *_: object) -> None:
        self._quiet = True
        try:
            if self.scenario.value:
                self.method.options = list(C.gan_samples(self.arrays, self.scenario.value))
                self.method.value = _first(list(self.method.options), ("gan_cascaded",))
        except Missing:
            self.method.options = []
        finally:
            self._quiet = False
        self.update()

    def _forgotten_images(self, classes: list[int]) -> np.ndarray:
        """Training images of the forgotten digits (a class request's forget set is the whole class)."""
        key = tuple(classes)
        if key not in self.forgotten:
            if self.params.get("dataset") != "mnist-embedded":
                raise Missing(f"nearest neighbours need the forgotten images; dataset {self.params.get('dataset')!r} is not embedded")
            if not classes:
                raise Missing("this run does not say which digit it forgot (no forget_class parameter)")
            from ..data import load_dataset

            train = load_dataset("mnist-embedded", **(self.params.get("dataset_kwargs") or {})).train
            keep = np.isin(train.y.numpy(), classes)
            self.forgotten[key] = train.x.numpy()[keep]
        return self.forgotten[key]

    def _update(self) -> None:
        if self.df is None:
            raise Missing("no GAN study (05) in these results")
        if not self.scenario.value:
            raise Missing("the GAN run saved no samples (arrays.npz)")
        key = str(self.scenario.value)
        scenario, size, _ = C.gan_request(key)
        self.frame = C.gan_table(self.df, scenario, size)
        self.tables[0].value = "<b>Per method</b>" + _html_table(self.frame, index=True)
        samples = C.gan_samples(self.arrays, key)
        self.images[0].value = _png(C.gan_grid_figure(samples, self.n.value))
        method = html.escape(str(self.method.value))
        self.nearest = None
        try:
            chosen = samples[self.method.value]
            if C.is_class_request(scenario):
                classes = C.request_classes(scenario, self.params.get("forget_class"))
                self.images[1].value = _png(C.nearest_figure(chosen, self._forgotten_images(classes)))
                self.tables[0].value += (
                    f"<p><i>Below the grid: samples of {method} (top) and their nearest image of forgotten class "
                    f"{'+'.join(map(str, classes))} in the training set (bottom, pixel distance).</i></p>"
                )
                return
            forgotten, heldout = C.gan_item_images(self.arrays, key)
            self.nearest = C.nearest_frame(chosen, forgotten, heldout)
            self.images[1].value = _png(C.nearest_figure(chosen, forgotten, heldout=heldout))
            d = self.nearest
            self.tables[0].value += (
                f"<p><i>Below the grid: samples of {method} (top), their nearest of the {len(forgotten)} forgotten images "
                f"(middle) and of {len(heldout)} held-out test images (bottom), with pixel distances. Over its "
                f"{len(d)} kept samples: median distance {d['to forgotten'].median():.2f} to a forgotten image, "
                f"{d['to held-out'].median():.2f} to a held-out one; {int(d['closer to forgotten'].sum())} sample(s) "
                "sit closer to a forgotten image than to any held-out one. A generator that still reproduces the "
                "forgotten items puts samples much nearer them than to unseen images; compare with gan_retrain.</i></p>"
            )
        except Missing as err:
            self.images[1].value = b""
            self.tables[0].value += f"<p><i>{html.escape(str(err))}</i></p>"


class _Unavailable:
    """A tab that says why its view could not be built from this results dir."""

    def __init__(self, title: str, reason: str) -> None:
        self.title = title
        self.widget = widgets.HTML(f'<p style="color:#a33"><b>{html.escape(title)} cannot be shown:</b> {html.escape(reason)}</p>')


class Explorer:
    """Every view over one results directory, as tabs. Never raises on a damaged results dir: what cannot
    be read is listed in ``message`` (which study, which file, why) and the rest is shown."""

    VIEWS = (ScreenView, ContrastView, AttackView, SegmentationView, GANView)

    def __init__(self, results_dir: str | Path = "results") -> None:
        self.results_dir = Path(results_dir)
        self.views: dict[str, View] = {}
        self.message = widgets.HTML()
        problems: list[str] = []
        try:
            studies = C.discover_studies(self.results_dir)
        except Missing as err:
            studies = {}
            self.message.value = f'<p style="color:#a33"><b>Nothing to explore:</b> {html.escape(str(err))}</p>'
        for name, study in list(studies.items()):  # a study whose runs cannot be found is named, not shown
            try:
                run_dirs(study)
            except (OSError, ValueError) as err:
                problems.append(f"{name}: {err}")
                del studies[name]
        for cls in self.VIEWS:
            try:
                self.views[cls.title] = cls(studies)
            except Exception as err:  # the explorer is opened on any results dir: one broken file hides one tab, not all
                problems.append(f"{cls.title}: {type(err).__name__}: {err}")
                self.views[cls.title] = _Unavailable(cls.title, f"{type(err).__name__}: {err}")
        if problems:
            items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
            self.message.value += f'<p style="color:#a33"><b>Not shown, and why:</b></p><ul>{items}</ul>'
        self.problems = problems
        tabs = widgets.Tab(children=[v.widget for v in self.views.values()])
        for i, name in enumerate(self.views):
            tabs.set_title(i, name)
        self.widget = widgets.VBox([self.message, tabs])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def explorer(results_dir: str | Path = "results") -> Explorer:
    """The explorer over ``results_dir`` (the committed ``results/`` or a batch's ``--out``)."""
    return Explorer(results_dir)
