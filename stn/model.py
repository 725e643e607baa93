"""The DocSTN model: one spatial transformer, trained supervised, unsupervised or both.

Convention:
    Inputs are (B, C, H, W) float images in [0, 1] at ``config.input_size``; θ maps the output (upright
    document) frame to the input in normalised coordinates (shared/DESIGN.md §2); corners are TL, TR, BR, BL
    in the document's reading order.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn

from . import nets
from .module import SpatialTransformer
from .transforms import get as get_transform
from .transforms import names as transform_names

__all__ = ["DocSTN", "ModelConfig", "ModelOutput", "Prediction"]


class ModelConfig(BaseModel):
    """Everything needed to rebuild a :class:`DocSTN` (stored in a checkpoint's config.json)."""

    model_config = ConfigDict(extra="forbid")

    transform: str = "projective"
    transform_options: dict = Field(default_factory=dict)
    net: str = "docnet"
    net_options: dict = Field(default_factory=dict)
    in_channels: int = 3
    input_size: tuple[int, int] = (256, 256)  # (H, W) the localisation net sees
    out_size: tuple[int, int] = (64, 64)  # (H, W) of the transformer's output V (what a classifier sees)
    padding: str = "border"
    labels: list[str] = Field(default_factory=list)  # class names; empty: no classification head
    classifier: str = "paper"  # a localisation-net trunk reused as the classifier's trunk
    orientation_head: bool = False  # 4-way head: which of the quad's sides is the top

    @field_validator("transform")
    @classmethod
    def _known_transform(cls, v: str) -> str:
        if v not in transform_names():
            raise ValueError(f"unknown transform {v!r}; expected one of {transform_names()}")
        return v

    @field_validator("net", "classifier")
    @classmethod
    def _known_net(cls, v: str) -> str:
        if v not in nets.names():
            raise ValueError(f"unknown net {v!r}; expected one of {nets.names()}")
        return v


@dataclass
class ModelOutput:
    """What :meth:`DocSTN.forward` returns; heads that are absent give ``None``."""

    theta: torch.Tensor  # (B, P)
    warped: torch.Tensor  # (B, C, H_out, W_out)
    class_logits: torch.Tensor | None = None  # (B, n_labels)
    orientation_logits: torch.Tensor | None = None  # (B, 4)


@dataclass
class Prediction:
    """What :meth:`DocSTN.predict` returns, ready for the inference engine."""

    theta: torch.Tensor  # (B, P) reading-order θ (output -> input, normalised)
    corners: torch.Tensor  # (B, 4, 2) TL, TR, BR, BL in normalised input coordinates
    confidence: torch.Tensor  # (B,) in [0, 1]
    label: list[str | None]  # predicted class names (None without a classification head)


class DocSTN(nn.Module):
    """Spatial transformer + optional classification head + optional orientation head."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.transform = get_transform(config.transform, **config.transform_options)
        self.st = SpatialTransformer(
            config.transform,
            config.net,
            in_channels=config.in_channels,
            out_size=config.out_size,
            padding=config.padding,
            transform_options=config.transform_options,
            net_options=config.net_options,
        )
        self.classifier = None
        if config.labels:
            self.classifier = nets.get(
                config.classifier, in_channels=config.in_channels, identity=torch.zeros(len(config.labels))
            )
        self.orientation = nn.Linear(self.st.loc.feature_dim, 4) if config.orientation_head else None

    def forward(self, x: torch.Tensor) -> ModelOutput:
        """x (B, C, H, W) at ``input_size`` -> :class:`ModelOutput`."""
        feats = self.st.loc.features(x)  # (B, F)
        theta = self.st.loc.head(feats)
        warped = self.st.transform.grid(theta, self.config.out_size)
        from .sampling import sample

        v = sample(x, warped, padding=self.config.padding)
        return ModelOutput(
            theta=theta,
            warped=v,
            class_logits=self.classifier(v) if self.classifier is not None else None,
            orientation_logits=self.orientation(feats) if self.orientation is not None else None,
        )

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> Prediction:
        """x (B, C, H, W) in [0, 1] at ``input_size`` -> :class:`Prediction` (eval mode, no gradients)."""
        out = self(x)
        theta = out.theta
        corners = self.transform.corners(theta)
        confidence = torch.ones(theta.shape[0], device=theta.device)
        if out.orientation_logits is not None:
            confidence = out.orientation_logits.softmax(dim=1).amax(dim=1)
        confidence = torch.where(self.transform.degenerate(theta), torch.zeros_like(confidence), confidence)
        labels: list[str | None] = [None] * theta.shape[0]
        if out.class_logits is not None:
            labels = [self.config.labels[i] for i in out.class_logits.argmax(dim=1).tolist()]
        return Prediction(theta=theta, corners=corners, confidence=confidence, label=labels)
