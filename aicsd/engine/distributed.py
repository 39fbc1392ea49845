"""torch.distributed plumbing for ``torchrun --nproc_per_node=N``: process group, device, sharding."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from aicsd.errors import ConfigError

__all__ = ["DEVICES", "DistContext", "barrier", "broadcast_object", "check_device", "distributed_context", "resolve_device"]

DEVICES = "auto, cpu, cuda or cuda:N (a GPU index)"
"""The devices a run or an evaluation accepts, in words."""


@dataclass(frozen=True)
class DistContext:
    """Rank, world size and local rank of this process (0, 1, 0 without torch.distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """True on the process that logs and writes files."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


@contextmanager
def distributed_context(device: str = "auto") -> Iterator[DistContext]:
    """The process group of this process.

    Uses an initialised group as is; otherwise, under ``torchrun`` (``WORLD_SIZE`` > 1 in the
    environment) initialises one (NCCL on CUDA, gloo on CPU) and destroys it on exit.
    """
    if dist.is_available() and dist.is_initialized():
        local_rank = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
        yield DistContext(dist.get_rank(), dist.get_world_size(), local_rank)
        return
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        yield DistContext()
        return
    use_cuda = torch.cuda.is_available() and device != "cpu"
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    try:
        yield DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    finally:
        dist.destroy_process_group()


def check_device(name: str) -> None:
    """Raise ConfigError naming the valid devices unless ``name`` is one of :data:`DEVICES`.

    Only the name is checked; whether CUDA is there is :func:`resolve_device`'s question.
    """
    if name == "auto":
        return
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda") or (device.type == "cpu" and device.index):
        raise ConfigError(f"unknown device {name!r}; valid: {DEVICES}")


def resolve_device(name: str, context: DistContext) -> torch.device:
    """``"auto"`` -> this process's GPU when CUDA is available, else the CPU; ``"cuda"`` -> its GPU.

    Raises ConfigError for a name that is not one of :data:`DEVICES` and for CUDA where there is none.
    """
    check_device(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device={name!r} but CUDA is not available; use device='cpu' or 'auto'")
        if device.index is None:
            device = torch.device("cuda", context.local_rank)
        torch.cuda.set_device(device)
    return device


def barrier(context: DistContext) -> None:
    """Wait for every process (no-op in a single process)."""
    if context.enabled:
        dist.barrier()


def broadcast_object(obj: Any, context: DistContext) -> Any:
    """Rank 0's ``obj`` on every process (``obj`` itself in a single process)."""
    if not context.enabled:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]
