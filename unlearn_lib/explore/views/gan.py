"""The GAN view: samples of every method from the same latent codes, their table, and nearest neighbours.

Its own module because it reads a GAN study's sample grids (``arrays.npz``) across the runs of a split
study, and may load the embedded MNIST training set to find the forgotten class's images.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import pandas as pd

from ...results import run_dirs
from .. import compute as C
from ..compute import Missing
from .base import View, _first, _html_table, _png

__all__ = ["GANView"]


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
            from ...data import load_dataset

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
