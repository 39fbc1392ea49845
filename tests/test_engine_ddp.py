"""DDP: two CPU processes with gloo train one smoke run; ranks agree and metrics are all-reduced."""

import json

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from aicsd.data import make_synthetic
from aicsd.engine import evaluate_run, load_profile, read_metrics, run_dir
from aicsd.metrics import SegmentationMetrics

WORLD_SIZE = 2


def _config(data_root, output_dir):
    # eval batch 1: padded batches of differently sized images would make the logits (ASPP's global
    # pooling sees the padding) depend on how the val images are split between processes
    return load_profile(
        "smoke",
        kind="teacher",
        data_root=str(data_root),
        output_dir=str(output_dir),
        device="cpu",
        quiet=True,
        val_limit=None,
        eval_batch_size=1,
    )


def _worker(rank, init_file, data_root, output_dir, report_dir):
    import aicsd.engine.fit as fit_module
    from aicsd.engine import train_teacher

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE)
    try:
        metrics = SegmentationMetrics(2, device="cpu")
        metrics.update(torch.tensor([[[rank, 1]]]), torch.tensor([[[0, 1]]]))
        metrics.all_reduce()
        report = {"confusion": metrics.confusion.tolist()}

        original = fit_module.evaluate

        def recording_evaluate(model, *args, **kwargs):
            metrics = original(model, *args, **kwargs)
            if "val" not in report:  # the epoch's validation, not the final test-split evaluation
                report["weights"] = [float(t.detach().double().sum()) for t in model.state_dict().values()]
                report["val"] = metrics
            return metrics

        fit_module.evaluate = recording_evaluate
        report["result_miou"] = train_teacher(_config(data_root, output_dir))["final"]["miou"]
        (report_dir / f"rank{rank}.json").write_text(json.dumps(report))
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_agree_and_all_reduce_metrics(tmp_path):
    data_root = make_synthetic(tmp_path / "data", num_train=16, num_val=5, image_size=(32, 48))
    output_dir, report_dir = tmp_path / "runs", tmp_path / "reports"
    report_dir.mkdir()
    mp.spawn(
        _worker,
        args=(str(tmp_path / "store"), data_root, output_dir, report_dir),
        nprocs=WORLD_SIZE,
        join=True,
    )
    reports = [json.loads((report_dir / f"rank{rank}.json").read_text()) for rank in range(WORLD_SIZE)]
    # confusion matrices summed over ranks: rank 0 counts (0->0, 1->1), rank 1 (0->1, 1->1)
    assert reports[0]["confusion"] == reports[1]["confusion"] == [[1, 1], [0, 2]]
    assert reports[0]["weights"] == reports[1]["weights"]
    assert json.dumps(reports[0]["val"]) == json.dumps(reports[1]["val"])
    # each rank evaluated half of the 5 val images; the all-reduced metrics cover all of them
    cfg = _config(data_root, output_dir)
    single = evaluate_run(run_dir(cfg), device="cpu")
    assert reports[0]["val"]["miou"] == pytest.approx(single["miou"])
    assert reports[0]["result_miou"] == reports[1]["result_miou"] == pytest.approx(single["miou"])
    # rank 0 alone wrote the run files
    assert [record["epoch"] for record in read_metrics(run_dir(cfg))] == [0]
    assert json.loads((run_dir(cfg) / "result.json").read_text())["world_size"] == WORLD_SIZE
