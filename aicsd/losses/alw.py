"""Adaptive loss weighting (ALW): the teacher's pixel-wise signal fades out as training goes on.

    L = alpha * (L_CE + L_ICSD) + (1 - alpha) * L_KD,   alpha rising from 0 towards 1

(the paper's method diagram; in general every term marked ``fades_in`` is multiplied by alpha and
every other distillation term by 1 - alpha). Two forms of alpha:

- ``"epoch"``: ``alpha = epoch / total_epochs``, constant within an epoch, as the released code's
  ``alpha = epoch / 120`` with the run's own epoch count instead of the literal 120. It runs
  0, 1/E, ..., (E-1)/E: it never reaches 1, and with few epochs the whole first epoch is KD only
  (with 4 epochs, a quarter of training).
- ``"step"``: ``alpha = step / (total_steps - 1)`` over the run's optimiser steps, from exactly 0 at
  the first step to exactly 1 at the last: the same ramp, smooth, for short schedules.

``"off"`` keeps every multiplier at 1 (the non-adaptive methods).
"""

from __future__ import annotations

ALW_FORMS = ("off", "epoch", "step")


def alw_alpha(form: str, *, epoch: int, total_epochs: int, step: int, total_steps: int) -> float | None:
    """ALW's alpha at optimiser step ``step`` (counted from 0 over the whole run) of epoch ``epoch``.

    ``None`` for ``form == "off"``. Raises ValueError for an unknown form or out-of-range counters.
    """
    if form not in ALW_FORMS:
        raise ValueError(f"unknown ALW form {form!r}; valid: {', '.join(ALW_FORMS)}")
    if form == "off":
        return None
    if form == "epoch":
        if total_epochs <= 0 or not 0 <= epoch < total_epochs:
            raise ValueError(f"epoch must lie in [0, total_epochs={total_epochs}), got {epoch}")
        return epoch / total_epochs
    if total_steps <= 0 or not 0 <= step < total_steps:
        raise ValueError(f"step must lie in [0, total_steps={total_steps}), got {step}")
    return step / (total_steps - 1) if total_steps > 1 else 1.0


def alw_multiplier(alpha: float | None, *, fades_in: bool) -> float:
    """The multiplier of a term under ALW: ``alpha`` if it fades in, ``1 - alpha`` if it fades out, 1 when off."""
    if alpha is None:
        return 1.0
    return alpha if fades_in else 1.0 - alpha
