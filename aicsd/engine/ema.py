"""An exponential moving average of a network's weights, for evaluation.

``RunConfig.ema_decay = d`` (0 < d < 1) keeps, beside the trained network, a copy whose
parameters and BatchNorm statistics follow ``avg <- d * avg + (1 - d) * current`` after every
optimiser step (torch's :class:`~torch.optim.swa_utils.AveragedModel` with
:func:`~torch.optim.swa_utils.get_ema_multi_avg_fn`, ``use_buffers=True``). The run is then
evaluated with the average: the last steps' noise is smoothed out, which the book's chapter
"Sizing the mini scale" measures as a lever on the spread over seeds. ``ema_decay = 0`` (the
default) trains and evaluates the network as it is.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

__all__ = ["WeightAverage"]


class WeightAverage:
    """The moving average of ``model``'s weights at ``decay``, updated by :meth:`update`."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)

    def update(self, model: nn.Module) -> None:
        """Fold ``model``'s current weights and buffers into the average (the first call copies them)."""
        self.averaged.update_parameters(model)

    @property
    def network(self) -> nn.Module:
        """The averaged network (the same class as the model it follows)."""
        return self.averaged.module

    def weights(self) -> dict[str, Any]:
        """The averaged network's state dict, loadable into a freshly built network (a checkpoint's
        ``ema``, which :func:`aicsd.engine.checkpoint.evaluated_weights` prefers)."""
        return self.averaged.module.state_dict()

    @property
    def updates(self) -> int:
        """How many updates the average has folded in (a checkpoint's ``ema_updates``)."""
        return int(self.averaged.n_averaged)

    def load_state_dict(self, weights: dict[str, Any], updates: int) -> None:
        """Restore the average from a checkpoint's ``ema`` and ``ema_updates``."""
        self.averaged.module.load_state_dict(weights)
        self.averaged.n_averaged.fill_(updates)
