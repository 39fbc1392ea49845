"""The CPU-options benchmark measures what it says: the vmapped step is the per-seed SGD step, and
both loading paths give batches (no timing asserted)."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import torch
from torch import nn
from torch.func import replace_all_batch_norm_modules_

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_cpu_options  # noqa: E402

from aicsd.data import make_synthetic  # noqa: E402
from aicsd.models import build_segmenter  # noqa: E402


def _without_dropout(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    return model


def test_the_vmapped_step_updates_each_seed_as_its_own_sgd_step():
    images, target = bench_cpu_options.fixed_batch(2, 32, 5)
    models = []
    for seed in range(2):
        torch.manual_seed(seed)
        models.append(_without_dropout(build_segmenter("resnet18", 5, width_multiplier=0.125).train()))
    alone = [replace_all_batch_norm_modules_(copy.deepcopy(model)) for model in models]
    together, params = bench_cpu_options.vmapped_step([copy.deepcopy(model) for model in models], lr=0.01)
    for model in alone:
        bench_cpu_options.eager_step(model, lr=0.01)(images, target)
    together(images, target)
    for index, model in enumerate(alone):
        for name, value in model.named_parameters():
            assert torch.allclose(params[name][index], value, atol=1e-5), name


def test_both_loading_paths_give_a_batch(tmp_path):
    data = make_synthetic(tmp_path / "data", num_train=4, num_val=1, num_test=1, image_size=(32, 40))
    options = bench_cpu_options.decode_options(data, batch=2, crop=16, scale_range=(0.75, 1.25), eval_size=32)
    assert set(options) == {"files", "memory"}
    for load in options.values():
        load()
