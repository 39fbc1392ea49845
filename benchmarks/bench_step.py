"""Images/s and peak memory of one AICSD distillation training step: released-style vs ours.

One step: teacher DeepLabV3+ ResNet-101 forward; student (ResNet-18 or MobileNetV2) forward; the
AICSD distiller (cross entropy + ICSD + pixel-wise KD, ALW at alpha = 0.5 so every term counts);
backward; SGD (momentum 0.9, weight decay 5e-4) over the student's ``param_groups``. Two recipes
are measured side by side, each (recipe, student) in a fresh process so its peak memory is its own:

  released-style  the released code's step: fp32, contiguous NCHW, teacher in train mode with
                  autograd on (no inference_mode, no detach; its gradients accumulate and are
                  never applied), ``build_distiller("aicsd", detach_teacher=False,
                  icsd_variant="official")`` with the ICSD term computed by the released class-pair
                  loop (benchmarks/released_style.py)
  ours            teacher in eval mode under ``torch.inference_mode()``, ``build_distiller("aicsd")``
                  (vectorised losses), bf16 autocast and channels_last on CUDA (fp32 NCHW on the
                  CPU, as ``aicsd.engine.select_precision`` decides), optionally ``--compile``
                  (torch.compile of the student)

Inputs are one fixed random batch (images N(0, 1), labels uniform over the classes with 10 %
ignored pixels), so data loading is not measured; weights are random (no download).

What each number is:
  images/s    batch size / median wall time of the timed steps (after ``--warmup`` steps); each
              step ends with a synchronisation, as a training loop that reads its loss does
  peak        CUDA: ``torch.cuda.max_memory_allocated`` over the timed steps (everything allocated:
              weights, gradients, optimizer state, activations). CPU: growth of the resident set
              over the timed steps (VmHWM, reset through /proc/self/clear_refs after warm-up, over
              VmRSS before the first step, so weights and the batch are not counted; large blocks are
              mmapped so that freed memory leaves the resident set)
  losses      share of the step spent in the distillation losses: the distiller's forward plus the
              backward from the total loss to the logits, split from the networks' backward by
              ``torch.autograd.grad(loss, logits)`` followed by ``logits.backward(grad)``. Phases are
              timed with CUDA events on CUDA (no synchronisation inside the step) and
              ``time.perf_counter`` on the CPU; the share is the median over the timed steps of
              loss time / sum of the phase times
Ratios are ours / released-style. The record goes to benchmarks/results/bench_step-<device>.json
(bench_step-<device>-compile.json with ``--compile``).

    python benchmarks/bench_step.py [--device cpu|cuda] [--small] [--compile] [--steps N] [--warmup N]
    BENCH_THREADS=1 python benchmarks/bench_step.py --small --device cpu
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from released_style import released_loop_icsd  # noqa: E402

from aicsd.engine import FeatureTaps, Precision, select_precision  # noqa: E402
from aicsd.engine.checkpoint import atomic_write_json  # noqa: E402
from aicsd.losses import Distiller, build_distiller  # noqa: E402
from aicsd.models import build_segmenter  # noqa: E402

RECIPES = ("released-style", "ours")
STUDENTS = ("resnet18", "mobilenet_v2")
TEACHER = "resnet101"
PHASES = ("teacher_forward", "student_forward", "loss_forward", "loss_backward", "network_backward", "optimizer")
LOSS_PHASES = ("loss_forward", "loss_backward")
ALPHA = 0.5
LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.9, 5e-4
IGNORE_FRACTION = 0.1
PEAK_MEMORY_METHOD = (
    "cuda: max_memory_allocated over the timed steps; cpu: VmHWM growth over VmRSS before the first step"
)
LOSS_SHARE_METHOD = (
    "distiller forward + backward to the logits over the sum of the step's phases (CUDA events / perf_counter)"
)


@dataclass(frozen=True)
class Settings:
    """What one measurement runs: input size, widths, step counts and the device."""

    device: str
    crop: int
    batch: int
    classes: int
    width: float
    warmup: int
    steps: int
    compile: bool


PRESETS = MappingProxyType(
    {
        "paper": MappingProxyType({"crop": 513, "batch": 8, "classes": 21, "width": 1.0, "warmup": 3, "steps": 10}),
        "small": MappingProxyType({"crop": 64, "batch": 4, "classes": 21, "width": 0.25, "warmup": 1, "steps": 3}),
    }
)


class ReleasedLoopICSD(nn.Module):
    """The released ICSD as a loss module: ``student, teacher: (B, C, H, W) logits -> scalar``.

    Computes :func:`released_style.released_loop_icsd` (C(C+1)/2 x 2 ``KLDivLoss`` calls), the
    same value as ``ICSDLoss(variant="official")`` at the released cost.
    """

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        return released_loop_icsd(student, teacher, self.temperature)


@dataclass(frozen=True)
class StepSetup:
    """The objects of one recipe's training step.

    ``teacher`` and ``student`` are :class:`aicsd.engine.FeatureTaps` (images (B, 3, H, W) -> dict of
    taps, ``"logits"`` (B, C, H, W)); the student possibly compiled. ``scaler`` is set only for
    float16 autocast (CUDA without bf16).
    """

    teacher: nn.Module
    student: nn.Module
    distiller: Distiller
    optimizer: torch.optim.Optimizer
    precision: Precision
    released: bool
    scaler: torch.amp.GradScaler | None


def build_distiller_for(recipe: str) -> Distiller:
    """The AICSD distiller of ``recipe``: the released loop for "released-style", vectorised for "ours"."""
    if recipe == "ours":
        return build_distiller("aicsd")
    if recipe == "released-style":
        distiller = build_distiller("aicsd", detach_teacher=False, icsd_variant="official")
        distiller.terms["icsd"].loss = ReleasedLoopICSD(distiller.terms["icsd"].loss.temperature)
        return distiller
    raise ValueError(f"unknown recipe {recipe!r}; valid: {', '.join(RECIPES)}")


def build_step(recipe: str, student_name: str, settings: Settings) -> StepSetup:
    """Teacher, student, distiller, optimizer and precision of ``recipe`` on ``settings.device``."""
    device = torch.device(settings.device)
    released = recipe == "released-style"
    precision = Precision(device) if released else select_precision(device, amp=True, channels_last=True)
    memory_format = torch.channels_last if precision.channels_last else torch.contiguous_format
    teacher = build_segmenter(TEACHER, settings.classes, width_multiplier=settings.width)
    student = build_segmenter(student_name, settings.classes, width_multiplier=settings.width)
    teacher_taps = FeatureTaps(teacher.to(device, memory_format=memory_format)).train(released)
    student = student.to(device, memory_format=memory_format).train()
    distiller = build_distiller_for(recipe).to(device)
    if distiller.required_taps != {"logits"}:
        raise RuntimeError(
            "the loss timing splits the backward at the logits, but the distiller reads "
            f"{sorted(distiller.required_taps)}"
        )
    optimizer = torch.optim.SGD(student.param_groups(LR), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    student_taps: nn.Module = FeatureTaps(student)
    if settings.compile and not released:
        student_taps = torch.compile(student_taps)
    scaler = torch.amp.GradScaler(device.type) if precision.needs_grad_scaler else None
    return StepSetup(teacher_taps, student_taps, distiller, optimizer, precision, released, scaler)


def make_batch(settings: Settings, precision: Precision) -> tuple[Tensor, Tensor]:
    """A fixed random batch: images (B, 3, crop, crop) float32, target (B, crop, crop) int64 with 255s."""
    generator = torch.Generator().manual_seed(0)
    shape = (settings.batch, settings.crop, settings.crop)
    images = torch.randn((settings.batch, 3, settings.crop, settings.crop), generator=generator)
    target = torch.randint(0, settings.classes, shape, generator=generator)
    target[torch.rand(shape, generator=generator) < IGNORE_FRACTION] = 255
    return precision.images(images), target.to(precision.device)


class PhaseClock:
    """Marks phase boundaries of one step: CUDA events on CUDA (no sync inside the step), else perf_counter."""

    def __init__(self, device: torch.device) -> None:
        self._cuda = device.type == "cuda"
        self._marks: list[Any] = []

    def mark(self) -> None:
        if self._cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self._marks.append(event)
        else:
            self._marks.append(time.perf_counter())

    def seconds(self) -> list[float]:
        """Durations between consecutive marks (waits for the device on CUDA)."""
        if self._cuda:
            torch.cuda.synchronize()
            return [start.elapsed_time(end) / 1e3 for start, end in zip(self._marks, self._marks[1:])]
        return [end - start for start, end in zip(self._marks, self._marks[1:])]


def train_step(setup: StepSetup, images: Tensor, target: Tensor, clock: PhaseClock) -> Tensor:
    """One distillation step on images (B, 3, H, W) and target (B, H, W); marks the phases of ``PHASES``.

    Returns the total loss (a 0-dim tensor, detached).
    """
    clock.mark()
    if setup.released:
        with setup.precision.autocast():
            teacher_taps = setup.teacher(images)
    else:
        with torch.inference_mode(), setup.precision.autocast():
            features = setup.teacher(images)
        teacher_taps = {tap: features[tap].clone() for tap in setup.distiller.required_taps}
    clock.mark()
    with setup.precision.autocast():
        student_taps = setup.student(images)
    clock.mark()
    terms = setup.distiller(student_taps, teacher_taps, target, alpha=ALPHA)
    loss = terms["loss"]
    clock.mark()
    logits = [taps["logits"] for taps in (student_taps, teacher_taps) if taps["logits"].requires_grad]
    scaled = setup.scaler.scale(loss) if setup.scaler is not None else loss
    gradients = torch.autograd.grad(scaled, logits)
    clock.mark()
    torch.autograd.backward(logits, gradients)
    clock.mark()
    if setup.scaler is not None:
        setup.scaler.step(setup.optimizer)
        setup.scaler.update()
    else:
        setup.optimizer.step()
    setup.optimizer.zero_grad(set_to_none=True)
    clock.mark()
    return loss.detach()


def _resident_bytes(field: str) -> int:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not found in /proc/self/status")


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    else:
        Path("/proc/self/clear_refs").write_text("5")


def _timed_step(setup: StepSetup, images: Tensor, target: Tensor) -> tuple[float, list[float], float]:
    """Wall seconds, phase seconds and loss value of one step."""
    clock = PhaseClock(images.device)
    start = time.perf_counter()
    loss = train_step(setup, images, target, clock)
    phases = clock.seconds()
    wall = time.perf_counter() - start
    return wall, phases, loss.item()


def measure_in_process(recipe: str, student_name: str, settings: Settings) -> dict[str, Any]:
    """Build, warm up and time one (recipe, student) in this process; returns its row of numbers."""
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", torch.get_num_threads())))
    torch.manual_seed(0)
    device = torch.device(settings.device)
    setup = build_step(recipe, student_name, settings)
    images, target = make_batch(settings, setup.precision)
    if device.type == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
    else:
        base = _resident_bytes("VmRSS")
    for _ in range(settings.warmup):
        _timed_step(setup, images, target)
    _reset_peak(device)
    samples = [_timed_step(setup, images, target) for _ in range(settings.steps)]
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else max(_resident_bytes("VmHWM") - base, 0)
    loss = samples[-1][2]
    if not math.isfinite(loss):
        raise RuntimeError(f"{recipe} / {student_name}: the loss is {loss}, the step is not a valid one to time")
    phase_seconds = {name: statistics.median(s[1][i] for s in samples) for i, name in enumerate(PHASES)}
    loss_index = [PHASES.index(name) for name in LOSS_PHASES]
    step_seconds = statistics.median(s[0] for s in samples)
    amp_dtype = setup.precision.amp_dtype
    return {
        "recipe": recipe,
        "student": student_name,
        "images_per_second": settings.batch / step_seconds,
        "step_seconds": step_seconds,
        "peak_bytes": peak,
        "base_bytes": base,
        "loss_seconds": statistics.median(sum(s[1][i] for i in loss_index) for s in samples),
        "loss_share": statistics.median(sum(s[1][i] for i in loss_index) / sum(s[1]) for s in samples),
        "phase_seconds": phase_seconds,
        "amp_dtype": None if amp_dtype is None else str(amp_dtype).removeprefix("torch."),
        "channels_last": setup.precision.channels_last,
        "compiled": settings.compile and recipe == "ours",
        "loss": loss,
    }


@contextlib.contextmanager
def _child_environment() -> Iterator[None]:
    """Large blocks mmapped (MALLOC_MMAP_THRESHOLD_=65536 unless set) in the children, so freed memory
    leaves their RSS; the variable is restored afterwards."""
    already_set = "MALLOC_MMAP_THRESHOLD_" in os.environ
    if not already_set:
        os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"
    try:
        yield
    finally:
        if not already_set:
            os.environ.pop("MALLOC_MMAP_THRESHOLD_", None)


def measure(recipe: str, student_name: str, settings: Settings) -> dict[str, Any]:
    """:func:`measure_in_process` in a fresh spawned process, so the peak memory is this measurement's own."""
    with _child_environment(), ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(measure_in_process, recipe, student_name, settings).result()


def _ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline else float("nan")


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Add ``speedup_vs_released`` (images/s) and ``memory_vs_released`` (peak) to every row, per student."""
    baselines = {row["student"]: row for row in rows if row["recipe"] == "released-style"}
    for row in rows:
        baseline = baselines[row["student"]]
        row["speedup_vs_released"] = _ratio(row["images_per_second"], baseline["images_per_second"])
        row["memory_vs_released"] = _ratio(row["peak_bytes"], baseline["peak_bytes"])


def _device_name(device: str) -> str:
    return torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine()


def write_record(record: dict[str, Any], output: Path, device: str, *, compiled: bool = False) -> Path:
    """Write ``record`` to ``output/bench_step-<device>[-compile].json`` atomically; returns the path."""
    output.mkdir(parents=True, exist_ok=True)
    target = output / f"bench_step-{device}{'-compile' if compiled else ''}.json"
    atomic_write_json(target, record)
    return target


def _parse(argv: list[str] | None) -> tuple[argparse.Namespace, Settings]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--small", action="store_true", help="CPU preset: crop 64, batch 4, width 0.25, 1 + 3 steps")
    parser.add_argument("--crop", type=int, help="square crop size (default 513; 64 with --small)")
    parser.add_argument("--batch", type=int, help="batch size (default 8; 4 with --small)")
    parser.add_argument("--classes", type=int, help="number of classes (default 21)")
    parser.add_argument("--width", type=float, help="width multiplier of all networks (default 1.0; 0.25 with --small)")
    parser.add_argument("--warmup", type=int, help="untimed steps first (default 3; 1 with --small)")
    parser.add_argument("--steps", type=int, help="timed steps, median taken (default 10; 3 with --small)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the student of 'ours'")
    parser.add_argument("--students", nargs="+", choices=STUDENTS, default=list(STUDENTS))
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    preset = PRESETS["small" if args.small else "paper"]
    values = {key: preset[key] if getattr(args, key) is None else getattr(args, key) for key in preset}
    for key in ("crop", "batch", "classes", "warmup", "steps"):
        if values[key] < 1:
            parser.error(f"--{key} must be at least 1, got {values[key]}")
    if values["batch"] < 2:
        parser.error("--batch must be at least 2 (BatchNorm in train mode needs two images)")
    if not 0 < values["width"] <= 1:
        parser.error(f"--width must be in (0, 1], got {values['width']}")
    return args, Settings(device=args.device, compile=args.compile, **values)


def main(argv: list[str] | None = None) -> int:
    args, settings = _parse(argv)
    print(
        f"AICSD distillation step on {args.device}: teacher {TEACHER}, crop {settings.crop}, batch {settings.batch}, "
        f"{settings.classes} classes, width {settings.width:g}; median of {settings.steps} steps after "
        f"{settings.warmup} warm-up, fresh process each"
    )
    print(f"{'student':>12} {'recipe':>15} {'images/s':>9} {'step (ms)':>10} {'peak (MiB)':>11} "
          f"{'losses':>7} {'speed-up':>9} {'mem ratio':>9}")
    rows = []
    for student_name in args.students:
        results = [measure(recipe, student_name, settings) for recipe in RECIPES]
        add_ratios(results)
        for r in results:
            print(f"{student_name:>12} {r['recipe']:>15} {r['images_per_second']:9.2f} {1e3 * r['step_seconds']:10.1f} "
                  f"{r['peak_bytes'] / 2**20:11.1f} {r['loss_share']:7.1%} {r['speedup_vs_released']:8.2f}x "
                  f"{r['memory_vs_released']:9.2f}")
        rows += results
    record = {
        "benchmark": "bench_step",
        "device": _device_name(args.device),
        "device_type": args.device,
        "threads": int(os.environ.get("BENCH_THREADS", torch.get_num_threads())),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "preset": "small" if args.small else "paper",
        "settings": {**asdict(settings), "teacher": TEACHER},
        "peak_memory": PEAK_MEMORY_METHOD,
        "loss_share": LOSS_SHARE_METHOD,
        "rows": rows,
    }
    print(f"wrote {write_record(record, args.output, args.device, compiled=args.compile)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
