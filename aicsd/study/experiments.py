"""The runs behind each table of the book, and a runner that trains only what is missing.

A table is a list of :class:`LabelledRun` (a group, a row label and one run config per seed).
:func:`run_all` trains the teachers first, then the students (in parallel processes on the CPU),
skipping every run whose ``result.json`` exists; :func:`collect` reads the finished results back.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from aicsd.data import generate_if_absent
from aicsd.data.decoded import DecodedImages
from aicsd.engine import PROFILES, RunConfig, distill, load_profile, read_result, run_dir, run_id, seeds_of, teacher_config, train_teacher
from aicsd.engine.setup import teacher_run_id
from aicsd.engine.runstore import lacks_test_metrics
from aicsd.engine.teacher_cache import TeacherOutputCache
from aicsd.losses import METHODS, resolve
from aicsd.paths import BENCHMARK_RESULTS
from aicsd.results import run_row
from aicsd.study.record_files import record_name, weights_file

MAIN_GROUP = "main"
"""The group of the main table's runs (:func:`main_table`)."""
STUDENTS = ("resnet18", "mobilenet_v2")
PAPER_METHODS = ("none", "kd", "ad", "sp", "ickd", "aicsd")
BEYOND_PAPER = ("cwd", "dist")
MAIN_METHODS = (*PAPER_METHODS, *BEYOND_PAPER)
SWEEP_METHODS = ("kd", "ad", "sp", "ickd", "cwd", "dist", "icsd", "aicsd")
ABLATION_STUDENT = "resnet18"
TEMPERATURES = (1.0, 2.0, 4.0)
RELEASED_ICSD = "aicsd (released ICSD)"
"""The sweep's name for AICSD with the released code's ICSD arithmetic (``icsd_variant="official"``),
tuned on :data:`ABLATION_STUDENT` like every method, so that the variant ablation compares the two
arithmetics each at its own best weight."""
COLLAPSE_PROBE_STUDENT = "mobilenet_v2"
COLLAPSE_PROBE_METHODS = ("ad", "sp")
"""The student and methods whose sweep runs the main results chapter probes for feature collapse
(the student and methods whose heavy weights collapse it)."""
ALW_FORMS_COMPARED = ("epoch", "step")
ICSD_WEIGHT_FACTORS = (0.25, 1.0, 4.0)


@dataclass(frozen=True)
class LabelledRun:
    """One training run placed in a table: ``group`` (which table or sweep) and ``label`` (its row)."""

    group: str
    label: str
    config: RunConfig


def _context(dataset: str, data_root: str | None, device: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"dataset": dataset, "device": device, "quiet": True}
    if data_root is not None:
        fields["data_root"] = str(data_root)
    return fields


def teacher_run(profile: str, *, dataset: str = "synthetic", data_root: str | None = None, device: str = "auto") -> RunConfig:
    """The teacher of ``profile`` (DeepLabV3+ ResNet-101 at the profile's width)."""
    return load_profile(profile, kind="teacher", **_context(dataset, data_root, device))


def student_run(
    profile: str,
    *,
    backbone: str,
    method: str,
    seed: int,
    dataset: str = "synthetic",
    data_root: str | None = None,
    device: str = "auto",
    **fields: Any,
) -> RunConfig:
    """One student run of ``profile``; ``fields`` override any other config field."""
    context = _context(dataset, data_root, device)
    return load_profile(profile, backbone=backbone, method=method, seed=seed, **context, **fields)


Weights = dict[str, dict[str, float]]
"""One student's distillation weights: method -> weight settings (``{"kd": {"kd_weight": 1.4}}``)."""

StudentWeights = dict[str, Weights]
"""The tuned weights of every student: backbone -> :data:`Weights` (from :func:`chosen_weights`)."""


def main_table(
    profile: str,
    *,
    dataset: str = "synthetic",
    data_root: str | None = None,
    device: str = "auto",
    seeds: Sequence[int] | None = None,
    weights: StudentWeights | None = None,
) -> list[LabelledRun]:
    """Both students x (none, KD, AD, SP, ICKD, AICSD, and beyond the paper CWD, DIST) x seeds.

    ``weights`` maps a student to its methods' weight settings (:func:`chosen_weights`); a student
    or method not in it keeps the defaults.
    """
    place = {"dataset": dataset, "data_root": data_root, "device": device}
    weights = weights or {}
    return [
        LabelledRun(
            MAIN_GROUP,
            method,
            student_run(profile, backbone=student, method=method, seed=seed, **place, **weights.get(student, {}).get(method, {})),
        )
        for student in STUDENTS
        for method in MAIN_METHODS
        for seed in (seeds_of(profile) if seeds is None else seeds)
    ]


def sweep_key(label: str) -> str:
    """What a sweep row tunes (a method, or :data:`RELEASED_ICSD`), from its :func:`sweep_label`."""
    return label.rsplit(" x", 1)[0]


def chosen_at_sweep_edge(sweep: pd.DataFrame, chosen: StudentWeights) -> list[str]:
    """The choices that took the largest or the smallest weight the sweep tried for their student
    (the best may lie beyond it), as ``"<method> (<backbone>, largest)"`` or ``"... smallest)"``."""
    edge = []
    keys = sweep["label"].map(sweep_key)
    for backbone, methods in chosen.items():
        for method, settings in methods.items():
            ((key, weight),) = settings.items()
            tried = sweep.loc[(sweep["backbone"] == backbone) & (keys == method), key]
            if weight >= tried.max():
                edge.append(f"{method} ({backbone}, largest)")
            elif weight <= tried.min():
                edge.append(f"{method} ({backbone}, smallest)")
    return edge


def committed_record(profile: str, dataset: str = "synthetic", folder: Path = BENCHMARK_RESULTS) -> dict[str, Any] | None:
    """The weights committed for ``profile`` on ``dataset`` (``benchmarks/results/weights-<name>.json``,
    written by :mod:`aicsd.study.committed_weights`: the pooled multi-seed sweep and the weights it
    gives), or None where none are committed."""
    path = folder / weights_file(record_name(profile, dataset))
    return json.loads(path.read_text()) if path.is_file() else None


def committed_seeds(record: dict[str, Any]) -> list[int]:
    """The tuning seeds of a record's ``sweep`` cells: those a committed-weights record
    (:func:`committed_record`) chose from, or those one of its sources contributed."""
    return sorted({int(seed) for cell in record["sweep"] for seed in cell["seeds"]})


def tuned_weights(
    profile: str,
    *,
    dataset: str = "synthetic",
    data_root: str | None = None,
    device: str = "auto",
    train: bool = True,
) -> StudentWeights:
    """The weights the book's tables use: the committed ones (:func:`committed_record`) where the
    profile has them on ``dataset``, so that every machine trains the same cells; else
    :func:`chosen_weights` of the profile's :func:`weight_sweep` (trained first when ``train``; else
    it must have finished); no settings (the defaults) for a profile without a sweep."""
    committed = committed_record(profile, dataset)
    if committed is not None:
        return committed["weights"]
    sweep = weight_sweep(profile, dataset=dataset, data_root=data_root, device=device)
    if not sweep:
        return {}
    if train:
        run_all(sweep, test=False)
    return chosen_weights(collect(sweep, test=False))


def swept_term(method: str) -> str:
    """The term whose weight the sweep varies: a method's first term (ICSD for AICSD)."""
    return METHODS[method].terms[0]


def sweep_label(method: str, factor: float) -> str:
    """The row label of ``method`` at ``factor`` times its default weight in :func:`weight_sweep`."""
    return f"{method} x{factor:g}"


def weight_sweep(
    profile: str,
    *,
    dataset: str = "synthetic",
    data_root: str | None = None,
    device: str = "auto",
) -> list[LabelledRun]:
    """Each method's default weight times the profile's ``sweep_factors``, on each student of
    :data:`STUDENTS` with the profile's ``tuning_seeds`` (group ``sweep``, label
    ``"<method> x<factor>"``; the student is the collected ``backbone``), AICSD with the
    released ICSD arithmetic (:data:`RELEASED_ICSD`) on :data:`ABLATION_STUDENT`, and each plain
    student at the tuning seeds (label ``"none"``: the reference the sweep's collapses are read
    against).

    Every method gets the same budget on every student; :func:`chosen_weights` picks on the ``val``
    split, per student, because a weight does not carry over from one student to another (the
    main results chapter measures why). The tuning seeds are not the tables' seeds, so no reported
    run took part in choosing its own weight. Empty for a profile without sweep factors (the
    ``paper`` profile keeps the paper's weights).
    """
    settings = PROFILES[profile]
    place = {"dataset": dataset, "data_root": data_root, "device": device}
    swept: list[tuple[str, str, str, dict[str, Any]]] = [
        (student, method, method, {}) for student in STUDENTS for method in SWEEP_METHODS
    ]
    swept.append((ABLATION_STUDENT, "aicsd", RELEASED_ICSD, {"icsd_variant": "official"}))
    runs = [
        LabelledRun("sweep", "none", student_run(profile, backbone=student, method="none", seed=seed, **place))
        for student in STUDENTS
        for seed in settings.tuning_seeds
        if settings.sweep_factors_on(dataset)
    ]
    for student, method, key, fields in swept:
        term = swept_term(method)
        default = resolve(method, **fields).term(term).weight
        for factor in settings.sweep_factors_on(dataset):
            for seed in settings.tuning_seeds:
                config = student_run(
                    profile, backbone=student, method=method, seed=seed, **place, **fields, **{f"{term}_weight": default * factor}
                )
                runs.append(LabelledRun("sweep", sweep_label(key, factor), config))
    return runs


def reproduced_sweep(
    profile: str,
    *,
    dataset: str = "synthetic",
    data_root: str | None = None,
    device: str = "auto",
) -> list[LabelledRun]:
    """The rows of :func:`weight_sweep` a reproduction trains: all of them where it chooses its own
    weights; where the weights are committed (:func:`committed_record`), only the rows the main
    results chapter probes for feature collapse (:data:`COLLAPSE_PROBE_STUDENT`'s plain runs and its
    :data:`COLLAPSE_PROBE_METHODS` at every factor): the committed record holds the rest."""
    sweep = weight_sweep(profile, dataset=dataset, data_root=data_root, device=device)
    if committed_record(profile, dataset) is None:
        return sweep
    probed = ("none", *COLLAPSE_PROBE_METHODS)
    return [run for run in sweep if run.config.backbone == COLLAPSE_PROBE_STUDENT and sweep_key(run.label) in probed]


def chosen_weights(sweep: pd.DataFrame) -> StudentWeights:
    """Per student and swept method (:func:`sweep_key`), the swept weight with the best mean
    ``val_miou`` (ties: the smaller weight), as settings for :func:`main_table` and
    :func:`ablations`. ``sweep`` is :func:`collect` of :func:`weight_sweep`."""
    chosen: StudentWeights = {}
    tuned = sweep[sweep["method"] != "none"]
    for (backbone, swept, method), runs in tuned.assign(swept=tuned["label"].map(sweep_key)).groupby(
        ["backbone", "swept", "method"], sort=False
    ):
        key = f"{swept_term(method)}_weight"
        means = runs.groupby(key)["val_miou"].mean()
        chosen.setdefault(backbone, {})[swept] = {key: float(means[means == means.max()].index.min())}
    return chosen


def ablations(
    profile: str,
    *,
    dataset: str = "synthetic",
    data_root: str | None = None,
    device: str = "auto",
    seeds: Sequence[int] | None = None,
    weights: StudentWeights | None = None,
    temperatures: Sequence[float] = TEMPERATURES,
    icsd_weight_factors: Sequence[float] = ICSD_WEIGHT_FACTORS,
) -> list[LabelledRun]:
    """The ResNet-18 student's ablations, the components and the ICSD variants over every seed and
    the others over the profile's first ``detail_seeds``, with the ResNet-18 weights of ``weights``
    (:func:`chosen_weights`; ICSD + KD uses AICSD's):

    - ``components``: ICSD alone, KD alone, ICSD + KD with fixed weights, ICSD + KD under ALW (AICSD);
    - ``alw``: AICSD with ALW per epoch (the released form) and per optimiser step;
    - ``variant``: AICSD with the paper's ICSD vs the released code's arithmetic, each at the
      weight the sweep chose for it (:data:`RELEASED_ICSD`; its default when not swept);
    - ``temperature``: ICSD alone and KD alone at each of ``temperatures``, apart, because KD's
      loss carries a T^2 factor and ICSD's none (varied together, a temperature would change
      two things at once);
    - ``icsd_weight``: AICSD with the chosen ICSD weight times each of ``icsd_weight_factors``.

    Rows at the chosen settings are the same runs as the main table's AICSD (and ICSD alone, KD
    alone at T = 1 the components' runs).
    """
    place = {"dataset": dataset, "data_root": data_root, "device": device}
    seeds = seeds_of(profile) if seeds is None else tuple(seeds)
    detail_seeds = seeds[: PROFILES[profile].detail_seeds_on(dataset)]
    weights = (weights or {}).get(ABLATION_STUDENT, {})
    aicsd = weights.get("aicsd", {})

    def run(group: str, label: str, **fields: Any) -> list[LabelledRun]:
        group_seeds = seeds if group in ("components", "variant") else detail_seeds
        return [
            LabelledRun(group, label, student_run(profile, backbone=ABLATION_STUDENT, seed=seed, **place, **fields))
            for seed in group_seeds
        ]

    icsd_weight = aicsd.get("icsd_weight", resolve("aicsd").term("icsd").weight)
    runs = [
        *run("components", "ICSD", method="icsd", **weights.get("icsd", {})),
        *run("components", "KD", method="kd", **weights.get("kd", {})),
        *run("components", "ICSD + KD", method="icsd+kd", **aicsd),
        *run("components", "ICSD + KD + ALW (AICSD)", method="aicsd", **aicsd),
    ]
    for form in ALW_FORMS_COMPARED:
        runs += run("alw", f"ALW per {form}", method="aicsd", alw=form, **aicsd)
    runs += [
        *run("variant", "paper ICSD", method="aicsd", **aicsd),
        *run("variant", "released ICSD", method="aicsd", icsd_variant="official", **weights.get(RELEASED_ICSD, {})),
    ]
    for term in ("icsd", "kd"):
        for temperature in temperatures:
            runs += run("temperature", f"{term.upper()} alone, T = {temperature:g}", method=term, temperature=temperature, **weights.get(term, {}))
    for factor in icsd_weight_factors:
        runs += run("icsd_weight", f"{factor:g} x {icsd_weight:.3g}", method="aicsd", icsd_weight=icsd_weight * factor)
    return runs


def prepare_data(config: RunConfig) -> Path:
    """The dataset root of ``config``, generating the default synthetic dataset there if the folder
    holds none (an existing generated set, of any parameters, is kept as it is)."""
    if config.dataset == "synthetic":
        generate_if_absent(Path(config.data_root))
    return Path(config.data_root)


def report_split(config: RunConfig) -> str:
    """The split the book reports: the held-out ``test_split`` when the config has one (the
    generated dataset), else ``val``, as the paper does for VOC and Cityscapes."""
    return config.test_split or config.val_split


def _train_stream(configs: Sequence[RunConfig], test: bool = True) -> list[str]:
    """Train student runs one after another, sharing one :class:`TeacherOutputCache` and one
    :class:`~aicsd.data.decoded.DecodedImages`; ``test`` evaluates their held-out split too."""
    cache, decoded = TeacherOutputCache(), DecodedImages()
    for config in configs:
        distill(config, teacher_cache=cache, decoded=decoded, evaluate_test=test)
    return [run_id(config) for config in configs]


def teacher_streams(configs: Iterable[RunConfig], workers: int = 1) -> list[list[RunConfig]]:
    """Student runs grouped by what fixes their batches and teacher: student network and width,
    seed and teacher (so a group's runs read each other's teacher outputs), for ``workers``
    parallel processes.

    With several workers, a group longer than ``ceil(runs / (2 * workers))`` is cut into near-equal
    consecutive parts, so that no worker is left alone with one long group at the end (each part
    computes the teacher's outputs once more). Largest first, so that the workers finish together;
    the order inside a group is kept.
    """
    groups: dict[tuple[Any, ...], list[RunConfig]] = {}
    for config in configs:
        teacher = teacher_run_id(config) if config.uses_teacher and config.teacher_checkpoint is None else config.teacher_checkpoint
        groups.setdefault((config.backbone, config.width_multiplier, config.seed, teacher), []).append(config)
    total = sum(len(group) for group in groups.values())
    limit = max(1, math.ceil(total / (2 * workers))) if workers > 1 else max(1, total)
    parts = []
    for group in groups.values():
        count = math.ceil(len(group) / limit)
        size, extra = divmod(len(group), count)
        start = 0
        for index in range(count):
            end = start + size + (1 if index < extra else 0)
            parts.append(group[start:end])
            start = end
    return sorted(parts, key=len, reverse=True)


def default_workers(configs: Iterable[RunConfig]) -> int:
    """Parallel processes for the students: one per CPU core on the CPU, one on a GPU."""
    devices = {c.device for c in configs}
    on_gpu = torch.cuda.is_available() and devices <= {"auto", "cuda"} or any(d.startswith("cuda") for d in devices)
    return 1 if on_gpu else max(1, min(os.cpu_count() or 1, 4))


PARENT_POLL_S = 1.0
"""How often a pool worker checks that the process that started it is still alive."""


def _watch_parent(parent: int) -> None:
    """Pool worker initializer: end the worker within :data:`PARENT_POLL_S` of its parent's death.

    A worker whose parent dies (the notebook's kernel when ``make reproduce`` is killed) would
    finish the runs queued to it and then wait forever; a daemon thread notices the new parent
    process id and ends the worker instead. Its run resumes from the last checkpoint next time.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        try:  # stderr may be a pipe to the dead parent
            print(f"aicsd worker {os.getpid()}: parent process {parent} ended; stopping", file=sys.stderr, flush=True)
        finally:
            os._exit(1)

    threading.Thread(target=watch, name="aicsd-parent-watch", daemon=True).start()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` spawned processes that end when this process dies (:func:`_watch_parent`)."""
    return ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_watch_parent, initargs=(os.getpid(),)
    )


def run_all(runs: Sequence[LabelledRun | RunConfig], *, workers: int | None = None, test: bool = True) -> list[str]:
    """Train every run of ``runs`` (labelled or plain configs) not yet finished; returns the run ids.

    Teachers (of the runs and of their students) are trained first, one at a time; the students
    then run in ``workers`` processes (each with one intra-op thread when more than one), which
    end when this process dies. Each process trains whole :func:`teacher_streams` groups, whose
    runs share the frozen teacher's outputs (:class:`~aicsd.engine.teacher_cache.TeacherOutputCache`). Finished runs are read back, unfinished ones resume from their
    last checkpoint; a run another process is training (a second ``make reproduce``) is waited
    for and then read back (:func:`aicsd.engine.runstore.run_lock`), so each run trains once.

    ``test=False`` leaves the students' held-out test split unevaluated, for runs whose only use is
    a choice on ``val`` (:func:`weight_sweep`); with ``test=True`` a finished run without its test
    metrics gets them (from its final checkpoint), so a swept run the main table reuses reports
    ``test`` like the others.
    """
    configs = list(dict.fromkeys(r.config if isinstance(r, LabelledRun) else r for r in runs))
    teachers = [c for c in configs if c.kind == "teacher"]
    derived = [teacher_config(c) for c in configs if c.uses_teacher and c.teacher_checkpoint is None]
    named = {teacher_run_id(c) for c in configs if c.uses_teacher and c.teacher_checkpoint is None}
    teachers += [teacher for teacher in derived if run_id(teacher) in named]
    for teacher in dict.fromkeys(teachers):
        train_teacher(teacher, decoded=DecodedImages())
    students = [c for c in configs if c.kind == "student" and _needs_work(c, test)]
    workers = default_workers(students) if workers is None else workers
    if workers > 1 and len(students) > 1:
        streams = teacher_streams((replace(c, threads=1) for c in students), workers)
        with worker_pool(workers) as pool:
            list(pool.map(_train_stream, streams, [test] * len(streams)))
    else:
        for stream in teacher_streams(students):
            _train_stream(stream, test)
    return [run_id(c) for c in configs]


def _needs_work(config: RunConfig, test: bool) -> bool:
    """Whether ``config``'s run has not finished, or (with ``test``) lacks its test metrics."""
    result = read_result(run_dir(config))
    return result is None or (test and lacks_test_metrics(config, result))


def collect(runs: Sequence[LabelledRun], *, test: bool = True) -> pd.DataFrame:
    """One :func:`aicsd.results.run_row` per run, with its ``group`` and ``label`` in front.

    The metrics are the reported ones (final weights on the held-out ``test`` split when the run has
    one, else val; the ``split`` column says which), the same numbers ``python -m aicsd runs``
    prints. ``test=False`` reports val for every run (the weight sweep, trained by
    ``run_all(..., test=False)``). Raises FileNotFoundError naming the first run that has not
    finished, or (with ``test``) has not been evaluated on its test split (call :func:`run_all`).
    """
    rows = []
    for run in runs:
        result = read_result(run_dir(run.config))
        name = f"run {run_id(run.config)} ({run.group}: {run.label})"
        if result is None:
            raise FileNotFoundError(f"{name} has not finished; call run_all")
        if test and lacks_test_metrics(run.config, result):
            raise FileNotFoundError(f"{name} was trained without its test evaluation (a weight-sweep run); call run_all, which adds it")
        rows.append({"group": run.group, "label": run.label, **run_row(run_dir(run.config), test=test)})
    return pd.DataFrame(rows)
