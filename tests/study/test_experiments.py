"""The book's run grids, the parallel runner and result collection."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pandas as pd
import pytest

from aicsd.study import experiments
from aicsd.data import make_synthetic
from aicsd.engine import PROFILES, load_profile
from aicsd.results import reported_metrics


def test_cpu_grids_have_every_cell_and_share_identical_runs():
    main = experiments.main_table("cpu")
    ablations = experiments.ablations("cpu")
    assert len(main) == 2 * 8 * 5
    assert {(r.config.backbone, r.config.method) for r in main} == {
        (s, m) for s in experiments.STUDENTS for m in experiments.MAIN_METHODS
    }
    assert {r.group for r in ablations} == {"components", "alw", "variant", "temperature", "icsd_weight"}
    assert all(r.config.backbone == experiments.ABLATION_STUDENT for r in ablations)
    unique = {r.config for r in main + ablations}
    # components and variants over 5 seeds, the other ablations over 3; their default-setting rows
    # (KD, AICSD, ALW per step, paper ICSD, ICSD and KD alone at T = 1, 1 x) are main-table or
    # components runs: ICSD alone, ICSD + KD, released ICSD (5 each), ALW per epoch (3), ICSD and
    # KD alone at T = 2 and 4 (3 each), AICSD at two other ICSD weights (3 each)
    assert len(unique) == 80 + 10 + 5 + 3 + 12 + 6
    assert {r.config.seed for r in ablations if r.group in ("components", "variant")} == {0, 1, 2, 3, 4}
    assert {r.config.seed for r in ablations if r.group == "temperature"} == {0, 1, 2}
    temperature = {(r.config.method, r.config.distillation.terms[0].temperature) for r in ablations if r.group == "temperature"}
    assert temperature == {(m, t) for m in ("icsd", "kd") for t in (1.0, 2.0, 4.0)}
    released = [r.config for r in ablations if r.label == "released ICSD"]
    assert {c.distillation.term("icsd").variant for c in released} == {"official"}
    assert experiments.seeds_of("smoke") == (0,)
    with pytest.raises(ValueError, match="valid: smoke, cpu, paper"):
        experiments.seeds_of("gpu")


def test_camvid_sweeps_its_own_factors_and_runs_the_detail_ablations_on_one_seed():
    place = {"dataset": "camvid", "data_root": "/nonexistent/camvid"}
    factors = PROFILES["cpu"].sweep_factors_on("camvid")
    assert factors != PROFILES["cpu"].sweep_factors
    swept = {run.label for run in experiments.weight_sweep("cpu", **place)}
    assert swept == {experiments.sweep_label(m, f) for m in (*experiments.SWEEP_METHODS, experiments.RELEASED_ICSD) for f in factors} | {"none"}
    seeds = {}
    for run in experiments.ablations("cpu", **place):
        seeds.setdefault(run.group, set()).add(run.config.seed)
    everyone = set(PROFILES["cpu"].seeds)
    assert seeds == {"components": everyone, "variant": everyone, "alw": {0}, "temperature": {0}, "icsd_weight": {0}}


def test_weight_sweep_gives_every_method_the_same_budget_on_each_student_and_the_choice_is_made_on_val_per_student():
    sweep = experiments.weight_sweep("cpu")
    per_cell = {}
    for run in sweep:
        per_cell.setdefault((run.config.backbone, experiments.sweep_key(run.label)), set()).add(run.config)
    factors = PROFILES["cpu"].sweep_factors
    assert set(per_cell) == {(s, m) for s in experiments.STUDENTS for m in (*experiments.SWEEP_METHODS, "none")} | {
        (experiments.ABLATION_STUDENT, experiments.RELEASED_ICSD)
    }
    assert {len(configs) for key, configs in per_cell.items() if key[1] != "none"} == {len(factors)}
    released = per_cell[(experiments.ABLATION_STUDENT, experiments.RELEASED_ICSD)]
    assert {c.distillation.term("icsd").variant for c in released} == {"official"}
    assert experiments.weight_sweep("paper") == []
    assert {run.label for run in sweep} == {experiments.sweep_label(m, f) for m in (*experiments.SWEEP_METHODS, experiments.RELEASED_ICSD) for f in factors} | {"none"}
    assert experiments.sweep_label("sp", 0.0625) == "sp x0.0625"
    frame = pd.DataFrame(
        [
            {"backbone": "resnet18", "method": "kd", "label": "kd x1", "kd_weight": 1.0, "val_miou": 0.40, "miou": 0.9},
            {"backbone": "resnet18", "method": "kd", "label": "kd x4", "kd_weight": 4.0, "val_miou": 0.45, "miou": 0.1},
            {"backbone": "resnet18", "method": "aicsd", "label": "aicsd x1", "icsd_weight": 2.0, "val_miou": 0.30, "miou": 0.5},
            {"backbone": "resnet18", "method": "aicsd", "label": "aicsd x4", "icsd_weight": 8.0, "val_miou": 0.30, "miou": 0.5},
            {"backbone": "resnet18", "method": "aicsd", "label": f"{experiments.RELEASED_ICSD} x1", "icsd_weight": 3.0, "val_miou": 0.1, "miou": 0.5},
            {"backbone": "resnet18", "method": "aicsd", "label": f"{experiments.RELEASED_ICSD} x4", "icsd_weight": 12.0, "val_miou": 0.2, "miou": 0.5},
            {"backbone": "resnet18", "method": "none", "label": "none", "val_miou": 0.9, "miou": 0.9},
            {"backbone": "mobilenet_v2", "method": "kd", "label": "kd x1", "kd_weight": 1.0, "val_miou": 0.20, "miou": 0.1},
            {"backbone": "mobilenet_v2", "method": "kd", "label": "kd x4", "kd_weight": 4.0, "val_miou": 0.05, "miou": 0.9},
        ]
    )
    chosen = experiments.chosen_weights(frame)
    assert chosen == {
        "resnet18": {"kd": {"kd_weight": 4.0}, "aicsd": {"icsd_weight": 2.0}, experiments.RELEASED_ICSD: {"icsd_weight": 12.0}},
        "mobilenet_v2": {"kd": {"kd_weight": 1.0}},
    }
    assert experiments.chosen_at_sweep_edge(frame, chosen) == [
        "kd (resnet18, largest)", "aicsd (resnet18, smallest)", f"{experiments.RELEASED_ICSD} (resnet18, largest)", "kd (mobilenet_v2, smallest)"
    ]
    main = experiments.main_table("cpu", weights=chosen)
    kd_weights = {(r.config.backbone, r.config.distillation.term("kd").weight) for r in main if r.config.method == "kd"}
    assert kd_weights == {("resnet18", 4.0), ("mobilenet_v2", 1.0)}
    ablations = experiments.ablations("cpu", weights=chosen)
    assert {r.config.distillation.term("kd").weight for r in ablations if r.config.method == "kd"} == {4.0}  # ResNet-18's
    released = [r.config for r in ablations if r.label == "released ICSD"]
    assert {c.distillation.term("icsd").weight for c in released} == {12.0}  # at its own tuned weight


def test_no_tuning_seed_is_a_reporting_seed():
    for name, profile in PROFILES.items():
        assert not set(profile.tuning_seeds) & set(profile.seeds), name
    reported = {r.config.seed for r in experiments.main_table("cpu") + experiments.ablations("cpu")}
    tuned = {r.config.seed for r in experiments.weight_sweep("cpu")}
    assert tuned and reported and not tuned & reported
    with pytest.raises(ValueError, match="also reporting seeds"):
        dataclasses.replace(PROFILES["cpu"], tuning_seeds=(0,))


def test_report_split_and_reported_metrics():
    assert experiments.report_split(load_profile("cpu")) == "test"
    assert experiments.report_split(load_profile("paper", dataset="voc")) == "val"
    assert reported_metrics({"final": {"miou": 0.1}, "test": {"miou": 0.2}}) == {"miou": 0.2}
    assert reported_metrics({"final": {"miou": 0.1}, "test": None}) == {"miou": 0.1}


def test_run_all_trains_teacher_then_students_and_collect_reads_them(tmp_path):
    data = make_synthetic(tmp_path / "data", num_train=8, num_val=3, num_test=3, image_size=(32, 40))
    fields = {"output_dir": str(tmp_path / "runs"), "device": "cpu"}
    runs = [
        experiments.LabelledRun("t", m, experiments.student_run("smoke", backbone="resnet18", method=m, seed=0, data_root=str(data), **fields))
        for m in ("none", "aicsd")
    ]
    with pytest.raises(FileNotFoundError, match="has not finished"):
        experiments.collect(runs)
    ids = experiments.run_all(runs, workers=1)
    assert len(ids) == 2
    table = experiments.collect(runs)
    assert list(table["method"]) == ["none", "aicsd"]
    assert set(table["split"]) == {"test"}
    assert table["miou"].between(0, 1).all()
    assert experiments.run_all(runs, workers=1) == ids


def test_teacher_streams_group_runs_that_see_the_same_batches_largest_first():
    main = [r.config for r in experiments.main_table("cpu", seeds=(0, 1))]
    extra = [r.config for r in experiments.weight_sweep("cpu") if r.config.backbone == "resnet18" and r.config.uses_teacher]
    streams = experiments.teacher_streams(main + extra)
    assert len(streams) == 2 * 2 * 2 + 1  # (student, seed), with a teacher or without (the plain students), and the sweep's seed
    assert sum(len(s) for s in streams) == len(main) + len(extra)
    for stream in streams:
        assert len({(c.backbone, c.width_multiplier, c.seed, c.uses_teacher) for c in stream}) == 1
    assert [len(s) for s in streams] == sorted((len(s) for s in streams), reverse=True)
    assert streams[0] == extra  # the largest group first, its order kept
    distilled = [c for c in main if c.backbone == "resnet18" and c.seed == 0 and c.uses_teacher]
    assert streams[1] == distilled


def test_teacher_streams_cut_long_groups_so_that_parallel_workers_finish_together():
    sweep = [r.config for r in experiments.weight_sweep("cpu") if r.config.backbone == "resnet18" and r.config.uses_teacher]
    main = [r.config for r in experiments.main_table("cpu", seeds=(3,)) if r.config.backbone == "mobilenet_v2" and r.config.uses_teacher]
    configs = sweep + main
    whole = experiments.teacher_streams(configs)
    parts = experiments.teacher_streams(configs, workers=2)
    assert [len(part) for part in whole] == [len(sweep), len(main)]
    assert [len(part) for part in parts] == [9, 9, 9, len(main)]  # the sweep's 27 runs cut in three parts of at most ceil(34 / 4)
    assert Counter(c for part in parts for c in part) == Counter(configs)
    for group in whole:  # each group is cut into consecutive, near-equal parts
        pieces = [part for part in parts if part[0] in group]
        assert [c for piece in sorted(pieces, key=lambda p: group.index(p[0])) for c in piece] == group
        assert max(map(len, pieces)) - min(map(len, pieces)) <= 1
