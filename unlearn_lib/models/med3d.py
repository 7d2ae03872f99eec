"""Med3D (MedicalNet) style 3D segmenter: a dilated 3D ResNet encoder and the Med3D head.

Chen, Ma and Zheng, "Med3D: Transfer Learning for 3D Medical Image Analysis" (2019), code
Tencent/MedicalNet. The encoder is a 3D ResNet (depth 10/18/34 with basic blocks, 50 with
bottlenecks), shortcut type B (1x1x1 convolution + BN when the shape changes), layers 3 and 4 with
stride 1 and dilation 2 and 4, so features stay at 1/8 of the input. The head
(MedicalNet's ``conv_seg``) is ConvTranspose3d(->32, k2, s2)-BN-ReLU-Conv3d(3^3)-BN-ReLU-Conv3d(1^3),
and the logits are upsampled (trilinear) to the input size.

Parameter names match MedicalNet's (``conv1``, ``bn1``, ``layer1.0.conv1``, ...; the head is
``conv_seg``), so :func:`load_medicalnet_weights` maps a ``resnet_*.pth`` file onto
``encoder.*`` / ``decoder.*``. ``width`` scales every channel count (1.0 = MedicalNet), and
``stem_stride`` / ``max_pool`` let a CPU profile keep more resolution; the defaults of
:class:`Med3DSegmenter` are MedicalNet's, the registered CPU-friendly settings are set by callers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .registry import MODELS

__all__ = ["DEPTHS", "Med3DEncoder", "Med3DSegmenter", "UNetDecoder", "WeightReport", "load_medicalnet_weights"]


class BasicBlock3d(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(inplanes, planes, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck3d(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = nn.Conv3d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


#: depth -> (block, blocks per stage), as in MedicalNet's resnet10 ... resnet50.
DEPTHS: dict[int, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    10: (BasicBlock3d, (1, 1, 1, 1)),
    18: (BasicBlock3d, (2, 2, 2, 2)),
    34: (BasicBlock3d, (3, 4, 6, 3)),
    50: (Bottleneck3d, (3, 4, 6, 3)),
}


class Med3DEncoder(nn.Module):
    """The dilated 3D ResNet trunk (MedicalNet's ``conv1 ... layer4``)."""

    def __init__(self, depth: int = 50, in_channels: int = 1, width: float = 1.0, stem_stride: int = 2, max_pool: bool = True) -> None:
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"depth must be one of {sorted(DEPTHS)}, got {depth!r}")
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f"in_channels must be an int >= 1, got {in_channels!r}")
        if not width > 0:
            raise ValueError(f"width must be > 0, got {width!r}")
        if stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride!r}")
        block, layers = DEPTHS[depth]
        planes = [max(1, round(c * width)) for c in (64, 128, 256, 512)]
        self.inplanes = planes[0]
        self.conv1 = nn.Conv3d(in_channels, planes[0], 7, stride=stem_stride, padding=3, bias=False)
        self.bn1 = nn.BatchNorm3d(planes[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(3, stride=2, padding=1) if max_pool else nn.Identity()
        self.layer1 = self._make_layer(block, planes[0], layers[0])
        self.layer2 = self._make_layer(block, planes[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, planes[2], layers[2], dilation=2)
        self.layer4 = self._make_layer(block, planes[3], layers[3], dilation=4)
        self.out_channels = planes[3] * block.expansion
        self.stride = stem_stride * (2 if max_pool else 1) * 2
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, block: type[nn.Module], planes: int, blocks: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:  # shortcut type B
            downsample = nn.Sequential(
                nn.Conv3d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False), nn.BatchNorm3d(planes * block.expansion)
            )
        layers = [block(self.inplanes, planes, stride=stride, dilation=dilation, downsample=downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, dilation=dilation) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def stem(self) -> nn.Sequential:
        return nn.Sequential(self.conv1, self.bn1, self.relu, self.maxpool)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The stem's output, layer 1's and layer 4's (fine to coarse): what a U-Net decoder reads."""
        stem = self.relu(self.bn1(self.conv1(x)))
        l1 = self.layer1(self.maxpool(stem))
        return [stem, l1, self.layer4(self.layer3(self.layer2(l1)))]

    @staticmethod
    def _layer_out(layer: nn.Sequential) -> int:
        last = layer[-1]
        return (last.bn3 if isinstance(last, Bottleneck3d) else last.bn2).num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def med3d_head(in_channels: int, num_classes: int, hidden: int = 32) -> nn.Sequential:
    """MedicalNet's ``conv_seg``: ConvTranspose3d(k2, s2)-BN-ReLU-Conv3d 3^3-BN-ReLU-Conv3d 1^3."""
    return nn.Sequential(
        nn.ConvTranspose3d(in_channels, hidden, 2, stride=2),
        nn.BatchNorm3d(hidden),
        nn.ReLU(inplace=True),
        nn.Conv3d(hidden, hidden, 3, padding=1, bias=False),
        nn.BatchNorm3d(hidden),
        nn.ReLU(inplace=True),
        nn.Conv3d(hidden, num_classes, 1, bias=False),
    )


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm3d(cout), nn.ReLU(inplace=True))


class UNetDecoder(nn.Module):
    """A light U-Net path over the encoder's features: from the deepest, upsample, concatenate the next
    finer skip, one 3^3 convolution block; logits at the finest skip's resolution (the stem's).

    Why: Med3D's head predicts at 1/4 of the input and interpolates, which caps Dice on thin tissue
    (CSF, cortical grey matter); the skips restore the resolution the stem still has.
    """

    def __init__(self, skip_channels: list[int], num_classes: int, channels: int = 32) -> None:
        super().__init__()
        fine, *mid, deep = skip_channels
        self.reduce = _conv_block(deep, channels)
        self.up = nn.ModuleList(_conv_block(channels + c, channels) for c in reversed([fine, *mid]))
        self.out = nn.Conv3d(channels, num_classes, 1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        y = self.reduce(feats[-1])
        for block, skip in zip(self.up, reversed(feats[:-1]), strict=True):
            if y.shape[2:] != skip.shape[2:]:
                y = F.interpolate(y, size=skip.shape[2:], mode="trilinear", align_corners=False)
            y = block(torch.cat([y, skip], dim=1))
        return self.out(y)


@MODELS.register("med3d_resnet")
class Med3DSegmenter(nn.Module):
    """Encoder + Med3D head; logits (N, num_classes, D, H, W) at the input's size.

    Args:
        depth: 10, 18, 34 (basic blocks) or 50 (bottlenecks).
        num_classes: output classes (4 for background/CSF/GM/WM).
        in_channels: input modalities (1 for T1; 3 for MRBrainS18 T1 + T1-IR + FLAIR).
        width: channel multiplier (1.0 = MedicalNet's 64-128-256-512).
        stem_stride: stride of the 7^3 stem convolution (MedicalNet: 2).
        max_pool: MedicalNet's max-pool after the stem (True). Without it and with ``stem_stride=1``
            features stay at 1/2 of the input (a CPU profile on small volumes needs that resolution).
        head_channels: channels of the head (MedicalNet: 32).
        head: ``"med3d"`` (MedicalNet's ``conv_seg``, logits at the features' 1/4..1/8 resolution,
            interpolated) or ``"unet"`` (:class:`UNetDecoder` over the stem's and layer 1's outputs too,
            logits at the stem's resolution: full resolution with ``stem_stride=1``).
    """

    def __init__(
        self,
        depth: int = 50,
        num_classes: int = 4,
        in_channels: int = 1,
        width: float = 1.0,
        stem_stride: int = 2,
        max_pool: bool = True,
        head_channels: int = 32,
        head: str = "med3d",
    ) -> None:
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        if head not in ("med3d", "unet"):
            raise ValueError(f"head must be 'med3d' or 'unet', got {head!r}")
        self.encoder = Med3DEncoder(depth, in_channels, width, stem_stride, max_pool)
        self.head = head
        if head == "unet":
            enc = self.encoder
            self.decoder = UNetDecoder([enc.conv1.out_channels, enc._layer_out(enc.layer1), enc.out_channels], num_classes, head_channels)
        else:
            self.decoder = med3d_head(self.encoder.out_channels, num_classes, head_channels)
        self.num_classes = num_classes

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Everything the decoder reads (the deepest features for the Med3D head; every skip for U-Net),
        so the encoder-feature mechanics (Random Encoder, LearnNoise) act on all of it."""
        return self.encoder.features(x) if self.head == "unet" else [self.encoder(x)]

    def blocks(self) -> list[nn.Module]:
        """Stem, the four ResNet stages, the head (input to output), for CF-k / EU-k style methods."""
        e = self.encoder
        return [e.stem(), e.layer1, e.layer2, e.layer3, e.layer4, self.decoder]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5:
            raise ValueError(f"expected a 5-D input (N, C, D, H, W), got shape {tuple(x.shape)}")
        logits = self.decoder(self.encoder.features(x)) if self.head == "unet" else self.decoder(self.encoder(x))
        if logits.shape[2:] != x.shape[2:]:
            logits = F.interpolate(logits, size=x.shape[2:], mode="trilinear", align_corners=False)
        return logits


@dataclass
class WeightReport:
    """What :func:`load_medicalnet_weights` did: loaded, missing (kept at init) and unexpected keys."""

    loaded: list[str]
    missing: list[str]
    unexpected: list[str]

    def __str__(self) -> str:
        return f"loaded {len(self.loaded)} tensors; missing {len(self.missing)} (kept at init); unexpected {len(self.unexpected)} (ignored)"


def _medicalnet_key(key: str) -> str:
    key = key.removeprefix("module.")
    if key.startswith("conv_seg."):
        return "decoder." + key.removeprefix("conv_seg.")
    return "encoder." + key


def load_medicalnet_weights(model: Med3DSegmenter, path: str | os.PathLike, strict_encoder: bool = True) -> WeightReport:
    """Load a MedicalNet ``resnet_*.pth`` (``{"state_dict": ...}`` or a bare state dict, keys ``module.*``).

    Loaded with ``torch.load(weights_only=True)``: no pickled code runs. Keys are mapped onto
    ``encoder.*`` (and ``conv_seg.*`` onto ``decoder.*``). Missing and unexpected keys are reported;
    the head is usually missing from pre-training files and stays at its initialisation.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file holds no state dict, a shared key has another shape (wrong depth, width or
            channel count), or (``strict_encoder``) an encoder tensor is missing, i.e. the file
            does not fit this model.
    """
    from ..utils import load_plain_tensors

    path = Path(path)
    obj = load_plain_tensors(path, "MedicalNet weight file")
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} does not hold a state dict of tensors")
    mapped = {_medicalnet_key(k): v for k, v in state.items()}
    own = model.state_dict()
    bad = [f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}" for k, v in mapped.items() if k in own and v.shape != own[k].shape]
    if bad:
        raise ValueError(f"{path} does not fit this model ({len(bad)} shape mismatches), e.g. " + "; ".join(bad[:3]))
    loaded = sorted(k for k in mapped if k in own)
    missing = sorted(k for k in own if k not in mapped)
    unexpected = sorted(k for k in mapped if k not in own)
    if not loaded:
        raise ValueError(f"{path} shares no parameter with this model; unexpected keys start with {unexpected[:3]}")
    missing_encoder = [k for k in missing if k.startswith("encoder.") and not k.endswith("num_batches_tracked")]
    if strict_encoder and missing_encoder:
        raise ValueError(f"{path} lacks {len(missing_encoder)} encoder tensors (e.g. {missing_encoder[:3]}): not a fit for depth/width")
    own.update({k: mapped[k] for k in loaded})
    model.load_state_dict(own)
    return WeightReport(loaded, missing, unexpected)
