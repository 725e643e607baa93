"""Shape and value checks at the boundary, with errors that say what was expected and what came."""

from __future__ import annotations

import torch

__all__ = ["DegenerateTransformError", "ShapeError", "check_choice", "check_shape"]


class ShapeError(ValueError):
    """A tensor did not have the documented shape."""


class DegenerateTransformError(ValueError):
    """A transform cannot be inverted or fitted (zero scale, collinear corners, singular homography)."""


def check_shape(name: str, tensor: torch.Tensor, expected: tuple[int | str | None, ...]) -> None:
    """Raise :class:`ShapeError` unless ``tensor`` has ``len(expected)`` dims matching ``expected``.

    ``None`` or a string (a symbolic name such as ``"B"``) matches any size; an int must match exactly.

    Example:
        >>> check_shape("theta", torch.zeros(2, 6), ("B", 6))
        >>> check_shape("theta", torch.zeros(2, 5), ("B", 6))
        Traceback (most recent call last):
        ...
        stn.checks.ShapeError: theta: expected shape (B, 6), got (2, 5)
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(tensor).__name__}")
    ok = tensor.dim() == len(expected) and all(
        not isinstance(e, int) or s == e for s, e in zip(tensor.shape, expected, strict=False)
    )
    if not ok:
        want = ", ".join("?" if e is None else str(e) for e in expected)
        got = ", ".join(str(s) for s in tensor.shape)
        raise ShapeError(f"{name}: expected shape ({want}), got ({got})")


def check_choice(what: str, value, choices) -> None:
    """Raise ValueError unless ``value`` is one of ``choices``, naming ``what`` and the choices.

    Example:
        >>> check_choice("padding", "mirror", ("zeros", "border"))
        Traceback (most recent call last):
        ...
        ValueError: padding: expected one of ['zeros', 'border'], got 'mirror'
    """
    if value not in choices:
        raise ValueError(f"{what}: expected one of {list(choices)}, got {value!r}")
