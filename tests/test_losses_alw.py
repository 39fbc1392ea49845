"""ALW's alpha in both forms against hand-computed schedules, and the term multipliers."""

import pytest

from aicsd.losses import ALW_FORMS, alw_alpha, alw_multiplier


def test_epoch_form_is_the_released_schedule():
    alphas = [alw_alpha("epoch", epoch=e, total_epochs=4, step=0, total_steps=1) for e in range(4)]
    assert alphas == [0.0, 0.25, 0.5, 0.75]


def test_step_form_runs_from_zero_to_one_over_the_optimiser_steps():
    steps_per_epoch, epochs = 5, 2
    total = steps_per_epoch * epochs
    alphas = [
        alw_alpha("step", epoch=step // steps_per_epoch, total_epochs=epochs, step=step, total_steps=total)
        for step in range(total)
    ]
    assert alphas == pytest.approx([0, 1 / 9, 2 / 9, 3 / 9, 4 / 9, 5 / 9, 6 / 9, 7 / 9, 8 / 9, 1])
    assert alw_alpha("step", epoch=0, total_epochs=1, step=0, total_steps=1) == 1.0


def test_off_and_multipliers():
    assert alw_alpha("off", epoch=3, total_epochs=4, step=0, total_steps=1) is None
    assert alw_multiplier(None, fades_in=True) == alw_multiplier(None, fades_in=False) == 1.0
    assert alw_multiplier(0.25, fades_in=True) == 0.25
    assert alw_multiplier(0.25, fades_in=False) == 0.75
    assert ALW_FORMS == ("off", "epoch", "step")


@pytest.mark.parametrize(
    ("form", "kwargs", "match"),
    [
        ("weekly", {"epoch": 0, "total_epochs": 1, "step": 0, "total_steps": 1}, "unknown ALW form"),
        ("epoch", {"epoch": 4, "total_epochs": 4, "step": 0, "total_steps": 1}, "epoch must lie"),
        ("step", {"epoch": 0, "total_epochs": 1, "step": 10, "total_steps": 10}, "step must lie"),
    ],
)
def test_out_of_range_counters_are_refused(form, kwargs, match):
    with pytest.raises(ValueError, match=match):
        alw_alpha(form, **kwargs)
