"""Default weights: the conversion from the released weights as a function of the released batch."""

from __future__ import annotations

import pytest

from aicsd.losses import weights
from aicsd.study.calibration import gradient_ratio_table, gradient_ratios, icsd_gradient_ratio


@pytest.mark.parametrize(("batch", "kd", "icsd"), [(6, 10 * 6 / 21, 9500 * 6), (8, 10 * 8 / 21, 9500 * 8)])
def test_released_weights_convert_with_the_batch_they_were_set_at(batch, kd, icsd):
    assert weights.kd_weight_from_released(10.0, batch=batch, classes=21) == pytest.approx(kd)
    assert weights.icsd_weight_from_released(9500.0, batch=batch) == icsd


def test_defaults_use_the_released_batch_of_6():
    assert weights.RELEASED_BATCH == 6 and weights.RELEASED_CLASSES == 21
    assert weights.KD_WEIGHT == pytest.approx(2.857, abs=5e-4)
    assert weights.ICSD_OFFICIAL_WEIGHT == 57000
    assert weights.ICSD_PAPER_WEIGHT == pytest.approx(57000 * weights.ICSD_GRADIENT_RATIO)
    assert weights.default_icsd_weight("official") == weights.ICSD_OFFICIAL_WEIGHT
    assert weights.default_icsd_weight("paper") == weights.ICSD_PAPER_WEIGHT
    assert weights.CE_WEIGHT == 1.0 and weights.CWD_WEIGHT == 3.0 and weights.DIST_WEIGHT == 1.0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="batch"):
        weights.kd_weight_from_released(batch=0)
    with pytest.raises(ValueError, match="batch"):
        weights.icsd_weight_from_released(batch=-6)
    with pytest.raises(ValueError, match="variant"):
        weights.default_icsd_weight("loop")


def test_gradient_ratio_table_shows_seeds_and_sizes():
    ratios = gradient_ratios(sizes=(9, 17), seeds=(0, 1), batch=2, classes=5)
    assert list(ratios.columns) == ["size", "seed", "ratio"] and len(ratios) == 4
    assert (ratios["ratio"] > 0).all()
    table = gradient_ratio_table(ratios)
    assert list(table.index) == [9, 17] and (table["n"] == 2).all()
    assert table.loc[17, "mean / largest size"] == 1.0
    assert table.loc[9, "relative std"] == pytest.approx(table.loc[9, "std"] / table.loc[9, "mean"])


@pytest.mark.slow
def test_icsd_gradient_ratio_is_what_the_weights_module_states():
    """Recomputes the paper-variant conversion at (6, 21, 513, 513) on seeds 0-2 (~30 s)."""
    assert icsd_gradient_ratio() == pytest.approx(weights.ICSD_GRADIENT_RATIO, rel=0.01)
