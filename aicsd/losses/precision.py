"""Keep loss arithmetic in float32 (float64 stays float64), also inside bf16/fp16 autocast."""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor


def at_least_float32(x: Tensor) -> Tensor:
    """``x`` as float32, unless it is already float64 (kept for float64 gradient checks)."""
    return x if x.dtype == torch.float64 else x.float()


def autocast_disabled(x: Tensor) -> contextlib.AbstractContextManager[None]:
    """A context in which autocast is off on ``x``'s device type."""
    return torch.autocast(device_type=x.device.type, enabled=False)
