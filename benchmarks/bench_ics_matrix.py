"""Where the time of the paper's ICSD loss goes: its pieces, and two ways to form the class-pair product.

For one (B, C, H, W) shape, forward+backward of each piece, side by side in one process (median of
``--repeats`` after 3 warm-up calls, synchronised; no memory figures):

  log_softmax               one normalisation pass over the (B, C, H*W) maps, for scale
  centred log-probs         :func:`aicsd.losses.icsd.centred_log_distributions`
  product: bmm              the (B, C, N) @ (B, N, C) class-pair product as one ``torch.bmm`` (ours)
  product: split-K bmm      the same product with N cut into ``S`` chunks batched as (B*S, C, N/S)
                            products and summed (:func:`aicsd.losses.icsd.chunked_class_pair_product`;
                            ``ics_matrix`` does this on CUDA with chunks of 2,048 pixels)
  ics_matrix                the whole matrix (:func:`aicsd.losses.icsd.ics_matrix`)
  ICSD paper / official     ``ICSDLoss(variant=...)`` on a student and a teacher
  pixel KD, cross entropy   the other two terms of the AICSD loss
  ... (compiled)            with ``--compile``: the centring and the whole paper loss under ``torch.compile``

plus the largest kernels of ``ICSD paper`` from ``torch.profiler`` (self device time). The record goes
to benchmarks/results/bench_ics_matrix-<device>.json.

    python benchmarks/bench_ics_matrix.py [--device cpu|cuda] [--shape 8x21x513x513] [--repeats N] [--compile]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from aicsd.engine.checkpoint import atomic_write_json
from aicsd.losses import ICSDLoss, PixelKDLoss
from aicsd.losses.icsd import centred_log_distributions, chunked_class_pair_product, ics_matrix

SPLITS = (16, 128)


def split_k_product(p: Tensor, centred: Tensor, splits: int) -> Tensor:
    """The class-pair product (B, C, N) twice -> (B, C, C) with N cut into ``splits`` chunks."""
    return chunked_class_pair_product(p, centred, -(-p.shape[-1] // splits))


def _time(fn: Callable[[], Tensor], inputs: list[Tensor], device: str, repeats: int) -> float:
    """Median seconds of ``fn().sum().backward()`` (forward+backward)."""
    times = []
    for repeat in range(repeats + 3):
        for tensor in inputs:
            tensor.grad = None
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn().sum().backward()
        if device == "cuda":
            torch.cuda.synchronize()
        if repeat >= 3:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _top_kernels(fn: Callable[[], Tensor], device: str, count: int = 12) -> list[dict[str, float | str | int]]:
    activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if device == "cuda" else [])
    with torch.profiler.profile(activities=activities) as profiler:
        fn().backward()
        if device == "cuda":
            torch.cuda.synchronize()
    attribute = "self_device_time_total" if device == "cuda" else "self_cpu_time_total"
    events = sorted(profiler.key_averages(), key=lambda e: getattr(e, attribute), reverse=True)[:count]
    return [{"name": e.key, "self_ms": getattr(e, attribute) / 1e3, "calls": e.count} for e in events]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--shape", default="8x21x513x513", help="BxCxHxW")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--compile", action="store_true", help="also torch.compile'd centred log-probs and ICSD paper")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    device = args.device
    shape = tuple(int(v) for v in args.shape.split("x"))
    generator = torch.Generator().manual_seed(0)
    teacher = (3 * torch.randn(shape, generator=generator)).to(device)
    student = (0.8 * teacher.cpu() + torch.randn(shape, generator=generator)).to(device).requires_grad_()
    labels = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=generator).to(device)
    with torch.no_grad():
        centred_value = centred_log_distributions(student)
    centred = centred_value.clone().requires_grad_()
    p = torch.exp(centred_value - centred_value.new_tensor(float(centred_value.shape[-1])).log()).requires_grad_()
    paper, official, kd = ICSDLoss(variant="paper"), ICSDLoss(variant="official"), PixelKDLoss()
    rows = {
        "log_softmax": (lambda: F.log_softmax(student.flatten(2), dim=-1), [student]),
        "centred log-probs": (lambda: centred_log_distributions(student), [student]),
        "product: bmm": (lambda: torch.bmm(p, centred.transpose(1, 2)), [p, centred]),
        **{f"product: split-K bmm (S={s})": (lambda s=s: split_k_product(p, centred, s), [p, centred]) for s in SPLITS},
        "ics_matrix": (lambda: ics_matrix(student), [student]),
        "ICSD paper": (lambda: paper(student, teacher), [student]),
        "ICSD official": (lambda: official(student, teacher), [student]),
        "pixel KD": (lambda: kd(student, teacher), [student]),
        "cross entropy": (lambda: F.cross_entropy(student, labels), [student]),
    }
    if args.compile:
        compiled_centred, compiled_paper = torch.compile(centred_log_distributions), torch.compile(paper)
        rows["centred log-probs (compiled)"] = (lambda: compiled_centred(student), [student])
        rows["ICSD paper (compiled)"] = (lambda: compiled_paper(student, teacher), [student])
    with torch.no_grad():
        reference = torch.bmm(p, centred.transpose(1, 2))
        split_error = max(float((split_k_product(p, centred, s) - reference).abs().max() / reference.abs().max()) for s in SPLITS)
    print(f"ICSD pieces on {device}, shape {args.shape}, forward+backward, median of {args.repeats}")
    results = []
    for name, (fn, inputs) in rows.items():
        seconds = _time(fn, inputs, device, args.repeats)
        results.append({"piece": name, "ms": 1e3 * seconds})
        print(f"{name:>28} {1e3 * seconds:9.2f} ms")
    print(f"split-K products agree with bmm to {split_error:.1e} (relative to the largest entry)")
    kernels = _top_kernels(lambda: paper(student, teacher), device)
    for kernel in kernels:
        print(f"  {kernel['self_ms']:8.2f} ms  x{kernel['calls']:<4} {kernel['name'][:90]}")
    record = {
        "benchmark": "bench_ics_matrix",
        "device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine(),
        "device_type": device,
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "shape": list(shape),
        "rows": results,
        "split_k_relative_error": split_error,
        "top_kernels_icsd_paper": kernels,
    }
    args.output.mkdir(parents=True, exist_ok=True)
    target = args.output / f"bench_ics_matrix-{device}.json"
    atomic_write_json(target, record)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
