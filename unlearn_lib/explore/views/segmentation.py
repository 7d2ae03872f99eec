"""The Segmentation view: kept slices of forget and retain subjects under each model, and Dice per subject.

Its own module because it reads a segmentation run's own files (``slices.npz``, per-subject rows) run by
run, with controls (subject, epoch, slice, overlay) no other view has.
"""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import pandas as pd

from ...results import EXAMPLES, run_dirs
from ...studies.segmentation import SavedSlices
from .. import compute as C
from ..compute import Missing
from .base import View, _first, _html_table, _png

__all__ = ["SegmentationView"]


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
        final = "<b>Dice per subject and tissue</b> (each model's final, mean over training seeds)" + _html_table(self.frame, index=True)
        tissues = [str(t) for t in dict.fromkeys(self.ex.label_name)] if "label_name" in self.ex else None
        try:
            at = C.subject_dice_at(self.saved, self.subject.value, models, self.epoch.value, tissues)
        except Missing as err:
            self.tables[0].value = f"<p><i>{html.escape(str(err))}</i></p>" + final
            return
        when = "final" if self.epoch.value is None else f"unlearning epoch {self.epoch.value}"
        self.tables[0].value = (
            f"<b>Dice of {html.escape(str(self.subject.value))} at {when}</b> (the slices' training seed, whole volume)"
            + _html_table(at.round(3), index=True)
            + final
        )
