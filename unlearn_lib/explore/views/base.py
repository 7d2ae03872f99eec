"""What every explorer view shares: the :class:`View` panel (hint, controls, message, tables, figures) and
how a table or figure becomes a widget's value.

Split from the concrete views so that each view family's module (:mod:`.screen`, :mod:`.classifier`,
:mod:`.segmentation`, :mod:`.gan`) builds on one base, and so that the rule "what a selection lacks is a
message, not a traceback" (:meth:`View.update`) lives in one place.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pandas as pd

from ..compute import Missing

__all__ = ["View"]


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
