"""Response models: they document the contract of shared/DESIGN.md §5 in the OpenAPI spec (/docs)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .errors import ErrorDetail

__all__ = ["CropData", "JobCreated", "JobItem", "JobStatus", "ModelInfo", "Progress", "RectifyResponse"]

Format = Literal["png", "jpeg", "webp"]


class ModelInfo(BaseModel):
    name: str
    version: str
    transform: str | None = None
    input_size: list[int] | None = None


class CropData(BaseModel):
    media_type: str
    width: int
    height: int
    data_base64: str | None = None


class ImageSize(BaseModel):
    width: int
    height: int


class RectifyResponse(BaseModel):
    transform: str
    theta: list[list[float]] = Field(description="affine 2x3, projective 3x3 (h33 = 1), other kinds one row")
    matrix_px: list[list[float]] = Field(description="3x3, crop pixel -> photo pixel (cv2 WARP_INVERSE_MAP)")
    corners: list[list[float]] = Field(description="TL, TR, BR, BL of the page in photo pixels, reading order")
    angle_deg: float = Field(description="direction of TL->TR on screen, counter-clockwise, in (-180, 180]")
    confidence: float
    label: str | None = None
    image: ImageSize
    crop: CropData | None = None
    model: ModelInfo
    timings_ms: dict[str, float]


class JobCreated(BaseModel):
    id: str
    status_url: str
    total: int


class Progress(BaseModel):
    done: int
    failed: int
    total: int


class JobItem(BaseModel):
    index: int
    filename: str | None = None
    state: Literal["pending", "done", "failed"]
    crop_url: str | None = None
    error: ErrorDetail | None = None
    model_config = {"extra": "allow"}  # the rectify result's fields when done


class JobStatus(BaseModel):
    id: str
    state: Literal["queued", "running", "done"]
    progress: Progress
    created: float
    finished: float | None = None
    expires_at: float | None = None
    items: list[JobItem]
