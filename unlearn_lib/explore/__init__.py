"""Interactive exploration of saved results (``notebooks/00_explore.ipynb``, ``make explore``).

Pure tables and figures live in :mod:`.compute`; the ipywidgets views in :mod:`.views`; the live
unlearning demo of notebook 01 in :mod:`.live`.
"""

from __future__ import annotations

from .compute import Missing
from .views import AttackView, ContrastView, Explorer, GANView, ScreenView, SegmentationView, explorer

__all__ = ["AttackView", "ContrastView", "Explorer", "GANView", "Missing", "ScreenView", "SegmentationView", "explorer"]
