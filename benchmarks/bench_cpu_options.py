"""Three speed-ups point 6 of the mini-scale plan proposed, measured on the ``cpu`` profile's step.

The ``cpu`` reproduction trains many small students, five seeds per table cell, one intra-op thread
per run. Three ways to get more steps per minute were proposed; this benchmark measures each against
the loop as it is, side by side in one process (one thread, timed rounds interleaved so that a
slower moment of the machine hits every option alike):

  decode      loading a batch of 8 training images of the generated dataset (read, check, random
              scale crop and flip): from the PNG/JPEG files, as every run does, vs from images
              decoded once into memory (the same transforms on the kept ``load`` results)
  compile     one student training step (forward, cross entropy, backward, SGD with momentum 0.9
              and weight decay 5e-4), eager vs ``torch.compile`` of the student. The compile time
              of the first step, from an empty compile cache, is recorded apart, since a ``cpu``
              student run is only 250 steps
  vmap        ``--seeds`` students of one network stepped together as one batched model
              (``torch.func.stack_module_state`` + ``vmap`` of ``functional_call``, one SGD over the
              stacked weights, which is the same update seed by seed) vs one eager step per seed.
              BatchNorm cannot update its running statistics inside ``vmap``; the vmapped students
              use batch statistics only (``torch.func.replace_all_batch_norm_modules_``), which
              makes that option slightly cheaper than a usable one would be

Inputs: the generated dataset under ``data/synthetic`` (made if absent) for ``decode``; a fixed
random batch of the ``cpu`` profile's size (8 x 3 x 64 x 64, 21 classes) for the steps. Each
number is the median over ``--rounds`` rounds of ``--steps`` steps (batches), after one warm-up
round; per-step times are per seed for ``vmap``. Ratios are the option's time over the loop's as it
is (below 1 is faster). The record goes to ``benchmarks/results/bench_cpu_options-cpu.json``.

    python benchmarks/bench_cpu_options.py [--rounds N] [--steps N] [--seeds K]
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch._inductor.utils import fresh_cache
from torch.func import functional_call, replace_all_batch_norm_modules_, stack_module_state

from aicsd.data import build_dataset
from aicsd.data.synthetic import generate_if_absent
from aicsd.data.transforms import train_transforms
from aicsd.engine.checkpoint import atomic_write_json
from aicsd.engine.profiles import load_profile
from aicsd.models import build_segmenter
from aicsd.paths import DATA_ROOT

STUDENTS = ("resnet18", "mobilenet_v2")
MOMENTUM, WEIGHT_DECAY = 0.9, 5e-4
IGNORE_INDEX = 255


def median_seconds(work: Callable[[], None], steps: int) -> float:
    """Wall time of ``steps`` calls of ``work`` divided by ``steps``."""
    started = time.perf_counter()
    for _ in range(steps):
        work()
    return (time.perf_counter() - started) / steps


def interleaved(options: dict[str, Callable[[], None]], rounds: int, steps: int) -> dict[str, float]:
    """Median per-call seconds of each option over ``rounds`` rounds (one warm-up round first)."""
    for work in options.values():
        median_seconds(work, 1)
    times: dict[str, list[float]] = {name: [] for name in options}
    for _ in range(rounds):
        for name, work in options.items():
            times[name].append(median_seconds(work, steps))
    return {name: statistics.median(values) for name, values in times.items()}


def decode_options(root: Path, batch: int, crop: int, scale_range: tuple[float, float], eval_size: int) -> dict[str, Callable[[], None]]:
    """Loading one training batch of the generated dataset at ``root`` from the files vs from images
    decoded once into memory."""
    generate_if_absent(root)
    transforms = train_transforms(crop, scale_range=scale_range, base_size=eval_size)
    dataset = build_dataset("synthetic", root, "train", transforms=transforms)
    decoded = [dataset.load(index) for index in range(len(dataset))]
    order = torch.Generator().manual_seed(0)

    def indices() -> list[int]:
        return torch.randint(len(dataset), (batch,), generator=order).tolist()

    def from_files() -> None:
        torch.utils.data.default_collate([dataset[index] for index in indices()])

    def from_memory() -> None:
        torch.utils.data.default_collate([transforms(*decoded[index]) for index in indices()])

    return {"files": from_files, "memory": from_memory}


def fixed_batch(batch: int, crop: int, classes: int) -> tuple[Tensor, Tensor]:
    """Images (B, 3, crop, crop) N(0, 1) and targets (B, crop, crop) with 10 % ignored pixels."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, crop, crop, generator=generator)
    target = torch.randint(classes, (batch, crop, crop), generator=generator)
    target[torch.rand(batch, crop, crop, generator=generator) < 0.1] = IGNORE_INDEX
    return images, target


def eager_step(model: nn.Module, lr: float) -> Callable[[Tensor, Tensor], None]:
    """One training step of ``model`` (images (B, 3, H, W) -> logits (B, C, H, W)) with SGD."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)

    def step(images: Tensor, target: Tensor) -> None:
        loss = nn.functional.cross_entropy(model(images), target, ignore_index=IGNORE_INDEX)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def vmapped_step(models: list[nn.Module], lr: float) -> tuple[Callable[[Tensor, Tensor], None], dict[str, Tensor]]:
    """One step of all ``models`` as one batched model, and the weights it updates: each parameter
    stacked on a leading (K,) axis (K = ``len(models)``)."""
    for model in models:
        replace_all_batch_norm_modules_(model)
    params, buffers = stack_module_state(models)
    skeleton = copy.deepcopy(models[0]).to("meta")
    optimizer = torch.optim.SGD(params.values(), lr=lr, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    count = len(models)

    def forward(weights: dict[str, Tensor], state: dict[str, Tensor], images: Tensor) -> Tensor:
        return functional_call(skeleton, (weights, state), (images,))

    batched = torch.vmap(forward, in_dims=(0, 0, 0), randomness="different")

    def step(images: Tensor, target: Tensor) -> None:
        stacked = images.unsqueeze(0).expand(count, *images.shape)
        logits = batched(params, buffers, stacked)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), target.repeat(count, 1, 1), ignore_index=IGNORE_INDEX)
        (loss * count).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step, params


def step_options(backbone: str, seeds: int, batch: int, crop: int, classes: int, width: float, lr: float) -> tuple[dict[str, Callable[[], None]], float]:
    """Eager, compiled and vmapped steps of ``backbone`` (all per seed), and the compile seconds."""
    images, target = fixed_batch(batch, crop, classes)

    def student(seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return build_segmenter(backbone, classes, width_multiplier=width).train()

    eager = [eager_step(student(seed), lr) for seed in range(seeds)]
    compiled_model = torch.compile(student(0))
    compiled = eager_step(compiled_model, lr)
    started = time.perf_counter()
    with fresh_cache():  # an empty compile cache, as on a fresh machine
        compiled(images, target)
    compile_s = time.perf_counter() - started
    together, _ = vmapped_step([student(seed) for seed in range(seeds)], lr)

    def one_eager_per_seed() -> None:
        for step in eager:
            step(images, target)

    def one_vmapped_step() -> None:
        together(images, target)

    options = {
        "eager": lambda: eager[0](images, target),
        "compile": lambda: compiled(images, target),
        "eager_all_seeds": one_eager_per_seed,
        "vmap_all_seeds": one_vmapped_step,
    }
    return options, compile_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per option (median taken)")
    parser.add_argument("--steps", type=int, default=10, help="steps (or batches) per round")
    parser.add_argument("--seeds", type=int, default=5, help="students stepped together by vmap")
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT / "synthetic", help="the generated dataset (made if absent)")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg = load_profile("cpu", kind="student", dataset="synthetic")
    shape = {"batch": cfg.batch_size, "crop": cfg.crop_size, "classes": cfg.num_classes, "width": cfg.width_multiplier}

    decode = interleaved(decode_options(args.data_root, cfg.batch_size, cfg.crop_size, cfg.scale_range, cfg.eval_size), args.rounds, args.steps)
    rows: list[dict[str, Any]] = [
        {"option": "decode", "student": None, "baseline_s": decode["files"], "option_s": decode["memory"], "ratio": decode["memory"] / decode["files"]}
    ]
    print(f"decode: files {decode['files'] * 1e3:.1f} ms/batch, memory {decode['memory'] * 1e3:.1f} ms/batch")
    for backbone in STUDENTS:
        options, compile_s = step_options(backbone, args.seeds, lr=cfg.lr, **shape)
        step = interleaved(options, args.rounds, args.steps)
        per_seed = step["vmap_all_seeds"] / args.seeds, step["eager_all_seeds"] / args.seeds
        rows += [
            {"option": "compile", "student": backbone, "baseline_s": step["eager"], "option_s": step["compile"], "ratio": step["compile"] / step["eager"], "compile_s": compile_s},
            {"option": "vmap", "student": backbone, "baseline_s": per_seed[1], "option_s": per_seed[0], "ratio": per_seed[0] / per_seed[1], "seeds": args.seeds},
        ]
        print(
            f"{backbone}: eager {step['eager'] * 1e3:.1f} ms/step, compiled {step['compile'] * 1e3:.1f} ms/step "
            f"(compiling took {compile_s:.0f} s); {args.seeds} seeds: eager {per_seed[1] * 1e3:.1f}, "
            f"vmap {per_seed[0] * 1e3:.1f} ms per seed-step"
        )
    record = {
        "benchmark": "bench_cpu_options",
        "device_type": "cpu",
        "device": platform.machine(),
        "processor": platform.processor(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "settings": {**shape, "rounds": args.rounds, "steps": args.steps, "seeds": args.seeds, "lr": cfg.lr},
        "rows": rows,
    }
    args.output.mkdir(parents=True, exist_ok=True)
    target = args.output / "bench_cpu_options-cpu.json"
    atomic_write_json(target, record)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
