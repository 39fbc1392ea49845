"""Forward+backward time and peak memory of ICSD: the released class-pair loop vs ours, vectorised.

Rows, measured side by side in one run for each (B, C, H, W):
  released loop      the released code's loop over class pairs (benchmarks/released_style.py)
  official (vec.)    the same arithmetic, vectorised (ICSDLoss(variant="official"))
  paper (vec.)       the paper's ICS matrix, one bmm per batch (ICSDLoss(variant="paper"))

Each measurement runs in a fresh process so its peak memory is its own: on CUDA
``max_memory_allocated`` above the inputs; on the CPU the growth of the resident set (VmHWM after
a reset through /proc/self/clear_refs, over VmRSS before; large blocks are mmapped so that freed
memory leaves the resident set), both during the first call, which also serves as warm-up. Results go to benchmarks/results/bench_losses-<device>.json.

    python benchmarks/bench_losses.py [--device cpu|cuda] [--shapes 8x21x129x129 ...] [--repeats N]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from released_style import released_loop_icsd  # noqa: E402

from aicsd.engine.checkpoint import atomic_write_json  # noqa: E402
from aicsd.losses import ICSDLoss  # noqa: E402

DEFAULT_SHAPES = ("8x21x129x129", "8x21x513x513", "4x19x512x1024")
IMPLEMENTATIONS = {
    "released loop": released_loop_icsd,
    "official (vec.)": ICSDLoss(variant="official"),
    "paper (vec.)": ICSDLoss(variant="paper"),
}


def _synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _resident_bytes(field: str) -> int:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not found in /proc/self/status")


def _reset_peak_resident() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def _measure(name: str, shape: tuple[int, ...], device: str, repeats: int, queue: mp.Queue) -> None:
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", torch.get_num_threads())))
    generator = torch.Generator().manual_seed(0)
    teacher = (3 * torch.randn(shape, generator=generator)).to(device)
    student = (0.8 * teacher.cpu() + torch.randn(shape, generator=generator)).to(device).requires_grad_()
    loss_fn = IMPLEMENTATIONS[name]
    _synchronize(device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _resident_bytes("VmRSS")
        _reset_peak_resident()
    times = []
    for repeat in range(repeats + 1):
        student.grad = None
        _synchronize(device)
        start = time.perf_counter()
        value = loss_fn(student, teacher)
        value.backward()
        _synchronize(device)
        times.append(time.perf_counter() - start)
        if repeat == 0:
            peak = (torch.cuda.max_memory_allocated() if device == "cuda" else _resident_bytes("VmHWM")) - base
    queue.put({"seconds": statistics.median(times[1:]), "peak_bytes": max(peak, 0), "value": value.item()})


def measure(name: str, shape: tuple[int, ...], device: str, repeats: int) -> dict[str, float]:
    """Run one implementation on one shape in a fresh process; returns seconds, peak bytes, value."""
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "65536")
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(name, shape, device, repeats, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--shapes", nargs="+", default=list(DEFAULT_SHAPES), help="BxCxHxW, e.g. 8x21x129x129")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions after one warm-up")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")

    rows = []
    print(f"ICSD forward+backward on {args.device} (median of {args.repeats}, fresh process each)")
    print(f"{'shape':>16} {'implementation':>16} {'time (ms)':>11} {'peak (MiB)':>11} {'speed-up':>9} {'mem ratio':>9}")
    for text in args.shapes:
        shape = tuple(int(v) for v in text.lower().split("x"))
        results = {name: measure(name, shape, args.device, args.repeats) for name in IMPLEMENTATIONS}
        baseline = results["released loop"]
        official = results["official (vec.)"]
        if abs(official["value"] - baseline["value"]) > 1e-4 * abs(baseline["value"]) + 1e-12:
            raise RuntimeError(f"vectorised official loss {official['value']} != loop {baseline['value']} at {shape}")
        for name, r in results.items():
            speed_up = baseline["seconds"] / r["seconds"]
            memory_ratio = r["peak_bytes"] / baseline["peak_bytes"] if baseline["peak_bytes"] else float("nan")
            print(f"{text:>16} {name:>16} {1e3 * r['seconds']:11.1f} {r['peak_bytes'] / 2**20:11.1f} "
                  f"{speed_up:8.1f}x {memory_ratio:9.2f}")
            rows.append({"shape": list(shape), "implementation": name, **r,
                         "speedup_vs_loop": speed_up, "memory_vs_loop": memory_ratio})
    record = {
        "benchmark": "bench_losses",
        "device": torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or platform.machine(),
        "device_type": args.device,
        "threads": int(os.environ.get("BENCH_THREADS", torch.get_num_threads())),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rows": rows,
    }
    args.output.mkdir(parents=True, exist_ok=True)
    target = args.output / f"bench_losses-{args.device}.json"
    atomic_write_json(target, record)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
