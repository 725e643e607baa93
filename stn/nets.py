"""Localisation nets: images -> transform parameters θ, registered by name.

Every net is a :class:`LocalisationNet`: a ``features`` trunk (B, C, H, W) -> (B, F) that works at any input
size (adaptive pooling, never a hard-coded flatten), and a linear regression ``head`` (B, F) -> (B, P) that
starts at the transform's identity (zero weight, identity bias), so an untrained spatial transformer passes
its input through unchanged.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from .checks import check_shape
from .registry import Registry

__all__ = ["ConvNet", "DocNet", "LocalisationNet", "PaperNet", "get", "names", "register"]

_NETS = Registry("localisation net")
register = _NETS.register


def names() -> list[str]:
    """The registered localisation nets.

    Example:
        >>> names()
        ['paper', 'docnet', 'convnet']
    """
    return _NETS.names()


def get(name: str, *, in_channels: int, identity: torch.Tensor, **options) -> LocalisationNet:
    """Build the localisation net ``name`` regressing ``identity.numel()`` parameters.

    Args:
        in_channels: channels of the images it sees.
        identity: (P,) identity parameters of the transform; the head's bias starts there.

    Example:
        >>> net = get("paper", in_channels=1, identity=torch.tensor([1.0, 0, 0, 0, 1, 0]))
        >>> net(torch.rand(2, 1, 40, 40)).shape
        torch.Size([2, 6])
    """
    return _NETS.lookup(name)(in_channels=in_channels, identity=identity, **options)


class LocalisationNet(nn.Module):
    """Trunk ``features`` (B, C, H, W) -> (B, F) and identity-initialised ``head`` (B, F) -> (B, P)."""

    name = ""

    def __init__(self, features: nn.Module, feature_dim: int, in_channels: int, identity: torch.Tensor):
        super().__init__()
        identity = torch.as_tensor(identity, dtype=torch.float32).flatten()
        self.in_channels = in_channels
        self.features = features
        self.feature_dim = feature_dim
        self.head = nn.Linear(feature_dim, identity.numel())
        nn.init.zeros_(self.head.weight)
        with torch.no_grad():
            self.head.bias.copy_(identity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images -> (B, P) parameters."""
        check_shape("localisation input", x, ("B", self.in_channels, "H", "W"))
        return self.head(self.features(x))


@register("paper")
class PaperNet(LocalisationNet):
    """The STN paper's small CNN: conv 7x7 -> pool -> ReLU -> conv 5x5 -> pool -> ReLU -> FC 32 -> FC.

    An adaptive average pool to ``pool`` x ``pool`` before the FC makes it work at any input size.
    """

    def __init__(self, *, in_channels: int, identity: torch.Tensor, channels=(20, 20), pool: int = 6, hidden: int = 32):
        c1, c2 = channels
        features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 7),
            nn.MaxPool2d(2),
            nn.ReLU(inplace=True),
            nn.Conv2d(c1, c2, 5),
            nn.MaxPool2d(2),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(pool),
            nn.Flatten(),  # (B, c2 * pool * pool)
            nn.Linear(c2 * pool * pool, hidden),
            nn.ReLU(inplace=True),
        )
        super().__init__(features, hidden, in_channels, identity)


class _AddCoords(nn.Module):
    """Append normalised x and y coordinate channels (CoordConv), which makes positions easy to regress."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        ys = torch.linspace(-1, 1, h, dtype=x.dtype, device=x.device).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1, 1, w, dtype=x.dtype, device=x.device).view(1, 1, 1, w).expand(b, 1, h, w)
        return torch.cat([x, xs, ys], dim=1)


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class _InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand -> 3x3 depthwise -> 1x1 project, residual when shapes allow."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int = 4):
        super().__init__()
        mid = cin * expand
        self.block = nn.Sequential(
            _conv_bn(cin, mid, 1),
            _conv_bn(mid, mid, 3, stride, groups=mid),
            _conv_bn(mid, cout, 1, act=False),
        )
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


@register("docnet")
class DocNet(LocalisationNet):
    """The default net for document photos: CoordConv input, depthwise-separable inverted residual stages
    (MobileNetV2-style, stride 32), a spatial pool to ``pool`` x ``pool`` (keeps where things are, unlike a
    global pool) and an FC layer. About 1.6 M parameters; fast on CPU at 256x256.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        identity: torch.Tensor,
        widths=(24, 32, 64, 128, 192),
        blocks=(1, 2, 3, 2),
        pool: int = 8,
        squeeze: int = 32,
        hidden: int = 256,
    ):
        stem, *stage_widths = widths
        layers: list[nn.Module] = [_AddCoords(), _conv_bn(in_channels + 2, stem, 3, 2)]
        cin = stem
        for cout, n in zip(stage_widths, blocks, strict=True):
            for i in range(n):
                layers.append(_InvertedResidual(cin, cout, 2 if i == 0 else 1))
                cin = cout
        layers += [
            _conv_bn(cin, squeeze, 1),
            nn.AdaptiveAvgPool2d(pool),
            nn.Flatten(),  # (B, squeeze * pool * pool)
            nn.Linear(squeeze * pool * pool, hidden),
            nn.ReLU(inplace=True),
        ]
        super().__init__(nn.Sequential(*layers), hidden, in_channels, identity)


def _conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


@register("convnet")
class ConvNet(LocalisationNet):
    """Plain 3x3 conv-BN-ReLU stages (VGG-style, stride 32) after a CoordConv input, a spatial pool to
    ``pool`` x ``pool`` and an FC layer. About twice as fast as ``docnet`` on CPU for the same input (dense
    convolutions use the cores better than depthwise ones); the default model's localisation net.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        identity: torch.Tensor,
        widths=(32, 48, 64, 128, 192),
        pool: int = 4,
        hidden: int = 256,
    ):
        layers: list[nn.Module] = [_AddCoords(), _conv_bn_relu(in_channels + 2, widths[0], 2)]
        for cin, cout in itertools.pairwise(widths):
            layers += [_conv_bn_relu(cin, cout, 2), _conv_bn_relu(cout, cout)]
        layers += [
            nn.AdaptiveAvgPool2d(pool),
            nn.Flatten(),  # (B, widths[-1] * pool * pool)
            nn.Linear(widths[-1] * pool * pool, hidden),
            nn.ReLU(inplace=True),
        ]
        super().__init__(nn.Sequential(*layers), hidden, in_channels, identity)
