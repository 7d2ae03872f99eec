"""A tiny name -> object registry with errors that list the valid names."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["Registry", "closest"]


def closest(word: object, choices: Iterable[str]) -> str:
    """' (did you mean X?)' for a likely typo of one of ``choices``, else '': the fix a person needs first."""
    match = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


class Registry(Generic[T]):
    """Maps names to objects; ``get`` on an unknown name raises a ``ValueError`` naming every valid one."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return deco

    def unregister(self, name: str) -> T:
        """Remove and return ``name`` (so a notebook cell that registers can be re-run with ``replace``)."""
        self.get(name)  # the unknown-name error
        return self._items.pop(name)

    def get(self, name: str) -> T:
        if not isinstance(name, str):
            raise ValueError(f"a {self.kind} name must be a str, got {name!r} ({type(name).__name__})")
        if name not in self._items:
            raise ValueError(f"unknown {self.kind} {name!r}{closest(name, self._items)}; valid names: {', '.join(sorted(self._items))}")
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
