"""The frozen teacher's outputs, computed once per batch and shared by the runs of one process.

A frozen teacher in eval mode maps a batch to the same taps in every run that sees that batch. The
runs of one student network and seed see the same batches whatever their method (the same shuffle,
the same initialisation and so the same augmentation draws), so the book's grids compute the same
teacher forward once per method. :class:`TeacherOutputCache` keeps the teacher's taps keyed by the
batch's content: a run that meets a batch the cache holds reads the taps instead of running the
teacher, and gets the very tensors the teacher gave (bit-identical losses); a batch it does not hold
is computed and stored. Keying by content, not by step, makes a stale hit impossible: a run whose
batches differ (another seed, another recipe) simply misses.

:func:`aicsd.study.experiments.run_all` gives one cache to each group of runs that share a
student and seed, trained one after another in one process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from torch import Tensor

from aicsd.lru import BoundedLRU

__all__ = ["DEFAULT_CACHE_BYTES", "TeacherOutputCache"]

DEFAULT_CACHE_BYTES = 2 * 2**30
"""Memory a cache may hold: all taps of the ``cpu`` profile's 250 batches of one student and seed
take about 1.1 GiB."""


class TeacherOutputCache(BoundedLRU[dict[str, Tensor]]):
    """Teacher taps by (teacher, batch content), least recently used first out, in at most ``max_bytes``.

    :meth:`taps` returns the stored dict of a batch seen before, else computes, stores and returns
    it. The tensors are shared by every run that reads them: losses must not modify them in place
    (none of :mod:`aicsd.losses` does). ``hits`` and ``misses`` count the lookups, ``bytes`` the
    tensors held.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        super().__init__(max_bytes)

    @staticmethod
    def key(teacher: str, images: Tensor) -> str:
        """SHA-256 over ``teacher`` (the teacher's identity and precision) and the batch ``images``
        (B, 3, H, W): its dtype, shape, memory layout and bytes."""
        digest = hashlib.sha256()
        layout = f"{teacher}|{images.dtype}|{tuple(images.shape)}|{images.stride()}|{images.device}"
        digest.update(layout.encode())
        digest.update(images.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def taps(self, teacher: str, images: Tensor, compute: Callable[[], dict[str, Tensor]]) -> dict[str, Tensor]:
        """The teacher's taps for ``images`` (B, 3, H, W): stored ones, or ``compute()``'s (then stored)."""
        key = self.key(teacher, images)
        stored = self.get(key)
        if stored is not None:
            return stored
        taps = compute()
        self.put(key, taps, sum(t.element_size() * t.nelement() for t in taps.values()))
        return taps
