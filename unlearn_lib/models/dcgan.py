"""DCGAN-style generator and discriminator for 28x28 (MNIST) and 32x32 (CIFAR-10) images.

They live in the model registry (``build_model("dcgan_generator", ...)``) rather than inside the
GAN package so that there is one place to look up every network of the study and one builder
(:func:`~unlearn_lib.models.build_model`) that validates their arguments.

The layout follows Radford et al. (2016, "DCGAN"): a projection of the latent code to a small
feature map, then stride-2 transposed convolutions with batch norm and ReLU up to the image, ``tanh``
out; the discriminator mirrors it with stride-2 convolutions and LeakyReLU(0.2). Batch norm is left
out of the discriminator so that its score of one image does not depend on the rest of the batch:
the membership signal of :mod:`unlearn_lib.gan.metrics` reads that score image by image.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from .registry import MODELS

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "dcgan_plan"]

_SIZES = {28: (7, 2), 32: (4, 3)}  # image side -> (side of the first feature map, number of x2 stages)


def dcgan_plan(image_size: int, width: int) -> tuple[int, list[int]]:
    """First feature-map side and the channel count of each resolution, coarse to fine.

    Raises:
        ValueError: an image size other than 28 or 32, or a non-positive width.
    """
    if image_size not in _SIZES:
        raise ValueError(f"image_size must be 28 (MNIST) or 32 (CIFAR-10), got {image_size!r}")
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    side, stages = _SIZES[image_size]
    return side, [width * 2 ** (stages - 1 - i) for i in range(stages)]


def _init_dcgan(module: nn.Module) -> None:
    """DCGAN initialisation: N(0, 0.02) for convolutions and linear maps, N(1, 0.02) for batch norm."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


@MODELS.register("dcgan_generator")
class DCGANGenerator(nn.Module):
    """Latent code (N, latent_dim) -> image (N, channels, size, size) in [-1, 1].

    Args:
        latent_dim: size of the Gaussian latent code.
        channels: 1 for MNIST, 3 for CIFAR-10.
        image_size: 28 or 32.
        width: channels of the last hidden layer; each coarser resolution doubles it (DCGAN's ``ngf``).
    """

    def __init__(self, latent_dim: int = 64, channels: int = 1, image_size: int = 28, width: int = 32) -> None:
        super().__init__()
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}")
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels!r}")
        side, chans = dcgan_plan(image_size, width)
        self.latent_dim, self.channels, self.image_size = latent_dim, channels, image_size
        self.project = nn.Sequential(nn.Linear(latent_dim, chans[0] * side * side, bias=False), nn.Unflatten(1, (chans[0], side, side)))
        layers: list[nn.Module] = [nn.BatchNorm2d(chans[0]), nn.ReLU(True)]
        for cin, cout in itertools.pairwise(chans):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(chans[-1], channels, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        self.apply(_init_dcgan)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(z))


@MODELS.register("dcgan_discriminator")
class DCGANDiscriminator(nn.Module):
    """Image (N, channels, size, size) in [-1, 1] -> one real/fake logit per image, shape (N,).

    Args:
        channels: 1 for MNIST, 3 for CIFAR-10.
        image_size: 28 or 32.
        width: channels of the first convolution; each coarser resolution doubles it (DCGAN's ``ndf``).
    """

    def __init__(self, channels: int = 1, image_size: int = 28, width: int = 32) -> None:
        super().__init__()
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels!r}")
        side, chans = dcgan_plan(image_size, width)
        chans = chans[::-1]  # fine to coarse
        layers: list[nn.Module] = [nn.Conv2d(channels, chans[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for cin, cout in itertools.pairwise(chans):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(chans[-1] * side * side, 1)
        self.channels, self.image_size = channels, image_size
        self.apply(_init_dcgan)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)
