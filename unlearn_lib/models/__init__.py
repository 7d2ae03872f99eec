"""Model registry: ``build_model("small_cnn", in_channels=1, num_classes=10)``."""

from __future__ import annotations

from typing import Any

from torch import nn

from ..registry import Registry
from .classifiers import AllCNN, ResNet18, SmallCNN

MODELS: Registry = Registry("model")
MODELS.register("small_cnn")(SmallCNN)
MODELS.register("allcnn")(AllCNN)
MODELS.register("resnet18")(ResNet18)

__all__ = ["MODELS", "AllCNN", "ResNet18", "SmallCNN", "build_model", "list_models"]


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Instantiate a registered model; unknown names and arguments raise ``ValueError``."""
    cls = MODELS.get(name)
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ValueError(f"model {name!r} does not accept these arguments {sorted(kwargs)}: {err}") from err


def list_models() -> list[str]:
    return MODELS.names()
