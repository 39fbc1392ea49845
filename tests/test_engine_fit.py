"""End-to-end runs of the smoke profile on a tiny generated dataset: resume, determinism, run store."""

import json

import pytest
import torch

from aicsd.data import make_synthetic
from aicsd.engine import (
    distill,
    evaluate_run,
    load_profile,
    read_metrics,
    run_dir,
    teacher_config,
    train_teacher,
)
from aicsd.engine import fit as fit_module
from aicsd.engine.checkpoint import load_checkpoint
from aicsd.losses import Distiller


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    return make_synthetic(root, num_train=16, num_val=6, num_test=5, image_size=(32, 48))


def _config(data_root, output_dir, **overrides):
    values = dict(data_root=str(data_root), output_dir=str(output_dir), device="cpu", quiet=True, epochs=2)
    values.update(overrides)
    return load_profile("smoke", **values)


def _same(a, b):
    """Equality that treats NaN (absent classes) as equal to NaN."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _weights(cfg):
    return load_checkpoint(run_dir(cfg) / "checkpoint.pt")["model"]


class _Stop(Exception):
    """Stands in for a run killed between epochs."""


def test_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(tiny_data, tmp_path, monkeypatch):
    whole = _config(tiny_data, tmp_path / "whole", kind="teacher")
    whole_result = train_teacher(whole)

    interrupted = _config(tiny_data, tmp_path / "interrupted", kind="teacher")
    original = fit_module.train_one_epoch

    def stop_at_second_epoch(*args, epoch, **kwargs):
        if epoch == 1:
            raise _Stop
        return original(*args, epoch=epoch, **kwargs)

    monkeypatch.setattr(fit_module, "train_one_epoch", stop_at_second_epoch)
    with pytest.raises(_Stop):
        train_teacher(interrupted)
    assert load_checkpoint(run_dir(interrupted) / "checkpoint.pt")["epoch"] == 0
    assert not (run_dir(interrupted) / "result.json").exists()
    torch.manual_seed(1234)  # the resumed run must not depend on the caller's RNG state
    monkeypatch.setattr(fit_module, "train_one_epoch", original)
    resumed_result = train_teacher(interrupted)

    resumed, reference = _weights(interrupted), _weights(whole)
    assert resumed.keys() == reference.keys()
    for name in reference:
        assert torch.equal(resumed[name], reference[name]), name
    assert _same(resumed_result["final"], whole_result["final"])
    assert [record["epoch"] for record in read_metrics(run_dir(interrupted))] == [0, 1]


def test_same_seed_gives_the_same_metrics_and_another_seed_does_not(tiny_data, tmp_path):
    first = train_teacher(_config(tiny_data, tmp_path / "a", kind="teacher", epochs=1))
    second = train_teacher(_config(tiny_data, tmp_path / "b", kind="teacher", epochs=1))
    other = train_teacher(_config(tiny_data, tmp_path / "c", kind="teacher", epochs=1, seed=1))
    assert _same(first["final"], second["final"])
    assert not _same(first["final"]["per_class_iou"], other["final"]["per_class_iou"])


def _initial_weights_and_first_batch(cfg, monkeypatch):
    """The student's weights and first training batch as the run starts its first epoch."""
    seen = {}

    def capture(student, distiller, optimizer, scheduler, loader, **kwargs):
        seen["weights"] = {name: value.clone() for name, value in student.state_dict().items()}
        seen["images"] = next(iter(loader))[0].clone()
        raise _Stop

    monkeypatch.setattr(fit_module, "train_one_epoch", capture)
    with pytest.raises(_Stop):
        distill(cfg)
    return seen["weights"], seen["images"]


def test_init_seed_shares_the_initial_weights_and_leaves_the_data_to_the_seed(tiny_data, tmp_path, monkeypatch):
    runs = {
        name: _initial_weights_and_first_batch(_config(tiny_data, tmp_path / name, seed=seed, init_seed=init_seed), monkeypatch)
        for name, seed, init_seed in (("a", 0, 7), ("b", 1, 7), ("c", 1, 8), ("d", 1, None))
    }
    (a_weights, a_images), (b_weights, b_images) = runs["a"], runs["b"]
    assert a_weights.keys() == b_weights.keys()
    assert all(torch.equal(a_weights[name], b_weights[name]) for name in a_weights)
    assert not torch.equal(a_images, b_images)
    c_weights, c_images = runs["c"]
    assert not all(torch.equal(b_weights[name], c_weights[name]) for name in b_weights)
    assert torch.equal(b_images, c_images)
    d_weights, _ = runs["d"]
    assert not all(torch.equal(b_weights[name], d_weights[name]) for name in b_weights)


def test_finished_run_is_returned_from_the_store_without_training(tiny_data, tmp_path, monkeypatch):
    cfg = _config(tiny_data, tmp_path, kind="teacher", epochs=1)
    result = train_teacher(cfg)
    stored = json.loads((run_dir(cfg) / "result.json").read_text())
    assert stored["run_id"] == run_dir(cfg).name and stored["tables_use"] == "final"
    assert stored["final"]["epoch"] == 0 and stored["best"]["epoch"] == 0
    assert stored["environment"]["packages"]["torch"]

    def fail(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(fit_module, "train_one_epoch", fail)
    assert _same(train_teacher(cfg)["final"], result["final"])


def test_distill_logs_every_term_and_the_alw_alpha(tiny_data, tmp_path):
    student = _config(tiny_data, tmp_path, method="aicsd")
    with pytest.raises(FileNotFoundError, match="has not finished; train it first"):
        distill(student)
    train_teacher(teacher_config(student))
    result = distill(student)
    records = read_metrics(run_dir(student))
    assert [record["alpha"] for record in records] == [0.0, 0.5]
    assert {"train_ce", "train_kd", "train_icsd", "train_loss", "lr", "val_miou"} <= set(records[0])
    assert records[0]["train_ce"] == 0.0  # ALW: alpha = 0 leaves only KD in the first epoch
    assert records[1]["lr"] < records[0]["lr"]
    assert result["teacher_checkpoint"] == str(run_dir(teacher_config(student)) / "checkpoint.pt")


def test_evaluate_run_reproduces_the_final_metrics(tiny_data, tmp_path):
    cfg = _config(tiny_data, tmp_path, kind="teacher", epochs=1)
    result = train_teacher(cfg)
    metrics = evaluate_run(run_dir(cfg), device="cpu")
    assert metrics["miou"] == pytest.approx(result["final"]["miou"])
    assert metrics["epoch"] == 0 and metrics["eval_mode"] == "released"
    full = evaluate_run(cfg, eval_mode="full", device="cpu")
    assert full["eval_mode"] == "full"


def test_final_weights_are_evaluated_on_the_held_out_test_split(tiny_data, tmp_path):
    cfg = _config(tiny_data, tmp_path, kind="teacher", epochs=1)
    assert cfg.test_split == "test"
    result = train_teacher(cfg)
    held_out = evaluate_run(run_dir(cfg), split="test", device="cpu")
    assert result["test"]["split"] == "test"
    assert result["test"]["miou"] == pytest.approx(held_out["miou"])
    assert result["test"]["miou"] != result["final"]["miou"]
    assert load_profile("smoke", dataset="voc").test_split is None


def test_non_finite_loss_names_step_terms_and_last_checkpoint(tiny_data, tmp_path, monkeypatch):
    original = fit_module.train_one_epoch

    def explode_in_second_epoch(*args, epoch, **kwargs):
        if epoch == 1:
            monkeypatch.setattr(Distiller, "forward", lambda self, *a, **k: {"ce": torch.tensor(1.0), "loss": torch.tensor(float("nan"))})
        return original(*args, epoch=epoch, **kwargs)

    monkeypatch.setattr(fit_module, "train_one_epoch", explode_in_second_epoch)
    cfg = _config(tiny_data, tmp_path, kind="teacher")
    with pytest.raises(RuntimeError, match=r"epoch 1 step 0: terms \{'ce'.*last good checkpoint: .*checkpoint.pt \(after epoch 0\)"):
        train_teacher(cfg)


def test_wrong_kind_is_rejected(tiny_data, tmp_path):
    with pytest.raises(ValueError, match="kind='teacher'"):
        train_teacher(_config(tiny_data, tmp_path))
    with pytest.raises(ValueError, match="kind='student'"):
        distill(_config(tiny_data, tmp_path, kind="teacher"))

