"""The book's run grids, the parallel runner and result collection."""

from __future__ import annotations

import pandas as pd
import pytest

from aicsd.study import experiments
from aicsd.data import make_synthetic
from aicsd.engine import PROFILES, load_profile
from aicsd.losses import resolve
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
    # components over 5 seeds, the other ablations over 3; their default-setting rows (KD, AICSD,
    # ALW per step, paper ICSD, T = 1, 1 x) are main-table runs
    assert len(unique) == 80 + 10 + 3 + 3 + 6 + 6
    assert {r.config.seed for r in ablations if r.group == "components"} == {0, 1, 2, 3, 4}
    assert {r.config.seed for r in ablations if r.group == "temperature"} == {0, 1, 2}
    released = [r.config for r in ablations if r.label == "released ICSD"]
    assert {c.distillation.term("icsd").variant for c in released} == {"official"}
    assert experiments.seeds_of("smoke") == (0,)
    with pytest.raises(ValueError, match="valid: smoke, cpu, paper"):
        experiments.seeds_of("gpu")


def test_weight_sweep_gives_every_method_the_same_budget_and_the_choice_is_made_on_val():
    sweep = experiments.weight_sweep("cpu")
    per_method = {}
    for run in sweep:
        per_method.setdefault(run.config.method, set()).add(run.config)
    assert set(per_method) == set(experiments.SWEEP_METHODS)
    assert {len(configs) for configs in per_method.values()} == {len(PROFILES['cpu'].sweep_factors) * 2}
    assert experiments.weight_sweep("paper") == []
    frame = pd.DataFrame(
        [
            {"method": "kd", "kd_weight": 1.0, "val_miou": 0.40, "miou": 0.9},
            {"method": "kd", "kd_weight": 4.0, "val_miou": 0.45, "miou": 0.1},
            {"method": "aicsd", "icsd_weight": 2.0, "val_miou": 0.30, "miou": 0.5},
            {"method": "aicsd", "icsd_weight": 8.0, "val_miou": 0.30, "miou": 0.5},
        ]
    )
    assert experiments.chosen_weights(frame) == {"kd": {"kd_weight": 4.0}, "aicsd": {"icsd_weight": 2.0}}
    assert experiments.chosen_at_largest_factor(frame, experiments.chosen_weights(frame)) == ["kd"]
    chosen = experiments.main_table("cpu", weights={"kd": {"kd_weight": 4.0}})
    assert {r.config.distillation.term("kd").weight for r in chosen if r.config.method == "kd"} == {4.0}


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


def test_sp_probe_tries_every_factor_of_sp_on_mobilenet_v2_beside_the_plain_student():
    probe = experiments.sp_probe("cpu")
    default = resolve("sp").term("sp").weight
    seeds = PROFILES["cpu"].seeds[: PROFILES["cpu"].sweep_seeds]
    assert {run.config.backbone for run in probe} == {"mobilenet_v2"}
    plain = [run for run in probe if run.label == "none"]
    assert [run.config.seed for run in plain] == list(seeds) and {run.config.method for run in plain} == {"none"}
    weights = sorted({run.config.distillation.term("sp").weight for run in probe if run.config.method == "sp"})
    factors = sorted({*experiments.SP_PROBE_FACTORS, *PROFILES["cpu"].sweep_factors})
    assert weights == pytest.approx([default * factor for factor in factors])
    assert max(factors) == max(PROFILES["cpu"].sweep_factors)  # every weight the sweep can choose is probed
    assert len(probe) == len(seeds) * (1 + len(factors))
    for run in probe:
        if run.config.method == "sp":
            assert run.label == experiments.sp_probe_label(run.config.distillation.term("sp").weight)
    assert experiments.sp_probe_label(4 * default) == "sp x4"
