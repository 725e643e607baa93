"""``POST /v1/rectify``: one photo in, θ, corners and the crop out (JSON, or the crop bytes with headers)."""

from __future__ import annotations

import base64
import json
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from stn.imageio import ENCODINGS

from ..deps import ClientDep, EngineDep, SettingsDep
from ..errors import ApiError, ErrorBody
from ..metrics import INFERENCE_SECONDS
from ..schemas import Format, RectifyResponse

router = APIRouter(prefix="/v1", tags=["rectify"])

_IMAGE_TYPES = {media: fmt for fmt, (media, _) in ENCODINGS.items()}
_ERRORS = {s: {"model": ErrorBody} for s in (401, 413, 415, 422, 429, 503)}


def wants_image(accept: str) -> str | None:
    """The crop format asked for by an ``Accept`` header naming image/png, image/jpeg or image/webp first."""
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in _IMAGE_TYPES:
            return _IMAGE_TYPES[media]
        if media in ("application/json", "*/*", "application/*"):
            return None
    return None


async def read_upload(file: UploadFile, limit: int) -> bytes:
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "payload_too_large", f"file {file.filename!r} is larger than {limit} bytes")
    return data


@router.post(
    "/rectify",
    response_model=RectifyResponse,
    responses={
        200: {"content": {m: {"schema": {"type": "string", "format": "binary"}} for m in _IMAGE_TYPES}},
        **_ERRORS,
    },
    summary="Rectify one photo",
)
async def rectify(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    _client: ClientDep,
    file: Annotated[UploadFile, File(description="The photo (JPEG, PNG, WebP, BMP, TIFF).")],
    width: Annotated[int | None, Form(ge=1, le=16384, description="Crop width (default: from the quad).")] = None,
    height: Annotated[int | None, Form(ge=1, le=16384, description="Crop height (default: from the quad).")] = None,
    format: Annotated[Format | None, Form(description="Crop format (default png, or the Accept header's).")] = None,
    include_crop: Annotated[bool, Form()] = True,
):
    """Find the page, tell which way is up and return θ, corners, angle and the rectified crop.

    With ``Accept: image/png`` (or jpeg, webp) the body is the crop itself, and θ, corners, matrix_px and
    angle_deg come as JSON in the ``X-DocSTN-*`` response headers.
    """
    as_image = wants_image(request.headers.get("accept", ""))
    if as_image and format and format != as_image:
        raise ApiError(400, "format_conflict", f"format={format} contradicts Accept: {ENCODINGS[as_image][0]}")
    fmt = as_image or format or "png"
    data = await read_upload(file, settings.max_upload_bytes)
    r = await run_in_threadpool(
        engine.rectify, data, width=width, height=height, fmt=fmt, include_crop=include_crop or bool(as_image)
    )
    for stage, ms in r.timings_ms.items():
        INFERENCE_SECONDS.labels(stage).observe(ms / 1000)
    if as_image:
        headers = {
            "X-DocSTN-Transform": r.transform,
            "X-DocSTN-Theta": json.dumps(r.theta),
            "X-DocSTN-Corners": json.dumps(r.corners),
            "X-DocSTN-Matrix-Px": json.dumps(r.matrix_px),
            "X-DocSTN-Angle-Deg": str(r.angle_deg),
            "X-DocSTN-Confidence": str(r.confidence),
            "X-DocSTN-Model": f"{engine.name}@{engine.version}",
            "X-DocSTN-Timings-Ms": json.dumps(r.timings_ms),
        }
        return Response(r.crop, media_type=r.media_type, headers=headers)
    crop = None
    if r.crop is not None:
        crop = {
            "media_type": r.media_type,
            "width": r.width,
            "height": r.height,
            "data_base64": base64.b64encode(r.crop).decode(),
        }
    return JSONResponse(r.to_json(model=engine.info, crop=crop))
