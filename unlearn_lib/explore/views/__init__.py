"""The explorer's views: each owns its widgets and an ``update()`` that redraws its table and figure.

Views read results only (never write); what a selection lacks shows as a message in the view, not a
traceback. Tables render as HTML widgets and figures as PNG image widgets, so a view updates in
JupyterLab, in Voilà and when driven from Python (tests set ``.value`` and read ``.frame``/``.png``).

One module per view family, re-exported here: :mod:`.base` (the shared :class:`View`), :mod:`.screen`,
:mod:`.classifier` (Contrast and Attack), :mod:`.segmentation`, :mod:`.gan`, and :mod:`.explorer` (the
tabs over all of them).
"""

from __future__ import annotations

from .base import View
from .classifier import AttackView, ContrastView
from .explorer import Explorer, explorer
from .gan import GANView
from .screen import ScreenView
from .segmentation import SegmentationView

__all__ = ["AttackView", "ContrastView", "Explorer", "GANView", "ScreenView", "SegmentationView", "View", "explorer"]
