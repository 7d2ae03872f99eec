"""The explorer itself: every view over one results directory as tabs, and :func:`explorer`.

Split from the views so that adding a view family is one module plus one entry in
:attr:`Explorer.VIEWS`, and so that the rule "one broken file hides one tab, not all" lives in one place.
"""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as widgets

from ...results import run_dirs
from .. import compute as C
from ..compute import Missing
from .base import View
from .classifier import AttackView, ContrastView
from .gan import GANView
from .screen import ScreenView
from .segmentation import SegmentationView

__all__ = ["Explorer", "explorer"]


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
