"""The run store under kills, concurrent processes, another dataset, empty splits and corrupt files.

Kills are real: a child process (``python -c``) trains with a hook that SIGKILLs it at the point
under test, and this process resumes the run.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from aicsd.data import make_synthetic
from aicsd.data import synthetic
from aicsd.engine import distill, evaluate_run, load_network, load_profile, read_metrics, run_dir, run_id, train_teacher
from aicsd.engine import fit as fit_module
from aicsd.engine import runstore
from aicsd.engine.checkpoint import creation_mode
from aicsd.errors import CorruptFileError, DataError


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    return make_synthetic(root, num_train=16, num_val=6, num_test=5, image_size=(32, 48))


def _fields(data_root, output_dir, **overrides):
    values = dict(kind="teacher", data_root=str(data_root), output_dir=str(output_dir), device="cpu", quiet=True, epochs=2)
    values.update(overrides)
    return values


def _child(script, fields, *args, **popen):
    """Start ``python -c script`` with the run's config fields as its first argument."""
    return subprocess.Popen([sys.executable, "-c", script, json.dumps(fields), *map(str, args)], **popen)


_KILL_AFTER_METRICS_LINE = """
import json, os, signal, sys
from aicsd.engine import load_profile, runstore, train_teacher
append = runstore.append_metrics

def append_then_die(directory, record):
    append(directory, record)
    if record["epoch"] == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)  # after the metrics line, before the checkpoint

runstore.append_metrics = append_then_die
train_teacher(load_profile("smoke", **json.loads(sys.argv[1])))
"""


def _epochs(cfg):
    return [record["epoch"] for record in read_metrics(run_dir(cfg))]


@pytest.mark.parametrize("killed_in", [0, 1])
def test_a_run_killed_between_its_metrics_line_and_its_checkpoint_resumes_with_each_epoch_once(tiny_data, tmp_path, killed_in):
    fields = _fields(tiny_data, tmp_path, epochs=3)
    cfg = load_profile("smoke", **fields)
    child = _child(_KILL_AFTER_METRICS_LINE, fields, killed_in)
    assert child.wait(timeout=300) == -signal.SIGKILL
    assert _epochs(cfg) == list(range(killed_in + 1))  # the line of the epoch that has no checkpoint
    assert (run_dir(cfg) / "checkpoint.pt").exists() == (killed_in > 0)

    result = train_teacher(cfg)  # the dead child's lock is gone with it
    assert _epochs(cfg) == [0, 1, 2]
    assert result["epochs_done"] == 3


class _Stop(Exception):
    """Stands in for a run stopped between epochs."""


def _stop_at(monkeypatch, stop_epoch):
    original = fit_module.train_one_epoch

    def stop(*args, epoch, **kwargs):
        if epoch == stop_epoch:
            raise _Stop
        return original(*args, epoch=epoch, **kwargs)

    monkeypatch.setattr(fit_module, "train_one_epoch", stop)


def test_deleting_the_checkpoint_of_an_unfinished_run_starts_its_metrics_over(tiny_data, tmp_path, monkeypatch):
    cfg = load_profile("smoke", **_fields(tiny_data, tmp_path, epochs=3))
    _stop_at(monkeypatch, 2)
    with pytest.raises(_Stop):
        train_teacher(cfg)
    monkeypatch.undo()
    assert _epochs(cfg) == [0, 1]
    (run_dir(cfg) / "checkpoint.pt").unlink()
    train_teacher(cfg)
    assert _epochs(cfg) == [0, 1, 2]


def test_a_torn_last_metrics_line_is_left_out_and_removed_on_resume(tiny_data, tmp_path, monkeypatch):
    cfg = load_profile("smoke", **_fields(tiny_data, tmp_path))
    _stop_at(monkeypatch, 1)
    with pytest.raises(_Stop):
        train_teacher(cfg)
    monkeypatch.undo()
    metrics = run_dir(cfg) / "metrics.jsonl"
    with open(metrics, "a") as handle:
        handle.write('{"epoch": 1, "lr": 0.0')  # a write cut short by a kill
    assert _epochs(cfg) == [0]
    train_teacher(cfg)
    assert _epochs(cfg) == [0, 1]
    assert metrics.read_text().endswith("}\n")


def test_a_garbled_metrics_line_is_reported_with_the_file_and_line(tmp_path):
    runstore.append_metrics(tmp_path, {"epoch": 0})
    with open(tmp_path / "metrics.jsonl", "a") as handle:
        handle.write("garbage\n")
    runstore.append_metrics(tmp_path, {"epoch": 1})
    with pytest.raises(CorruptFileError, match=r"metrics.jsonl is corrupt .*line 2.*delete the run folder") as error:
        runstore.read_metrics(tmp_path)
    assert error.value.path == tmp_path / "metrics.jsonl"


_SLOW_TEACHER = """
import json, os, sys, time
from pathlib import Path
from aicsd.engine import fit, load_profile, train_teacher
log, go = Path(sys.argv[2]), Path(sys.argv[3])
original = fit.train_one_epoch

def logged(*args, epoch, **kwargs):
    with open(log, "a") as handle:
        handle.write(f"{os.getpid()} {epoch}\\n")
    while not go.exists():
        time.sleep(0.05)
    return original(*args, epoch=epoch, **kwargs)

fit.train_one_epoch = logged
result = train_teacher(load_profile("smoke", **json.loads(sys.argv[1])))
print(json.dumps({"run_id": result["run_id"], "wall_time_s": result["wall_time_s"]}))
"""


def _wait_for(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_two_processes_on_one_run_train_it_once(tiny_data, tmp_path):
    fields = _fields(tiny_data, tmp_path / "runs")
    log, go, waiting = tmp_path / "trained.log", tmp_path / "go", tmp_path / "second.err"
    first = _child(_SLOW_TEACHER, fields, log, go, stdout=subprocess.PIPE, text=True)
    _wait_for(lambda: log.exists() and log.read_text())  # the first holds the run's lock
    with open(waiting, "w") as stderr:
        second = _child(_SLOW_TEACHER, fields, log, go, stdout=subprocess.PIPE, stderr=stderr, text=True)
        _wait_for(lambda: "is being trained by process" in waiting.read_text())
    go.touch()
    outputs = [json.loads(process.communicate(timeout=300)[0]) for process in (first, second)]
    assert first.returncode == second.returncode == 0
    assert f"process {first.pid}" in waiting.read_text()
    assert outputs[0] == outputs[1]
    trained = log.read_text().split()
    assert trained[::2] == [str(first.pid)] * 2 and trained[1::2] == ["0", "1"]
    assert _epochs(load_profile("smoke", **fields)) == [0, 1]


def test_a_held_lock_keeps_other_processes_out_and_names_its_holder(tmp_path):
    announced = []
    with runstore.run_lock(tmp_path / "run"):
        holder = subprocess.Popen(
            [sys.executable, "-c", "import sys, fcntl, os; fd = os.open(sys.argv[1], os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)"],
        )
        assert holder.wait(timeout=60) != 0  # another process cannot take it
    with runstore.run_lock(tmp_path / "run", announce=announced.append):
        assert (tmp_path / "run" / ".lock").read_text().strip() == str(os.getpid())
    assert announced == []


def _small(root, seed):
    return make_synthetic(root, seed=seed, num_train=8, num_val=4, num_test=4, image_size=(32, 40))


def test_another_synthetic_dataset_is_another_run_and_a_moved_one_the_same(tmp_path):
    first = _small(tmp_path / "first", seed=0)
    teacher = load_profile("smoke", kind="teacher", data_root=str(first), output_dir=str(tmp_path / "runs"))
    student = load_profile("smoke", method="kd", data_root=str(first), output_dir=str(tmp_path / "runs"))

    def ids(root):
        return run_id(replace(teacher, data_root=str(root))), run_id(replace(student, data_root=str(root)))

    other = _small(tmp_path / "other", seed=5)
    moved = tmp_path / "moved"
    shutil.copytree(first, moved)
    assert ids(moved) == ids(first)
    assert ids(other)[0] != ids(first)[0] and ids(other)[1] != ids(first)[1]  # the student via its teacher too
    before = ids(first)
    _small(first, seed=5)  # regenerated in place
    assert ids(first) == ids(other) != before
    (first / "VOCdevkit/VOC2012/ImageSets/Segmentation/val.txt").write_text("val_00000\nval_00001\n")
    assert ids(first) != ids(other)  # other split lists

    runstore.write_config(tmp_path, teacher)
    recorded = json.loads((tmp_path / "config.json").read_text())["data"]
    assert recorded["images"] == {"train": 8, "val": 2, "test": 4} and len(recorded["fingerprint"]) == 64
    assert runstore.read_config(tmp_path) == teacher


def test_the_id_of_a_run_on_a_dataset_not_yet_generated_is_that_of_the_generated_one(tmp_path, monkeypatch):
    small = dict(seed=0, num_train=8, num_val=4, num_test=4, image_size=(32, 40))
    monkeypatch.setattr(synthetic, "DEFAULT_PARAMETERS", small)
    cfg = load_profile("smoke", kind="teacher", data_root=str(tmp_path / "data"), output_dir=str(tmp_path))
    before = run_id(cfg)
    assert synthetic.generate_if_absent(tmp_path / "data")
    assert run_id(cfg) == before
    assert not synthetic.generate_if_absent(tmp_path / "data")


@pytest.mark.parametrize("split", ["test", "val", "train"])
def test_an_empty_split_is_an_error_naming_its_list_and_leaves_no_run(tiny_data, tmp_path, split):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    listed = data / f"VOCdevkit/VOC2012/ImageSets/Segmentation/{split}.txt"
    listed.write_text("")
    cfg = load_profile("smoke", **_fields(data, tmp_path / "runs"))
    with pytest.raises(DataError, match=rf"split '{split}' .* has no images \({listed} lists none\)"):
        train_teacher(cfg)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_missing_split_list_is_reported_and_nothing_is_regenerated(tiny_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    (data / "VOCdevkit/VOC2012/ImageSets/Segmentation/test.txt").unlink()
    (data / "VOCdevkit/notes.txt").write_text("mine")
    with pytest.raises(FileNotFoundError, match=r"test.txt is missing; regenerate"):
        train_teacher(load_profile("smoke", **_fields(data, tmp_path / "runs")))
    assert (data / "VOCdevkit/notes.txt").read_text() == "mine"
    assert len(list((data / "VOCdevkit/VOC2012/JPEGImages").iterdir())) == 16 + 6 + 5


def test_a_run_that_fails_before_its_first_checkpoint_leaves_no_folder(tiny_data, tmp_path, monkeypatch):
    cfg = load_profile("smoke", **_fields(tiny_data, tmp_path, batch_size=64))
    with pytest.raises(ValueError, match="smaller than one batch"):
        train_teacher(cfg)
    assert list(tmp_path.iterdir()) == []
    student = load_profile("smoke", **_fields(tiny_data, tmp_path, kind="student", method="kd"))
    with pytest.raises(FileNotFoundError, match="has not finished"):
        distill(student)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def finished(tiny_data, tmp_path_factory):
    """A finished smoke teacher run (copied by the tests that damage it)."""
    cfg = load_profile("smoke", **_fields(tiny_data, tmp_path_factory.mktemp("runs"), epochs=1))
    train_teacher(cfg)
    return cfg


def _copy(cfg, tmp_path):
    copy = replace(cfg, output_dir=str(tmp_path))
    shutil.copytree(run_dir(cfg), run_dir(copy))
    return copy


def test_every_file_of_a_run_gets_the_same_permissions(finished):
    modes = {path.name: path.stat().st_mode & 0o777 for path in run_dir(finished).iterdir()}
    assert set(modes) == {"config.json", "metrics.jsonl", "checkpoint.pt", "result.json", ".lock"}
    assert set(modes.values()) == {creation_mode()}


def test_a_truncated_checkpoint_is_named_with_what_to_do(finished, tmp_path):
    cfg = _copy(finished, tmp_path)
    checkpoint = run_dir(cfg) / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    for read in (lambda: load_network(run_dir(cfg)), lambda: evaluate_run(run_dir(cfg), device="cpu")):
        with pytest.raises(CorruptFileError, match=rf"{checkpoint} is not a readable checkpoint .*delete the run folder"):
            read()
    (run_dir(cfg) / "result.json").unlink()  # an unfinished run cannot resume from it
    with pytest.raises(CorruptFileError, match=rf"{checkpoint} .*delete it to train the run again from its first epoch"):
        train_teacher(cfg)
    checkpoint.unlink()
    assert train_teacher(cfg)["epochs_done"] == 1


@pytest.mark.parametrize("name", ["result.json", "config.json"])
@pytest.mark.parametrize("content", ["", "{not json", '{"x": 1}', "[]"])
def test_a_garbled_json_file_is_named_with_what_to_do(finished, tmp_path, name, content):
    cfg = _copy(finished, tmp_path)
    path = run_dir(cfg) / name
    path.write_text(content)
    read = runstore.read_result if name == "result.json" else runstore.read_config
    with pytest.raises(CorruptFileError, match=rf"{path} is corrupt .*; delete") as error:
        read(run_dir(cfg))
    assert error.value.path == path


def test_a_finished_run_with_a_corrupt_config_is_named_not_reported_done(finished, tmp_path):
    cfg = _copy(finished, tmp_path)
    path = run_dir(cfg) / "config.json"
    path.write_text('{"kind": "teach')
    with pytest.raises(CorruptFileError, match=rf"{path} is corrupt .*; delete the run folder {run_dir(cfg)}"):
        train_teacher(cfg)
    assert path.read_text() == '{"kind": "teach'


def test_a_garbled_result_is_computed_again_from_the_checkpoint(finished, tmp_path):
    cfg = _copy(finished, tmp_path)
    stored = runstore.read_result(run_dir(cfg))
    (run_dir(cfg) / "result.json").write_text("{")
    with pytest.raises(CorruptFileError, match="delete it and rerun"):
        train_teacher(cfg)
    (run_dir(cfg) / "result.json").unlink()
    again = train_teacher(cfg)
    assert again["epochs_done"] == 1
    assert again["final"]["miou"] == stored["final"]["miou"] and again["test"]["miou"] == stored["test"]["miou"]


def test_a_killed_generator_leaves_no_temporary_folder_behind(tmp_path):
    script = (
        "import os, signal, sys\n"
        "from aicsd.data import synthetic\n"
        "render = synthetic.render_sample\n"
        "def die(*args, **kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "synthetic.render_sample = die\n"
        "synthetic.make_synthetic(sys.argv[1], num_train=2, num_val=1, num_test=1)\n"
    )
    child = subprocess.run([sys.executable, "-c", script, str(tmp_path)], timeout=120)
    assert child.returncode == -signal.SIGKILL
    assert [path.name.startswith(".synthetic-") for path in tmp_path.iterdir()] == [True]
    _small(tmp_path, seed=1)
    assert [path.name for path in tmp_path.iterdir()] == ["VOCdevkit"]
