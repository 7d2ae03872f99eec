"""Classifiers used by the classifier studies: a small CNN, All-CNN and a width-scaled ResNet-18.

Each model exposes ``blocks()``: its layers in order from input to output, so that CF-k and EU-k
can address "the last k blocks" the same way for every architecture.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import MODELS

__all__ = ["AllCNN", "ResNet18", "SmallCNN"]


def _width(base: int, factor: float) -> int:
    if factor <= 0:
        raise ValueError(f"width factor must be positive, got {factor}")
    return max(1, round(base * factor))


@MODELS.register("small_cnn")
class SmallCNN(nn.Module):
    """Two conv blocks and a two-layer head: trains on the CPU in seconds, reaches ~97% on MNIST."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: float = 1.0, input_size: int = 28) -> None:
        super().__init__()
        c1, c2, h = _width(32, width), _width(64, width), _width(128, width)
        self.block1 = nn.Sequential(nn.Conv2d(in_channels, c1, 3, padding=1), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2))
        side = input_size // 4
        self.block3 = nn.Sequential(nn.Flatten(), nn.Linear(c2 * side * side, h), nn.ReLU())
        self.head = nn.Linear(h, num_classes)

    def blocks(self) -> list[nn.Module]:
        return [self.block1, self.block2, self.block3, self.head]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block3(self.block2(self.block1(x))))


def _conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


@MODELS.register("allcnn")
class AllCNN(nn.Module):
    """All-CNN-C (Springenberg et al.) with batch norm, as in the SCRUB code; ``width`` scales filters."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: float = 1.0, input_size: int = 32) -> None:
        super().__init__()
        a, b = _width(96, width), _width(192, width)
        self.stage1 = nn.Sequential(_conv_bn(in_channels, a), _conv_bn(a, a), _conv_bn(a, a, stride=2))
        self.stage2 = nn.Sequential(_conv_bn(a, b), _conv_bn(b, b), _conv_bn(b, b, stride=2))
        self.stage3 = nn.Sequential(_conv_bn(b, b), _conv_bn(b, b, k=1))
        self.head = nn.Sequential(nn.Conv2d(b, num_classes, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def blocks(self) -> list[nn.Module]:
        return [*self.stage1, *self.stage2, *self.stage3, self.head]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stage3(self.stage2(self.stage1(x))))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


@MODELS.register("resnet18")
class ResNet18(nn.Module):
    """CIFAR-style ResNet-18 (3x3 stem, no max-pool); ``width`` scales every stage (0.25 for the CPU)."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: float = 1.0, input_size: int = 32) -> None:
        super().__init__()
        widths = [_width(w, width) for w in (64, 128, 256, 512)]
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        layers, cin = [], widths[0]
        for i, w in enumerate(widths):
            for j in range(2):
                layers.append(BasicBlock(cin, w, stride=2 if (i > 0 and j == 0) else 1))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes))

    def blocks(self) -> list[nn.Module]:
        return [self.stem, *self.layers, self.head]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.stem(x)))
