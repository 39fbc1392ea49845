"""Runs trained without their test evaluation (the weight sweep) and the evaluation added later:
the same numbers as a run that evaluated test at its end, and no table reads a run without them."""

import json

import pytest

from aicsd.data import make_synthetic
from aicsd.engine import distill, load_profile, read_result, run_dir
from aicsd.engine.runstore import lacks_test_metrics
from aicsd.study.experiments import LabelledRun, collect, run_all


@pytest.fixture(scope="module")
def fields(tmp_path_factory):
    root = tmp_path_factory.mktemp("deferred")
    data = make_synthetic(root / "data", num_train=8, num_val=4, num_test=4, image_size=(32, 40))
    return {"data_root": str(data), "device": "cpu", "quiet": True}


def _plain(fields, output_dir):
    return load_profile("smoke", **fields, output_dir=str(output_dir), method="none", backbone="resnet18")


def test_a_deferred_test_evaluation_gives_the_numbers_of_an_immediate_one(fields, tmp_path):
    at_end, deferred = _plain(fields, tmp_path / "at_end"), _plain(fields, tmp_path / "deferred")
    expected = distill(at_end)["test"]
    skipped = distill(deferred, evaluate_test=False)
    assert "test" not in skipped and lacks_test_metrics(deferred, skipped)
    assert "test" not in json.loads((run_dir(deferred) / "result.json").read_text())
    assert "test" not in distill(deferred, evaluate_test=False)  # asked again without test: nothing to do
    added = distill(deferred)["test"]
    assert json.dumps(added, sort_keys=True) == json.dumps(expected, sort_keys=True)  # absent classes' NaN IoUs compare as text
    stored = read_result(run_dir(deferred))
    assert json.dumps(stored["test"], sort_keys=True) == json.dumps(expected, sort_keys=True) and not lacks_test_metrics(deferred, stored)
    assert json.dumps(stored["final"], sort_keys=True) == json.dumps(skipped["final"], sort_keys=True)


def test_collect_refuses_a_run_without_its_test_metrics_until_run_all_adds_them(fields, tmp_path):
    runs = [LabelledRun("sweep", "none", _plain(fields, tmp_path))]
    run_all(runs, workers=1, test=False)
    on_val = collect(runs, test=False)
    assert list(on_val["split"]) == ["val"] and on_val["miou"].iloc[0] == on_val["val_miou"].iloc[0]
    with pytest.raises(FileNotFoundError, match="without its test evaluation.*call run_all"):
        collect(runs)
    run_all(runs, workers=1)
    reported = collect(runs)
    assert list(reported["split"]) == ["test"] and reported["miou"].iloc[0] == reported["test_miou"].iloc[0]
    assert list(collect(runs, test=False)["split"]) == ["val"]  # a sweep stays read on val


def test_a_run_without_a_test_split_is_never_pending(fields, tmp_path):
    config = load_profile("smoke", **fields, output_dir=str(tmp_path), method="none", backbone="resnet18", test_split=None)
    result = distill(config, evaluate_test=False)
    assert result["test"] is None and not lacks_test_metrics(config, result)
