"""Interactive exploration of saved results (``notebooks/00_explore.ipynb``, ``make explore``).

Pure tables and figures live in :mod:`.compute`; the ipywidgets views in :mod:`.views` (both packages
with one module per view family: screen, contrast / attack, segmentation, GAN); the live unlearning demo
of notebook 01 in :mod:`.live`.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Where each export lives. Imported on first use (PEP 562) so that notebook 01, which needs only
#: :mod:`.live`, never imports the explorer's views: a batch task's key follows the modules it ran, and an
#: explorer edit must not rerun the study.
_EXPORTS = {
    "Missing": "compute",
    **dict.fromkeys(("AttackView", "ContrastView", "Explorer", "GANView", "ScreenView", "SegmentationView", "explorer"), "views"),
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)


__all__ = ["AttackView", "ContrastView", "Explorer", "GANView", "Missing", "ScreenView", "SegmentationView", "explorer"]
