"""Channel widths of the narrow models (``width_multiplier`` < 1)."""

from __future__ import annotations

from torchvision.models._utils import _make_divisible

CHANNEL_DIVISOR = 8


def check_width_multiplier(width_multiplier: float) -> float:
    """Return ``width_multiplier`` as a float; ValueError unless 0 < width_multiplier <= 1."""
    if isinstance(width_multiplier, bool) or not isinstance(width_multiplier, (int, float)):
        raise ValueError(f"width_multiplier must be a number in (0, 1], got {width_multiplier!r}")
    if not 0.0 < width_multiplier <= 1.0:
        raise ValueError(
            f"width_multiplier must be in (0, 1] (1.0 = the paper's widths, < 1 = narrow CPU models), "
            f"got {width_multiplier}"
        )
    return float(width_multiplier)


def scale_channels(channels: int, width_multiplier: float) -> int:
    """``channels * width_multiplier`` rounded to a multiple of 8, at least 8.

    The rule of torchvision's MobileNetV2 ``width_mult`` (``_make_divisible``: nearest multiple of
    8, never more than 10 % below the exact value), used for every backbone and head width so all
    narrow models round alike. Multiples of 8 are unchanged at width 1.0.
    """
    return _make_divisible(channels * width_multiplier, CHANNEL_DIVISOR)
