"""The full-resolution warp: OpenCV on uint8 images of any size.

Convention:
    θ maps output to input in normalised coordinates (shared/DESIGN.md §2); it is turned into the pixel
    matrix ``matrix_px`` (output px -> input px) for the actual input and output sizes, then applied with
    ``cv2.warpPerspective(..., WARP_INVERSE_MAP)`` (``cv2.remap`` with the dense map for TPS). For the same θ
    this agrees with the tensor path (``stn.sampling.warp``) to within a grey level on smooth images.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from .checks import check_choice
from .coords import size_hw
from .transforms import Transform
from .transforms import get as get_transform

__all__ = ["BORDER_MODES", "INTERPOLATIONS", "warp_image"]

INTERPOLATIONS = {"bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST, "bicubic": cv2.INTER_CUBIC}
BORDER_MODES = {"zeros": cv2.BORDER_CONSTANT, "border": cv2.BORDER_REPLICATE, "reflection": cv2.BORDER_REFLECT}


def warp_image(
    image: np.ndarray,
    theta,
    kind: str | Transform,
    out_size,
    *,
    interpolation: str = "bilinear",
    padding: str = "zeros",
    matrix_px: np.ndarray | None = None,
) -> np.ndarray:
    """Warp an image of any size by θ with OpenCV.

    Args:
        image: (H, W) or (H, W, C) array, uint8 (or float32).
        theta: (1, P) or (P,) parameters (tensor, array or list) of transform ``kind``.
        kind: transform kind name or instance.
        out_size: (H_out, W_out) of the result.
        interpolation: "bilinear", "nearest" or "bicubic".
        padding: "zeros", "border" or "reflection".
        matrix_px: (3, 3) ``T.matrix_px(theta, image size, out_size)`` when the caller has it already
            (homography kinds), so that it is not computed twice.

    Returns:
        (H_out, W_out[, C]) array of the input's dtype.

    Example:
        >>> img = np.arange(12, dtype=np.uint8).reshape(3, 4)
        >>> bool((warp_image(img, [1, 0, 0, 0, 1, 0], "affine", (3, 4)) == img).all())
        True
    """
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
        got = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"image: expected a non-empty (H, W) or (H, W, C) array, got {got}")
    check_choice("interpolation", interpolation, INTERPOLATIONS)
    check_choice("padding", padding, BORDER_MODES)
    t = get_transform(kind) if isinstance(kind, str) else kind
    th = torch.as_tensor(np.asarray(theta, dtype=np.float64)).reshape(1, -1)
    t.check(th)
    h_out, w_out = size_hw(out_size)
    in_size = image.shape[:2]
    flags = INTERPOLATIONS[interpolation]
    border = BORDER_MODES[padding]
    if t.is_homography:
        m = t.matrix_px(th, in_size, (h_out, w_out))[0].numpy() if matrix_px is None else matrix_px
        return cv2.warpPerspective(
            image, m, (w_out, h_out), flags=flags | cv2.WARP_INVERSE_MAP, borderMode=border, borderValue=0
        )
    mp = t.map_px(th, in_size, (h_out, w_out))[0].to(torch.float32).numpy()  # (H_out, W_out, 2)
    return cv2.remap(image, mp[..., 0], mp[..., 1], flags, borderMode=border, borderValue=0)
