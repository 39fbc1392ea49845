"""Adaptive loss weighting (ALW) and the constant schedule of the non-adaptive methods."""

from __future__ import annotations


def alw_weights(epoch: int, total_epochs: int) -> dict[str, float]:
    """ALW multipliers for ``epoch`` (counted from 0) of ``total_epochs``.

        alpha = epoch / total_epochs,   L = alpha * (L_CE + L_ICSD) + (1 - alpha) * L_KD

    so alpha runs 0, 1/E, ..., (E-1)/E (as the released code's ``alpha = epoch/120``, with the
    run's own epoch count instead of the literal 120): the pixel-wise KD fades out while the
    ground truth and ICSD fade in. Returns ``{"ce": alpha, "icsd": alpha, "kd": 1 - alpha}``; other
    terms keep a multiplier of 1.
    """
    if total_epochs <= 0:
        raise ValueError(f"total_epochs must be positive, got {total_epochs}")
    if not 0 <= epoch < total_epochs:
        raise ValueError(f"epoch must lie in [0, total_epochs={total_epochs}), got {epoch}")
    alpha = epoch / total_epochs
    return {"ce": alpha, "icsd": alpha, "kd": 1.0 - alpha}


def constant_weights() -> dict[str, float]:
    """The schedule of the non-adaptive methods: every term keeps its own weight (multiplier 1)."""
    return {"ce": 1.0, "icsd": 1.0, "kd": 1.0}
