"""The Screen view: every method against retrain over seeds, the cost of getting there, and two runs' differences.

Its own module because it is the one view over every study (classifier, segmentation and GAN), reading
aggregate metrics only; it also compares runs across results dirs.
"""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as widgets
import pandas as pd

from ...results import load_runs, run_dirs
from .. import compute as C
from ..compute import Missing
from .base import View, _first, _html_table, _png

__all__ = ["ScreenView"]


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
