"""Atomic writes, weights_only checkpoints and RNG state round trips."""

import json
import random

import numpy as np
import pytest
import torch

from aicsd.engine.checkpoint import (
    atomic_write,
    atomic_write_bytes,
    atomic_write_json,
    capture_rng_state,
    creation_mode,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from aicsd.errors import CorruptFileError


class _Killed(Exception):
    """Stands in for a process killed in the middle of a write."""


def test_interrupted_write_leaves_previous_file_intact(tmp_path):
    target = tmp_path / "state.bin"
    atomic_write_bytes(target, b"previous")

    def writer(handle):
        handle.write(b"half of the new")
        raise _Killed

    with pytest.raises(_Killed):
        atomic_write(target, writer)
    assert target.read_bytes() == b"previous"
    assert [path.name for path in tmp_path.iterdir()] == ["state.bin"]


def test_interrupted_checkpoint_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, epoch=1, model={"w": torch.ones(3)})

    def broken_save(obj, handle):
        handle.write(b"torn")
        raise _Killed

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(_Killed):
        save_checkpoint(path, epoch=2, model={"w": torch.zeros(3)})
    monkeypatch.undo()
    state = load_checkpoint(path)
    assert state["epoch"] == 1 and torch.equal(state["model"]["w"], torch.ones(3))


def test_atomic_json_is_strict_json_with_null_for_nan(tmp_path):
    atomic_write_json(tmp_path / "a" / "result.json", {"miou": 0.5, "per_class": [1.0, float("nan")], "x": (float("inf"),)})
    text = (tmp_path / "a" / "result.json").read_text()
    loaded = json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name}"))
    assert loaded == {"miou": 0.5, "per_class": [1.0, None], "x": [None]}


class _RunsCode:
    def __reduce__(self):
        return (print, ("this ran",))


def test_a_checkpoint_holding_code_is_refused_without_torchs_advice(tmp_path):
    path = tmp_path / "c.pt"
    torch.save({"model": _RunsCode(), "epoch": 0}, path)
    with pytest.raises(CorruptFileError, match=f"{path} is not a checkpoint saved by aicsd training: .*never loaded") as error:
        load_checkpoint(path)
    assert "\x1b" not in str(error.value) and "weights_only" not in str(error.value) and "trusted" not in str(error.value)
    path.write_bytes(b"garbage")
    with pytest.raises(CorruptFileError, match=rf"{path} is not a readable checkpoint \(not a file written by torch.save\)$"):
        load_checkpoint(path)


def test_checkpoint_loads_with_weights_only_and_holds_training_state(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / 10)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    scheduler.step()
    save_checkpoint(
        tmp_path / "c.pt",
        model=model.state_dict(),
        optimizer=optimizer.state_dict(),
        scheduler=scheduler.state_dict(),
        epoch=3,
        progress={"best": {"miou": 0.25}},
    )
    state = load_checkpoint(tmp_path / "c.pt")
    assert state["epoch"] == 3 and state["progress"]["best"]["miou"] == 0.25
    assert torch.equal(state["model"]["weight"], model.weight)
    assert state["optimizer"]["state"][0]["momentum_buffer"].shape == (2, 3)
    assert state["scheduler"]["last_epoch"] == 1
    assert set(state["rng"]) >= {"python", "numpy", "torch"}


def test_rng_state_round_trip():
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    np.random.standard_normal()  # leaves a cached gaussian in the legacy state
    state = capture_rng_state()
    expected = (random.random(), np.random.standard_normal(), torch.rand(2))
    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)
    restore_rng_state(state)
    assert random.random() == expected[0]
    assert np.random.standard_normal() == expected[1]
    assert torch.equal(torch.rand(2), expected[2])


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        load_checkpoint(tmp_path / "nothing.pt")


@pytest.mark.parametrize("damage", [lambda data: data[: len(data) // 2], lambda data: b"", lambda data: b"garbage"])
def test_an_unreadable_checkpoint_is_named(tmp_path, damage):
    path = tmp_path / "c.pt"
    save_checkpoint(path, epoch=1, model={"w": torch.ones(3)})
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CorruptFileError, match=f"{path} is not a readable checkpoint") as error:
        load_checkpoint(path)
    assert error.value.path == path


def test_atomic_writes_get_the_permissions_of_a_created_file(tmp_path):
    atomic_write_bytes(tmp_path / "a", b"x")
    with open(tmp_path / "b", "w"):
        pass
    assert (tmp_path / "a").stat().st_mode & 0o777 == (tmp_path / "b").stat().st_mode & 0o777 == creation_mode()
