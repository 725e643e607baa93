"""DocSTN spatial transformer core: transforms, samplers, localisation nets, the SpatialTransformer module.

Convention: shared/DESIGN.md §2 — points (x, y), sizes (H, W), θ maps output to input in normalised
coordinates with ``align_corners=False``.
"""

from . import nets, transforms
from .checks import DegenerateTransformError, ShapeError
from .coords import norm_to_px, px_to_norm
from .fullres import warp_image
from .module import ParallelSpatialTransformer, SpatialTransformer, StackedSpatialTransformer
from .sampling import sample, warp

__all__ = [
    "DegenerateTransformError",
    "ParallelSpatialTransformer",
    "ShapeError",
    "SpatialTransformer",
    "StackedSpatialTransformer",
    "nets",
    "norm_to_px",
    "px_to_norm",
    "sample",
    "transforms",
    "warp",
    "warp_image",
]
