"""Sizing probes of the mini scale on a GPU: many short plain (cross-entropy) runs of the teacher and
student networks on variants of the generated dataset, through the project's command line, side by
side on one GPU; then the record ``benchmarks/results/sizing-cuda.json`` that the book's chapter
"Sizing the mini scale" reads.

    python benchmarks/sizing_probes.py run PLAN RAW_JSON [--deadline-s 420] [--workers 14] [--device cuda]
    python benchmarks/sizing_probes.py record RAW_JSON [RAW_JSON ...] [--output PATH]

``run`` generates the plan's dataset variants under ``/tmp/sizing-data`` and trains every probe of
the plan (``variants``: four data settings at 1,000 steps; ``length``: the chosen one at 2,000
steps; a deadline cut the first plan's tail, which the second re-ran in part), in fp32 with TF32 off so that the runs learn as they do on the CPU, evaluating val after
every (or every second) epoch and test at the end, and writes the raw run files to RAW_JSON. Probes
still running at the deadline are stopped and recorded as such. ``record`` turns raw files into the
record: one entry per probe in the format of ``sizing-cpu.json`` plus the data variant and scale.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from unittest import mock

from aicsd.data import make_synthetic, synthetic_render
from aicsd.engine import runstore
from aicsd.study import sizing

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DATA = Path("/tmp/sizing-data")
RUNS = Path("/tmp/sizing-runs")

VARIANTS: dict[str, dict[str, Any]] = {
    "v2": {"TEXTURE_PERIOD_PX": (4.5, 6.5), "MIN_RADIUS": 4.0, "NOISE_SIGMA": (4.0, 12.0), "MAX_DISTRACTORS": 3},
    "v2 + large textures": {"TEXTURE_PERIOD_PX": (8.0, 11.0), "MIN_RADIUS": 6.0, "NOISE_SIGMA": (4.0, 12.0), "MAX_DISTRACTORS": 3},
    "v3": {},
    "v4 candidate": {"TEXTURE_PERIOD_PX": (10.0, 13.0), "TEXTURE_CONTRAST": (0.6, 0.75), "COLOUR_GAIN": (0.93, 1.07), "MIN_RADIUS": 8.0},
}
"""Generator settings of each variant, as overrides of ``aicsd.data.synthetic_render``'s constants:
``v2`` is generator version 2 (bit-identical), ``v3`` the current defaults (version 3), ``v4
candidate`` a more learnable set measured as a lever on the seed spread (``variance_levers.py
--data-variant``): coarser and stronger textures, calmer class colours, no object under 8 px."""

RELEASED_SCALE, NARROW_SCALE = (0.5, 2.0), (0.75, 1.25)
NETWORKS = (
    ("resnet101", 0.5, (0,)), ("resnet101", 0.25, (0,)), ("resnet18", 0.25, (0, 1, 2)),
    ("mobilenet_v2", 0.25, (0, 1, 2)), ("resnet18", 0.125, (0, 1)), ("mobilenet_v2", 0.125, (0, 1)),
)  # fmt: skip


def _plain(variant: str, scale: tuple[float, float], epochs: int, networks=NETWORKS) -> list[dict[str, Any]]:
    return [
        {"variant": variant, "scale": scale, "epochs": epochs, "backbone": net, "width": width, "seed": seed, "method": "none"}
        for net, width, seeds in networks
        for seed in seeds
    ]


def _distill(variant: str, epochs: int, teacher_width: float, methods: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {"variant": variant, "scale": RELEASED_SCALE, "epochs": epochs, "backbone": "resnet18", "width": 0.25,
         "seed": seed, "method": method, "teacher_width": teacher_width}
        for method in methods
        for seed in (0, 1, 2)
    ]  # fmt: skip


PLANS: dict[str, list[dict[str, Any]]] = {
    "variants": (
        _plain("v3", RELEASED_SCALE, 8) + _plain("v3", NARROW_SCALE, 8) + _distill("v3", 8, 0.5, ("kd", "aicsd"))
        + _plain("v2 + large textures", RELEASED_SCALE, 8) + _plain("v3", RELEASED_SCALE, 16)
        + _distill("v3", 8, 0.25, ("kd", "aicsd")) + _plain("v2", RELEASED_SCALE, 8) + _plain("v3", NARROW_SCALE, 16)
    ),
    "length": _plain("v3", NARROW_SCALE, 16, NETWORKS[:4]),
}
"""The probes of each plan, most informative first (a deadline cuts the tail)."""


def probe_name(probe: dict[str, Any]) -> str:
    scale = "" if probe["scale"] == RELEASED_SCALE else f" scale {probe['scale'][0]:g}-{probe['scale'][1]:g}"
    teacher = f" T x{probe['teacher_width']:g}" if "teacher_width" in probe else ""
    return f"{probe['variant']}{scale} e{probe['epochs']} {probe['backbone']} x{probe['width']:g} {probe['method']}{teacher} s{probe['seed']}"


def _folder(name: str) -> Path:
    return RUNS / name.replace(" ", "_").replace("+", "p")


def _run_dir(name: str) -> Path | None:
    found = [d for d in _folder(name).glob("*") if (d / "config.json").is_file()]
    return found[0] if found else None


def variant_slug(variant: str) -> str:
    """The variant's name as a file-name part: ``"v2 + large textures"`` -> ``"v2_p_large_textures"``."""
    return variant.replace(" ", "_").replace("+", "p")


def variant_runs(variant: str) -> Path:
    """Where runs on the variant's dataset are stored: a run's id names the generated set by its
    generator version and sizes only, which a variant shares with the default set, so its runs
    must never enter the shared run store, where a reproduction would take them for its own."""
    return RUNS / "levers" / variant_slug(variant)


def generate(variant: str) -> Path:
    """The variant's dataset under ``DATA`` (generated once; its metadata names the current generator
    version, whatever the variant's settings)."""
    root = DATA / variant_slug(variant)
    if not root.exists():
        settings = VARIANTS[variant]
        with mock.patch.multiple(synthetic_render, **settings) if settings else contextlib.nullcontext():
            make_synthetic(root)
    return root


def _command(probe: dict[str, Any], root: Path, eval_every: int, device: str) -> list[str]:
    common = ["--profile", "cpu", "--device", device, "--quiet", "--data-root", str(root), "--seed", str(probe["seed"]),
              "--epochs", str(probe["epochs"]), "--output-dir", str(_folder(probe_name(probe))),
              "--set", "amp=false", "--set", "channels_last=false", "--set", f"eval_every={eval_every}",
              "--set", "train_limit=None", "--set", f"scale_range={probe['scale'][0]},{probe['scale'][1]}"]  # fmt: skip
    for setting in probe.get("extra", ()):  # later settings win
        common += ["--set", setting]
    if probe["method"] == "none":
        return ["train-teacher", "--backbone", probe["backbone"], "--set", f"width_multiplier={probe['width']}", *common]
    # the distillation probes ran when the cpu profile stepped ALW per epoch; kept for the record
    return ["distill", "--method", probe["method"], "--teacher-run", "TEACHER", "--set", "alw=epoch", *common]


def _teacher_of(probe: dict[str, Any]) -> str:
    return probe_name({**{k: v for k, v in probe.items() if k != "teacher_width"}, "backbone": "resnet101",
                       "width": probe["teacher_width"], "method": "none", "seed": 0})  # fmt: skip


def run(plan: str, raw: Path, deadline_s: float, workers: int, device: str = "cuda") -> None:
    """Train the plan's probes, ``workers`` at a time, until ``deadline_s``; write the raw run files.

    A probe may carry ``extra`` ("field=value" settings applied last), which tests use to shrink it.
    """
    start = time.time()
    probes = PLANS[plan]
    roots = {variant: generate(variant) for variant in dict.fromkeys(p["variant"] for p in probes)}
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent / "tf32_off"), os.environ.get("PYTHONPATH", "")])}
    eval_every = 1 if max(p["epochs"] for p in probes) <= 8 else 2
    pending, running, ended = list(probes), {}, {}
    while (pending or running) and time.time() - start < deadline_s:
        for name, (process, began) in list(running.items()):
            if process.poll() is not None:
                ended[name] = {"rc": process.returncode, "wall_s": time.time() - began}
                del running[name]
        for probe in list(pending):
            if len(running) >= workers:
                break
            name = probe_name(probe)
            if probe["method"] != "none":
                teacher = _teacher_of(probe)
                if teacher not in ended:
                    continue
                teacher_dir = _run_dir(teacher)
                if teacher_dir is None or not (teacher_dir / "result.json").is_file():
                    pending.remove(probe)
                    ended[name] = {"rc": "teacher did not finish"}
                    continue
            command = [c if c != "TEACHER" else str(_run_dir(_teacher_of(probe))) for c in _command(probe, roots[probe["variant"]], eval_every, device)]
            _folder(name).mkdir(parents=True, exist_ok=True)
            log = (_folder(name) / "log.txt").open("w")
            running[name] = (subprocess.Popen([sys.executable, "-m", "aicsd", *command], stdout=log, stderr=subprocess.STDOUT, env=env), time.time())
            pending.remove(probe)
        time.sleep(1.0)
    for name, (process, began) in running.items():
        process.kill()
        ended[name] = {"rc": "stopped at the deadline", "wall_s": time.time() - began}
    entries = []
    for probe in probes:
        name, folder = probe_name(probe), _run_dir(probe_name(probe))
        entry = {"probe": probe, "name": name, **ended.get(name, {"rc": "not started"})}
        if folder is not None:
            config = runstore.read_config(folder)
            entry["steps_per_epoch"] = sizing.training_steps(config) // config.epochs
            for file in ("config.json", "result.json"):
                if (folder / file).is_file():
                    entry[file.removesuffix(".json")] = json.loads((folder / file).read_text())
            if (folder / "metrics.jsonl").is_file():
                entry["metrics"] = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
        entries.append(entry)
    raw.write_text(json.dumps({"plan": plan, "elapsed_s": time.time() - start, "workers": workers, "probes": entries}))


def _record_entry(entry: dict[str, Any], workers: int) -> dict[str, Any]:
    probe, config, result = entry["probe"], entry.get("config", {}), entry.get("result")
    curve = [{"epoch": m["epoch"] + 1, "val_miou": round(100 * m["val_miou"], 2)} for m in entry.get("metrics", []) if m.get("val_miou") is not None]
    steps_per_epoch = entry.get("steps_per_epoch", 0)
    finished = entry["rc"] == 0 and result is not None
    last_quarter = None
    if finished and curve:
        quarter_start = probe["epochs"] - probe["epochs"] // 4
        earlier = [p for p in curve if p["epoch"] <= quarter_start]
        if earlier:
            last_quarter = {"from_epoch": earlier[-1]["epoch"], "to_epoch": curve[-1]["epoch"],
                            "delta_val_miou": round(curve[-1]["val_miou"] - earlier[-1]["val_miou"], 2)}  # fmt: skip
    return {
        "name": entry["name"],
        "status": "finished" if finished else str(entry["rc"]),
        "kind": "teacher" if probe["method"] == "none" and probe["backbone"] == "resnet101" else "student",
        "method": probe["method"],
        "teacher": f"resnet101 x{probe['teacher_width']:g}" if "teacher_width" in probe else None,
        "data_variant": probe["variant"],
        "scale_range": list(probe["scale"]),
        "backbone": probe["backbone"],
        "width_multiplier": probe["width"],
        "seed": probe["seed"],
        "epochs": probe["epochs"],
        "steps": probe["epochs"] * steps_per_epoch,
        "steps_per_epoch": steps_per_epoch,
        "config_overrides_vs_cpu_profile": {"backbone": probe["backbone"], "width_multiplier": probe["width"], "epochs": probe["epochs"],
                                            "train_limit": None, "scale_range": list(probe["scale"])},  # fmt: skip
        "val_miou_curve": curve,
        "final_val_miou": round(100 * result["final"]["miou"], 2) if finished else None,
        "test_miou": round(100 * result["test"]["miou"], 2) if finished else None,
        "wall_time_s": round(entry["wall_s"], 1) if "wall_s" in entry else None,
        "side_by_side_runs": workers,
        "last_quarter_change": last_quarter,
        "run_id": config.get("run_id") or (result or {}).get("run_id"),
    }


def record(raws: list[Path], output: Path) -> None:
    """Write the sizing record from raw files of :func:`run` (atomically), with each plan's wall
    time and number of runs side by side."""
    plans = [json.loads(raw.read_text()) for raw in raws]
    probes = [_record_entry(entry, plan["workers"]) for plan in plans for entry in plan["probes"]]
    environment = next((e["result"]["environment"] for e in plans[0]["probes"] if e.get("result")), {})
    content = {
        "record": "sizing-cuda",
        "purpose": "sizing probes of the mini scale (issue #12): dataset variants, scale range, network pairs and training length",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "how": "benchmarks/sizing_probes.py run (plans 'variants' and 'length') on one GPU, 8-14 runs side by side, fp32 with TF32 off; every probe is a CLI run of the cpu profile with overrides; wall times are of runs sharing the GPU",
        "environment": environment,
        "plans": {plan["plan"]: {"elapsed_s": round(plan["elapsed_s"], 1), "side_by_side_runs": plan["workers"]} for plan in plans},
        "variants": {name: {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()} for name, settings in VARIANTS.items()},
        "probes": probes,
    }
    temporary = output.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(content, indent=1) + "\n")
    os.replace(temporary, output)
    print(f"wrote {output}: {sum(p['status'] == 'finished' for p in probes)} finished probes of {len(probes)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run")
    run_parser.add_argument("plan", choices=sorted(PLANS))
    run_parser.add_argument("raw", type=Path)
    run_parser.add_argument("--deadline-s", type=float, default=420.0)
    run_parser.add_argument("--workers", type=int, default=14)
    run_parser.add_argument("--device", default="cuda", help="cuda (the probes' setting) or cpu")
    record_parser = commands.add_parser("record")
    record_parser.add_argument("raw", type=Path, nargs="+")
    record_parser.add_argument("--output", type=Path, default=RESULTS / "sizing-cuda.json")
    args = parser.parse_args()
    if args.command == "run":
        run(args.plan, args.raw, args.deadline_s, args.workers, args.device)
    else:
        record(args.raw, args.output)


if __name__ == "__main__":
    main()
