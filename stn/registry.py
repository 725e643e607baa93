"""A name -> class registry, shared by the transform kinds and the localisation nets."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Registry"]


class Registry:
    """Classes registered by name with a decorator; ``what`` names the kind of thing in error messages.

    Example:
        >>> shapes = Registry("shape")
        >>> @shapes.register("square")
        ... class Square: ...
        >>> shapes.names(), Square.name
        (['square'], 'square')
        >>> shapes.lookup("circle")
        Traceback (most recent call last):
        ...
        ValueError: unknown shape 'circle'; expected one of ['square']
    """

    def __init__(self, what: str):
        self.what = what
        self._classes: dict[str, type] = {}

    def register(self, name: str) -> Callable[[type], type]:
        """Class decorator adding ``cls`` under ``name`` (and setting ``cls.name``)."""

        def deco(cls: type) -> type:
            if name in self._classes:
                raise ValueError(f"{self.what} {name!r} is already registered")
            cls.name = name
            self._classes[name] = cls
            return cls

        return deco

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._classes)

    def lookup(self, name: str) -> type:
        """The class registered as ``name``; a ValueError listing the known names otherwise."""
        if name not in self._classes:
            raise ValueError(f"unknown {self.what} {name!r}; expected one of {self.names()}")
        return self._classes[name]
