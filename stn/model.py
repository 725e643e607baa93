"""The DocSTN model: one spatial transformer, trained supervised, unsupervised or both.

Convention:
    Inputs are (B, C, H, W) float images in [0, 1] at ``config.input_size``; θ maps the output (upright
    document) frame to the input in normalised coordinates (shared/DESIGN.md §2); corners are TL, TR, BR, BL
    in the document's reading order.

With ``orientation_head`` the localisation net regresses the quad in a *geometric* order (whichever cyclic
order of the corners it finds easiest, trained with a loss that takes the best of the four cyclic shifts, see
``stn.losses``), and a small 4-way classifier looks at the crop that order gives (θ detached) and tells how
many quarter turns put the page upright; :meth:`DocSTN.predict` re-orders the corners into reading order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from torch import nn

from . import nets
from .coords import px_linear_to_norm
from .heatmap import CornerHeatmapNet
from .sampling import sample
from .transforms import get as get_transform
from .transforms import names as transform_names
from .transforms import output_corners

__all__ = ["CORNER_NETS", "DocSTN", "ModelConfig", "ModelOutput", "Prediction", "roll_corners"]

#: localisation nets that predict the 4 corners themselves (``stn.heatmap``), beside the θ nets of ``stn.nets``
CORNER_NETS = ["heatmap"]


class ModelConfig(BaseModel):
    """Everything needed to rebuild a :class:`DocSTN` (stored in a checkpoint's config.json)."""

    model_config = ConfigDict(extra="forbid")

    transform: str = "projective"
    transform_options: dict = Field(default_factory=dict)
    net: str = "docnet"
    net_options: dict = Field(default_factory=dict)
    #: what the localisation head regresses: θ itself, or the 4 corners (θ = from_corners, closed form)
    head: Literal["theta", "corners"] = "theta"
    #: False: θ stays the identity (the plain-CNN baseline, same code path, no transformer)
    localise: bool = True
    in_channels: int = 3
    input_size: tuple[int, int] = (256, 256)  # (H, W) the localisation net sees
    out_size: tuple[int, int] = (64, 64)  # (H, W) of the transformer's output V (what the heads see)
    padding: str = "border"
    labels: list[str] = Field(default_factory=list)  # class names; empty: no classification head
    classifier: str = "paper"  # a localisation-net trunk reused as the classifier's trunk
    classifier_options: dict = Field(default_factory=dict)
    orientation_head: bool = False  # 4-way head on the crop: how many quarter turns put the page upright
    orientation_options: dict = Field(default_factory=dict)
    #: prediction only (net "heatmap"): also localise in a view turned by this angle (degrees; 0: off) and keep,
    #: per image, the view whose heatmaps are sharper; resolves quads the net finds ambiguous in one view
    tta_rotation_deg: float = 0.0

    @field_validator("transform")
    @classmethod
    def _known_transform(cls, v: str) -> str:
        if v not in transform_names():
            raise ValueError(f"unknown transform {v!r}; expected one of {transform_names()}")
        return v

    @field_validator("net")
    @classmethod
    def _known_loc_net(cls, v: str) -> str:
        if v not in nets.names() + CORNER_NETS:
            raise ValueError(f"unknown net {v!r}; expected one of {nets.names() + CORNER_NETS}")
        return v

    @field_validator("classifier")
    @classmethod
    def _known_net(cls, v: str) -> str:
        if v not in nets.names():
            raise ValueError(f"unknown net {v!r}; expected one of {nets.names()}")
        return v

    @model_validator(mode="after")
    def _corner_nets_need_corner_head(self) -> ModelConfig:
        if self.net in CORNER_NETS and self.head != "corners":
            raise ValueError(f"net {self.net!r} predicts corners: it needs head='corners'")
        return self


@dataclass
class ModelOutput:
    """What :meth:`DocSTN.forward` returns; heads that are absent give ``None``."""

    theta: torch.Tensor  # (B, P)
    warped: torch.Tensor  # (B, C, H_out, W_out)
    class_logits: torch.Tensor | None = None  # (B, n_labels)
    orientation_logits: torch.Tensor | None = None  # (B, 4): quarter turns from the net's order to reading order
    corners: torch.Tensor | None = None  # (B, 4, 2) the net's own corners (head="corners"), before any θ fit


@dataclass
class Prediction:
    """What :meth:`DocSTN.predict` returns, ready for the inference engine."""

    theta: torch.Tensor  # (B, P) reading-order θ (output -> input, normalised)
    corners: torch.Tensor  # (B, 4, 2) TL, TR, BR, BL in normalised input coordinates
    confidence: torch.Tensor  # (B,) in [0, 1]
    label: list[str | None]  # predicted class names (None without a classification head)
    class_logits: torch.Tensor | None = None  # (B, n_labels) behind ``label``


def roll_corners(corners: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Cyclically re-order corners: ``out[:, i] = corners[:, (i - k) % 4]``.

    If ``corners[:, i] = reading[:, (i + k) % 4]`` (a quad listed from its k-th reading-order corner), this
    returns the reading order.

    Args:
        corners: (B, 4, 2).
        k: (B,) integer quarter turns.

    Example:
        >>> c = torch.arange(8.0).view(1, 4, 2)
        >>> roll_corners(c, torch.tensor([1]))[0, :, 0]
        tensor([6., 0., 2., 4.])
    """
    idx = (torch.arange(4, device=corners.device)[None, :] - k[:, None]) % 4  # (B, 4)
    return torch.gather(corners, 1, idx[..., None].expand(-1, -1, 2))


def _degenerate_quads(corners: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """(B,) bool: True where three of the 4 corners (B, 4, 2) are (nearly) in a line."""
    c = corners.detach()
    e1, e2 = torch.roll(c, -1, dims=1) - c, torch.roll(c, 1, dims=1) - c  # (B, 4, 2)
    tri = (e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]).abs()  # (B, 4) twice the corner triangles' areas
    return (tri.amin(dim=1) < eps) | ~torch.isfinite(c).all(dim=(1, 2))


class DocSTN(nn.Module):
    """Localisation net -> θ -> crop V -> optional classification head + optional orientation head.

    Example:
        >>> m = DocSTN(ModelConfig(input_size=(32, 48), net="paper", head="corners", orientation_head=True))
        >>> p = m.eval().predict(torch.rand(2, 3, 32, 48))
        >>> tuple(p.theta.shape), tuple(p.corners.shape), tuple(p.confidence.shape)
        ((2, 8), (2, 4, 2), (2,))
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.transform = get_transform(config.transform, **config.transform_options)
        identity = output_corners().flatten() if config.head == "corners" else self.transform.identity(1)[0]
        if config.net == "heatmap":
            self.loc = CornerHeatmapNet(in_channels=config.in_channels, **config.net_options)
        else:
            self.loc = nets.get(config.net, in_channels=config.in_channels, identity=identity, **config.net_options)
        self.classifier = None
        if config.labels:
            self.classifier = nets.get(
                config.classifier,
                in_channels=config.in_channels,
                identity=torch.zeros(len(config.labels)),
                **config.classifier_options,
            )
        self.orientation = None
        if config.orientation_head:
            self.orientation = nets.get(
                config.classifier, in_channels=config.in_channels, identity=torch.zeros(4), **config.orientation_options
            )

    def localise(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, C, H, W) -> (θ (B, P), the net's corners (B, 4, 2) or None) in the net's corner order.

        With ``head="corners"`` θ is fitted to the corners in closed form; a quad too degenerate for that (three
        corners in a line) gets the identity θ instead of stopping training.
        """
        if not self.config.localise:
            return self.transform.identity(x.shape[0], dtype=x.dtype, device=x.device), None
        p = self.loc(x)
        if self.config.head != "corners":
            return p, None
        corners = p.view(-1, 4, 2)
        return self._theta_from_corners(corners), corners

    def _theta_from_corners(self, corners: torch.Tensor) -> torch.Tensor:
        """(B, 4, 2) corners -> θ (B, P) fitted in closed form; degenerate quads get the identity θ."""
        bad = _degenerate_quads(corners)
        safe = torch.where(bad[:, None, None], output_corners(dtype=corners.dtype, device=corners.device), corners)
        return self.transform.from_corners(safe)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        """x (B, C, H, W) at ``input_size`` -> :class:`ModelOutput`."""
        theta, corners = self.localise(x)
        return self._heads(x, theta, corners)

    def _heads(self, x: torch.Tensor, theta: torch.Tensor, corners: torch.Tensor | None) -> ModelOutput:
        size, pad = self.config.out_size, self.config.padding
        v = sample(x, self.transform.grid(theta, size), padding=pad)  # (B, C, H_out, W_out)
        orientation_logits = None
        if self.orientation is not None:
            # the orientation loss must not move the quad: it sees the crop cut off from θ's graph
            orientation_logits = self.orientation(v.detach())
        return ModelOutput(
            theta=theta,
            warped=v,
            class_logits=self.classifier(v) if self.classifier is not None else None,
            orientation_logits=orientation_logits,
            corners=corners,
        )

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> Prediction:
        """x (B, C, H, W) in [0, 1] at ``input_size`` -> :class:`Prediction` (no gradients).

        θ and corners are in reading order: the orientation head's quarter turns are applied.
        """
        if self.config.tta_rotation_deg and isinstance(self.loc, CornerHeatmapNet):
            raw = self._corners_two_views(x, self.config.tta_rotation_deg)
            out = self._heads(x, self._theta_from_corners(raw), raw)
        else:
            out = self(x)
        theta = out.theta
        corners = self.transform.corners(theta)
        confidence = torch.ones(theta.shape[0], device=theta.device)
        if out.orientation_logits is not None:
            prob = out.orientation_logits.float().softmax(dim=1)
            confidence, k = prob.max(dim=1)
            corners = roll_corners(corners, k)
            theta = torch.where((k != 0)[:, None], self.transform.from_corners(corners), theta)
        bad = self.transform.degenerate(theta)
        if out.corners is not None:
            bad = bad | _degenerate_quads(out.corners)
        confidence = torch.where(bad, torch.zeros_like(confidence), confidence)
        labels: list[str | None] = [None] * theta.shape[0]
        if out.class_logits is not None:
            labels = [self.config.labels[i] for i in out.class_logits.argmax(dim=1).tolist()]
        return Prediction(
            theta=theta, corners=corners, confidence=confidence, label=labels, class_logits=out.class_logits
        )

    def _corners_two_views(self, x: torch.Tensor, degrees: float) -> torch.Tensor:
        """Corners (B, 4, 2) from x and from x turned by ``degrees`` (zoomed out to keep the whole photo in
        view), per image the one with the smaller heatmap spread (in input pixels)."""
        b, _, h, w = x.shape
        a = math.radians(degrees)
        c, s = abs(math.cos(a)), abs(math.sin(a))
        zoom = min(h / (w * s + h * c), w / (w * c + h * s))  # the turned photo fits the frame
        rot = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=x.dtype, device=x.device)
        view_to_input = px_linear_to_norm(rot, (h, w)) / zoom  # (2, 2), normalised view -> normalised input
        affine = torch.cat([view_to_input, view_to_input.new_zeros(2, 1)], dim=1).expand(b, 2, 3)
        turned = sample(x, F.affine_grid(affine, [b, x.shape[1], h, w], align_corners=False), padding="border")
        c0, s0 = self.loc.corners_and_spread(x)
        c1, s1 = self.loc.corners_and_spread(turned)
        c1 = c1.view(b, 4, 2) @ view_to_input.T  # back to input coordinates
        return torch.where((s1 / zoom < s0)[:, None, None], c1, c0.view(b, 4, 2))
