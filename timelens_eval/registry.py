"""A small typed registry with lazy ``"module:attr"`` entries and "did you mean" errors."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from timelens_eval.errors import ConfigError, UnknownNameError

__all__ = ["Registry", "load_object"]

T = TypeVar("T")


def load_object(target: str) -> object:
    """Import ``"package.module:attr"`` and return the attribute."""
    module_name, _, attr = target.partition(":")
    if not attr:
        raise ConfigError(f"lazy registry target {target!r} must look like 'module:attr'")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ConfigError(f"{module_name!r} has no attribute {attr!r}") from exc


@dataclass
class _Entry(Generic[T]):
    value: T | None
    target: str | None


class Registry(Generic[T]):
    """Names to objects; entries may be lazy import paths resolved on first use."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, _Entry[T]] = {}

    def register(self, name: str, value: T | str, *, replace: bool = False) -> None:
        """Add ``value`` (or a lazy ``"module:attr"`` string) under ``name``."""
        if name in self._entries and not replace:
            raise ConfigError(f"{self.kind} {name!r} is already registered")
        if isinstance(value, str):
            self._entries[name] = _Entry(None, value)
        else:
            self._entries[name] = _Entry(value, None)

    def decorator(self, name: str) -> Callable[[T], T]:
        def wrap(value: T) -> T:
            self.register(name, value)
            return value

        return wrap

    def get(self, name: str) -> T:
        """The object under ``name``; unknown names raise with suggestions."""
        entry = self._entries.get(name)
        if entry is None:
            raise UnknownNameError(self.kind, name, self._entries)
        if entry.value is None:
            assert entry.target is not None
            entry.value = load_object(entry.target)  # type: ignore[assignment]
        return entry.value  # type: ignore[return-value]

    def target(self, name: str) -> str | None:
        """The lazy import path of ``name`` if it was registered lazily."""
        if name not in self._entries:
            raise UnknownNameError(self.kind, name, self._entries)
        return self._entries[name].target

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def names(self) -> list[str]:
        return sorted(self._entries)
