"""The learning-rate schedule: poly decay per iteration, with an optional linear warm-up."""

import pytest

from aicsd.engine import load_profile
from aicsd.engine.setup import poly_factor
from aicsd.errors import ConfigError


def test_poly_without_warm_up_is_the_released_schedule():
    factor = poly_factor(100, 0.9)
    assert factor(0) == 1.0 and factor(50) == pytest.approx(0.5**0.9) and factor(100) == 0.0


def test_warm_up_ramps_linearly_then_follows_poly():
    factor = poly_factor(100, 0.9, warmup_steps=10)
    assert factor(0) == pytest.approx(0.1 * 1.0)
    assert factor(4) == pytest.approx(0.5 * (1 - 4 / 100) ** 0.9)
    assert factor(9) == pytest.approx((1 - 9 / 100) ** 0.9)
    assert factor(50) == pytest.approx(poly_factor(100, 0.9)(50))


def test_negative_warm_up_is_refused_naming_the_field():
    with pytest.raises(ConfigError, match="warmup_steps"):
        load_profile("smoke", warmup_steps=-1)
