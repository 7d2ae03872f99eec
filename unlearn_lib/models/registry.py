"""The model registry; model files register themselves with ``@MODELS.register("name")``."""

from __future__ import annotations

from ..registry import Registry

MODELS: Registry = Registry("model")
