"""Model registry: ``build_model("small_cnn", in_channels=1, num_classes=10)``.

Every module in this package is imported here, so a new model is one file with
``@MODELS.register("name")``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from torch import nn

from .registry import MODELS

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name != "registry" and not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = ["MODELS", "build_model", "list_models"]


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Instantiate a registered model; unknown names and arguments raise ``ValueError``."""
    cls = MODELS.get(name)
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ValueError(f"model {name!r} does not accept these arguments {sorted(kwargs)}: {err}") from err


def list_models() -> list[str]:
    return MODELS.names()
