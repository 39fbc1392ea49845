"""The provenance record: the fields a second machine needs to tell what moved."""

import torch

from aicsd.data import make_synthetic
from aicsd.data.digest import content_digest
from aicsd.study.provenance import cpu_model, provenance


def test_cpu_model_names_the_processor():
    assert isinstance(cpu_model(), str) and cpu_model()


def test_provenance_names_the_machine_the_packages_and_the_data(tmp_path):
    root = make_synthetic(tmp_path / "synthetic", num_train=4, num_val=2, num_test=2, image_size=(32, 40))
    record = provenance({"profile": "smoke", "dataset": "synthetic", "data_root": str(root), "device": "cpu"})
    assert record["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert {"torch", "numpy", "pillow"} <= set(record["packages"])
    assert record["data_digest"] == content_digest(root)
    assert len(record["data_fingerprint"]) == 64
    assert record["gpu"] is None and record["profile"] == "smoke"


def test_provenance_records_the_onednn_instruction_set_limit(tmp_path, monkeypatch):
    parameters = {"profile": "smoke", "dataset": "camvid", "data_root": str(tmp_path / "absent"), "device": "cpu"}
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert provenance(parameters)["onednn_max_isa"] is None
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "SSE41")
    assert provenance(parameters)["onednn_max_isa"] == "SSE41"


def test_data_that_is_not_there_is_unknown_not_an_error(tmp_path):
    record = provenance({"profile": "smoke", "dataset": "camvid", "data_root": str(tmp_path / "absent"), "device": "cpu"})
    assert record["data_fingerprint"] is None and record["data_digest"] is None
