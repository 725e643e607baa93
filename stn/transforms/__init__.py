"""Transform kinds and their registry.

Convention:
    θ maps OUTPUT (upright document frame) to INPUT (photo) in normalised coordinates with
    ``align_corners=False`` (shared/DESIGN.md §2). ``get(kind)`` returns a :class:`Transform` with
    ``identity``, ``grid``, ``corners``, ``from_corners``, ``matrix``, ``matrix_px`` and ``map_px``.

Example:
    >>> from stn import transforms
    >>> T = transforms.get("affine")
    >>> T.grid(T.identity(1), size=(2, 3)).shape
    torch.Size([1, 2, 3, 2])
"""

from .base import Transform, base_grid, get, names, output_corners, register
from .homography import Affine, Attention, HomographyTransform, Projective, Rotation, Similarity
from .tps import ThinPlateSpline

__all__ = [
    "Affine",
    "Attention",
    "HomographyTransform",
    "Projective",
    "Rotation",
    "Similarity",
    "ThinPlateSpline",
    "Transform",
    "base_grid",
    "get",
    "names",
    "output_corners",
    "register",
]
