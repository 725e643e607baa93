"""Decode and encode images for the inference engine, with typed errors.

Convention:
    Decoded images are (H, W, 3) uint8 RGB arrays, upright: the EXIF orientation tag is applied, so pixel
    coordinates refer to the image as a viewer shows it. Limits are checked from the header, before the
    pixels are decoded (a decompression bomb is refused without allocating it).
"""

from __future__ import annotations

import io
import struct
import warnings

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .checks import check_choice

__all__ = [
    "DECODABLE_FORMATS",
    "ENCODINGS",
    "PNG_PARAMS",
    "WEBP_METHOD",
    "CorruptImageError",
    "ImageError",
    "TooManyPixelsError",
    "UnsupportedImageError",
    "decode_image",
    "encode_image",
    "media_type",
]

#: Pillow format names accepted on input.
DECODABLE_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "MPO")

#: Output format -> (media type, file extension).
ENCODINGS = {"png": ("image/png", ".png"), "jpeg": ("image/jpeg", ".jpg"), "webp": ("image/webp", ".webp")}


_ORIENTATION = 0x0112  # the EXIF orientation tag
#: OpenCV's flags for an RGB decode that leaves the EXIF orientation alone (None: an OpenCV without IMREAD_COLOR_RGB)
_CV_RGB = cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION if hasattr(cv2, "IMREAD_COLOR_RGB") else None

#: What Pillow raises on damaged data. Deliberately not ``Exception``: a time limit or an interrupt raised while
#: decoding must not be mistaken for a damaged image.
_PILLOW_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError, struct.error,
                  ZeroDivisionError)  # fmt: skip


class ImageError(ValueError):
    """An image that cannot be processed; ``code`` and ``status`` are the HTTP error's (shared/DESIGN.md §5)."""

    code = "invalid_image"
    status = 422


class UnsupportedImageError(ImageError):
    """Not an image, or an image format we do not accept."""

    code = "unsupported_media_type"
    status = 415


class CorruptImageError(ImageError):
    """A recognised format whose data cannot be decoded (truncated, damaged)."""

    code = "corrupt_image"
    status = 422


class TooManyPixelsError(ImageError):
    """More pixels than allowed (decompression-bomb guard)."""

    code = "too_many_pixels"
    status = 413


def decode_image(data: bytes, *, max_pixels: int = 50_000_000) -> np.ndarray:
    """Decode image bytes to an upright RGB array.

    Args:
        data: the encoded file (JPEG, PNG, WebP, BMP, TIFF).
        max_pixels: the largest width * height accepted.

    Returns:
        (H, W, 3) uint8 RGB, EXIF orientation applied.

    Raises:
        UnsupportedImageError, CorruptImageError, TooManyPixelsError.

    Example:
        >>> png = encode_image(np.zeros((2, 3, 3), np.uint8), "png")
        >>> decode_image(png).shape
        (2, 3, 3)
    """
    if not data:
        raise UnsupportedImageError("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own max_pixels decides
            im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise UnsupportedImageError("not a recognised image (expected JPEG, PNG, WebP, BMP or TIFF)") from None
    except Image.DecompressionBombError:
        raise TooManyPixelsError(f"image has more than {max_pixels} pixels") from None
    except _PILLOW_ERRORS as e:  # Pillow raises many kinds on damaged headers
        raise CorruptImageError(f"cannot read the image header ({type(e).__name__})") from None
    if im.format not in DECODABLE_FORMATS:
        raise UnsupportedImageError(f"image format {im.format} is not accepted (expected JPEG, PNG, WebP, BMP or TIFF)")
    w, h = im.size
    if w * h > max_pixels:
        raise TooManyPixelsError(f"image is {w}x{h} = {w * h} pixels, more than the limit of {max_pixels}")
    if w == 0 or h == 0:
        raise CorruptImageError(f"image is {w}x{h}")
    try:
        upright = im.getexif().get(_ORIENTATION, 1) == 1
    except _PILLOW_ERRORS:
        upright = False  # let exif_transpose below report (or survive) a damaged EXIF block
    if upright and im.format in ("JPEG", "MPO") and im.mode in ("RGB", "L") and _CV_RGB is not None:
        # the same libjpeg-turbo without Pillow's copy into NumPy: 25% faster on 3 MP (bench/pipeline.py);
        # OpenCV returns None on any damage, and Pillow below then says what is wrong
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), _CV_RGB)
        if arr is not None and arr.shape == (h, w, 3):
            return arr
    try:
        im.load()
        if not upright:  # exif_transpose copies even an upright image: only call it when there is work
            im = ImageOps.exif_transpose(im)
        if im.mode != "RGB":
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                # flatten transparency onto white: documents are on paper
                im = im.convert("RGBA")
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            im = im.convert("RGB")
        arr = np.asarray(im)
    except Image.DecompressionBombError:
        raise TooManyPixelsError(f"image has more than {max_pixels} pixels") from None
    except _PILLOW_ERRORS as e:
        raise CorruptImageError(f"cannot decode the image ({type(e).__name__}: {str(e)[:120]})") from None
    return np.ascontiguousarray(arr)


def media_type(fmt: str) -> str:
    """``"png"`` -> ``"image/png"``."""
    check_choice("format", fmt, ENCODINGS)
    return ENCODINGS[fmt][0]


#: PNG at zlib level 1 with libpng's fast filter set: on a 1240x1754 document crop 1.7x faster than level 1 with
#: the default (all) filters, and no larger (bench/pipeline.py).
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1] + (
    [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FAST_FILTERS] if hasattr(cv2, "IMWRITE_PNG_FAST_FILTERS") else []
)
#: libwebp method (0 fastest .. 6 smallest): method 0 is 3x faster than OpenCV's fixed method 4 at ~10% more bytes.
WEBP_METHOD = 0


def encode_image(image: np.ndarray, fmt: str = "png", *, quality: int = 90) -> bytes:
    """Encode an RGB (or grey) uint8 image; settings favour speed (see ``PNG_PARAMS``, ``WEBP_METHOD``).

    PNG and JPEG go through OpenCV (libpng, libjpeg-turbo), WebP through Pillow (libwebp), which lets the method
    be chosen.

    Args:
        image: (H, W, 3) RGB or (H, W) uint8.
        fmt: "png", "jpeg" or "webp".
        quality: JPEG and WebP quality (1-100).

    Example:
        >>> encode_image(np.zeros((2, 2, 3), np.uint8), "jpeg")[:2] == b"\\xff\\xd8"
        True
        >>> encode_image(np.zeros((2, 2, 3), np.uint8), "webp")[8:12]
        b'WEBP'
    """
    media_type(fmt)
    if fmt == "webp":
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="WEBP", quality=quality, method=WEBP_METHOD)
        return buf.getvalue()
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    params = PNG_PARAMS if fmt == "png" else [cv2.IMWRITE_JPEG_QUALITY, quality]
    ok, buf = cv2.imencode(ENCODINGS[fmt][1], bgr, params)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {image.shape} image as {fmt}")
    return buf.tobytes()
