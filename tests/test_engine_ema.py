"""The weights' moving average (``ema_decay``): the average torch defines, evaluated, resumable."""

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from aicsd.data import make_synthetic
from aicsd.engine import evaluate_run, load_profile, run_dir, train_teacher
from aicsd.engine import fit as fit_module
from aicsd.engine.checkpoint import evaluated_weights, load_checkpoint
from aicsd.engine.ema import WeightAverage
from aicsd.errors import ConfigError


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return make_synthetic(tmp_path_factory.mktemp("synthetic"), num_train=16, num_val=6, num_test=5, image_size=(32, 48))


def _config(data_root, output_dir, **overrides):
    values = dict(data_root=str(data_root), output_dir=str(output_dir), device="cpu", quiet=True, epochs=2, kind="teacher")
    return load_profile("smoke", **{**values, **overrides})


def test_the_average_follows_the_formula_over_parameters_and_buffers():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    average = WeightAverage(model, decay=0.9)
    expected = {name: value.detach().clone().double() for name, value in model.state_dict().items() if value.is_floating_point()}
    average.update(model)  # the first update copies
    for _ in range(3):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(torch.randn_like(parameter))
            model(torch.randn(4, 3))  # moves the BatchNorm statistics
        average.update(model)
        for name, value in model.state_dict().items():
            if value.is_floating_point():
                expected[name] = 0.9 * expected[name] + 0.1 * value.double()
    weights = average.weights()
    for name, value in expected.items():
        torch.testing.assert_close(weights[name].double(), value, rtol=1e-6, atol=1e-6)
    assert average.updates == 4
    reference = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)
    assert set(reference.module.state_dict()) == set(weights)


def test_a_run_with_a_moving_average_is_evaluated_with_it(tiny_data, tmp_path):
    cfg = _config(tiny_data, tmp_path, ema_decay=0.5)
    result = train_teacher(cfg)
    state = load_checkpoint(run_dir(cfg) / "checkpoint.pt")
    assert state["ema_updates"] > 0
    assert any(not torch.equal(state["ema"][name], state["model"][name]) for name in state["model"] if state["model"][name].is_floating_point())
    assert evaluated_weights(state) is state["ema"]
    again = evaluate_run(run_dir(cfg), device="cpu")
    assert again["miou"] == pytest.approx(result["final"]["miou"])
    plain_cfg = _config(tiny_data, tmp_path)
    plain = train_teacher(plain_cfg)
    plain_state = load_checkpoint(run_dir(plain_cfg) / "checkpoint.pt")
    assert plain_state["ema"] is None and evaluated_weights(plain_state) is plain_state["model"]
    assert plain["run_id"] != result["run_id"]


class _Stop(Exception):
    pass


def test_a_resumed_run_ends_with_the_same_average(tiny_data, tmp_path, monkeypatch):
    whole = _config(tiny_data, tmp_path / "whole", ema_decay=0.5)
    train_teacher(whole)
    interrupted = _config(tiny_data, tmp_path / "interrupted", ema_decay=0.5)
    original = fit_module.train_one_epoch

    def stop_at_second_epoch(*args, epoch, **kwargs):
        if epoch == 1:
            raise _Stop
        return original(*args, epoch=epoch, **kwargs)

    monkeypatch.setattr(fit_module, "train_one_epoch", stop_at_second_epoch)
    with pytest.raises(_Stop):
        train_teacher(interrupted)
    monkeypatch.setattr(fit_module, "train_one_epoch", original)
    train_teacher(interrupted)
    a = load_checkpoint(run_dir(whole) / "checkpoint.pt")
    b = load_checkpoint(run_dir(interrupted) / "checkpoint.pt")
    assert a["ema_updates"] == b["ema_updates"]
    for name in a["ema"]:
        torch.testing.assert_close(a["ema"][name], b["ema"][name], rtol=0, atol=0)


@pytest.mark.parametrize("decay", [-0.1, 1.0, float("nan")])
def test_a_decay_outside_0_1_is_refused_naming_the_field(decay):
    with pytest.raises(ConfigError, match="ema_decay"):
        load_profile("smoke", ema_decay=decay)
