"""A least-recently-used store bounded in bytes, shared by the per-process caches of a run stream
(:mod:`aicsd.engine.teacher_cache`, :mod:`aicsd.data.decoded`)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["BoundedLRU"]

V = TypeVar("V")


class BoundedLRU(Generic[V]):
    """Values by key, least recently used first out, their sizes (given by the caller) summing to at
    most ``max_bytes``; a value larger than that is not kept. ``hits`` and ``misses`` count the
    :meth:`get` calls that found a value and those that did not."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._bytes = 0

    @property
    def bytes(self) -> int:
        """Sum of the sizes of the values held now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> V | None:
        """The value of ``key`` (now the most recently used), or None."""
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[0]

    def put(self, key: str, value: V, size: int) -> None:
        """Keep ``value`` of ``size`` bytes under ``key``, dropping the least recently used to make room."""
        if size > self.max_bytes:
            return
        while self._bytes + size > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= dropped
        self._entries[key] = (value, size)
        self._bytes += size
