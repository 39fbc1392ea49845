"""Tables: mean +- std over seeds, the paper beside ours, recipes from the configs."""

from __future__ import annotations

import math
import json

import pandas as pd
import pytest

from aicsd.study import experiments, tables


def _runs() -> pd.DataFrame:
    rows = []
    for backbone, base in (("resnet18", 0.50), ("mobilenet_v2", 0.40)):
        for method, gain in (("none", 0.0), ("kd", 0.01), ("aicsd", 0.03)):
            for seed, noise in enumerate((-0.01, 0.0, 0.01)):
                rows.append({"backbone": backbone, "method": method, "seed": seed, "miou": base + gain + noise, "pixel_accuracy": 0.9, "group": "main", "label": method})
    return pd.DataFrame(rows)


def test_summary_gives_percent_mean_std_and_count():
    summary = tables.summary(_runs(), ["backbone", "method"]).set_index(["backbone", "method"])
    assert summary.loc[("resnet18", "aicsd"), "mean"] == pytest.approx(53.0)
    assert summary.loc[("resnet18", "aicsd"), "std"] == pytest.approx(1.0)
    assert summary.loc[("resnet18", "aicsd"), "n"] == 3
    with pytest.raises(ValueError, match="available"):
        tables.summary(_runs(), ["backbone"], metric="fwiou")


def test_main_results_puts_the_paper_beside_ours():
    table = tables.main_results(_runs(), {"miou": 0.7, "pixel_accuracy": 0.95}, "resnet101")
    assert list(table.columns) == ["student", "method", "ours mIoU", "ours pixel acc.", "ours gain", "paper mIoU (VOC)", "paper gain"]
    assert table.iloc[0]["ours mIoU"] == "70.00" and table.iloc[0]["paper mIoU (VOC)"] == "77.85"
    aicsd = table[(table["student"] == "S1: ResNet-18") & (table["method"] == "+ AICSD")].iloc[0]
    assert aicsd["ours mIoU"] == "53.00 ± 1.00" and aicsd["ours gain"] == "+3.00"
    assert aicsd["paper mIoU (VOC)"] == "70.03 ± 0.13" and aicsd["paper gain"] == "+2.53"
    assert len(table) == 1 + 2 * 3


def test_ablation_rows_and_missing_group():
    table = tables.ablation(_runs(), "main")
    assert list(table["setting"]) == ["none", "kd", "aicsd"] and set(table["seeds"]) == {6}
    with pytest.raises(ValueError, match="no runs"):
        tables.ablation(_runs(), "temperature")


def test_recipe_is_read_from_the_profiles():
    recipe = tables.recipe()
    assert recipe.loc["crop", ("paper (voc)", "student")] == "513"
    assert recipe.loc["train split", ("paper (voc)", "teacher")] == "train_aug"
    assert recipe.loc["seeds per cell", ("cpu (synthetic)", "student")] == "5"


def test_benchmark_records_are_read_from_the_results_folder(tmp_path):
    record = {"device": "cpu", "threads": 2, "date": "2026-11-25T00:00:00", "rows": [{"a": 1}]}
    (tmp_path / "bench_x-cpu.json").write_text(json.dumps(record))
    (records,) = tables.benchmark_records("bench_x", tmp_path)
    frame = tables.benchmark_table(records)
    assert frame.iloc[0].to_dict() == {"a": 1, "device": "cpu", "threads": 2, "date": "2026-11-25"}


def test_benchmark_tables_are_empty_but_shaped_without_records(tmp_path):
    assert list(tables.loss_benchmarks(tmp_path).columns) == tables.LOSS_BENCHMARK_COLUMNS
    assert tables.step_benchmarks(tmp_path).empty


def test_main_numbers_are_the_glued_gains_and_gaps():
    numbers = tables.main_numbers(_runs(), {"miou": 0.7, "pixel_accuracy": 0.95})
    assert numbers["main_resnet18_aicsd_miou"] == pytest.approx(53.0)
    assert numbers["main_resnet18_aicsd_gain"] == pytest.approx(3.0)
    assert numbers["main_mobilenet_v2_teacher_gap"] == pytest.approx(30.0)
    assert numbers["main_resnet18_aicsd_vs_best_baseline"] == pytest.approx(2.0)
    assert numbers["paper_resnet18_aicsd_gain"] == pytest.approx(2.53)


def test_glue_keys_are_sanitised():
    table = tables.summary(_runs().assign(label="T = 1"), ["group", "label"])
    assert tables.glue_keys(table, ["group", "label"], "ablation") == {"ablation_main_t___1": pytest.approx((51 + 41) / 2 + 1 / 3)}


def test_collapsed_runs_are_those_below_half_their_cells_median():
    frame = pd.DataFrame(
        {
            "group": ["main"] * 6,
            "label": ["sp"] * 3 + ["kd", "none", "none"],
            "method": ["sp"] * 3 + ["kd", "none", "none"],
            "backbone": ["r18"] * 6,
            "seed": [0, 1, 2, 0, 0, 1],
            "miou": [0.40, 0.38, 0.10, 0.35, 0.30, 0.34],
        }
    )
    flagged = tables.collapsed_runs(frame)
    assert list(flagged["seed"]) == [2] and list(flagged["label"]) == ["sp"]
    whole_cell = frame.assign(miou=[0.04, 0.04, 0.04, 0.35, 0.30, 0.34])
    assert list(tables.collapsed_runs(whole_cell)["label"]) == ["sp", "sp", "sp"]
    background_only = frame.assign(per_class_iou=[[0.9, 0.0, 0.0]] + [[0.9, 0.2, float("nan")]] * 5)
    assert list(tables.collapsed_runs(background_only)["seed"]) == [0, 2]


def test_claims_view_formats_points_and_intervals():
    claims = pd.DataFrame(
        {
            "claim": ["a", "b"],
            "metric": ["miou", "ics_distance"],
            "gain": [0.0123, 0.00123],
            "ci_low": [0.001, 0.0005],
            "ci_high": [0.02, 0.002],
            "p_value": [0.012, 0.0004],
            "p_holm": [0.024, 0.0008],
            "detectable_gain": [0.015, 0.001],
            "n": [5, 5],
            "verdict": ["supported", "supported"],
            "raw_verdict": ["supported", "supported"],
        }
    )
    view = tables.claims_view(claims)
    assert view.iloc[0].to_dict() == {
        "claim": "a",
        "metric": "mIoU",
        "paired gain": "+1.23",
        "95 % interval": "[+0.10, +2.00]",
        "p": "0.012",
        "p (Holm)": "0.024",
        "detectable": "1.50",
        "seeds": 5,
        "verdict": "supported",
        "raw verdict": "supported",
    }
    assert view.iloc[1]["p"] == "< 0.001"
    assert view.iloc[1]["paired gain"] == "+0.00123" and view.iloc[1]["metric"] == "ics distance"


def test_collapse_view_counts_collapsed_runs_per_weight_and_averages_the_diagnosis():
    probed = pd.DataFrame(
        {
            "label": ["none", "none", "sp x1", "sp x1", "kd x4", "kd x4"],
            "method": ["none", "none", "sp", "sp", "kd", "kd"],
            "backbone": ["mobilenet_v2"] * 6,
            "sp_weight": [float("nan"), float("nan"), 3000.0, 3000.0, float("nan"), float("nan")],
            "kd_weight": [float("nan")] * 4 + [2.0, 2.0],
            "val_miou": [0.12, 0.14, 0.13, 0.02, 0.15, 0.15],
            "miou": [0.11, 0.13, 0.12, 0.03, 0.14, 0.16],
            "split": ["test"] * 6,
            "pairwise_cosine": [0.3, 0.4, 0.5, 0.9, 0.3, 0.3],
            "first_stage_cosine": [0.1, 0.1, 0.2, 1.0, 0.1, 0.1],
            "shared_energy": [0.4, 0.4, 0.5, 0.9, 0.4, 0.4],
            "bn_shift_ratio": [0.0, 0.0, 0.5, 1.5, 0.0, 0.0],
        }
    )
    view = tables.collapse_view(probed)
    assert list(view.index) == ["none", "sp x1", "kd x4"]
    assert list(view["weight"]) == ["-", "3000", "2"]
    assert list(view["collapsed runs"]) == ["0 of 2", "1 of 2", "0 of 2"]  # 0.03 < half of the plain students' median
    assert view.loc["sp x1", "val mIoU (%)"] == pytest.approx(7.5)
    assert view.loc["sp x1", "test mIoU (%)"] == pytest.approx(7.5)
    assert "test mIoU (%)" not in tables.collapse_view(probed.assign(split="val", miou=probed["val_miou"])).columns
    assert view.loc["sp x1", "|β| / |γ|"] == pytest.approx(1.0)
    assert view.loc["sp x1", "stage-1 cosine"] == pytest.approx(0.6)


def test_weight_sweep_table_marks_each_students_own_choice():
    sweep = pd.DataFrame(
        {
            "backbone": ["resnet18", "resnet18", "mobilenet_v2", "mobilenet_v2"],
            "method": ["sp"] * 4,
            "label": ["sp x1", "sp x4"] * 2,
            "seed": [100] * 4,
            "sp_weight": [750.0, 3000.0, 750.0, 3000.0],
            "val_miou": [0.20, 0.30, 0.15, 0.05],
        }
    )
    chosen = {"resnet18": {"sp": {"sp_weight": 3000.0}}, "mobilenet_v2": {"sp": {"sp_weight": 750.0}}}
    frame = tables.weight_sweep_table(sweep, chosen).frame
    assert list(frame["student"]) == ["S1: ResNet-18", "S1: ResNet-18", "S2: MobileNetV2", "S2: MobileNetV2"]
    assert list(frame["weight"]) == ["sp 750", "sp 3000", "sp 750", "sp 3000"]
    assert list(frame["chosen"]) == ["", "yes", "yes", ""]
    assert list(frame["seeds"]) == ["100"] * 4


def test_first_step_gradient_view_puts_both_students_side_by_side():
    norms = {
        ("resnet18", "sp"): {"ce": 10.0, "sp": 400.0},
        ("mobilenet_v2", "sp"): {"ce": 50.0, "sp": 12000.0},
        ("resnet18", "kd"): {"ce": 10.0, "kd": 20.0},
        ("mobilenet_v2", "kd"): {"ce": 50.0, "kd": 100.0},
    }
    view = tables.first_step_gradient_view(norms)
    assert list(view["method"]) == ["SP", "KD"]
    assert list(view.columns) == [
        "method", "ResNet-18 ‖∇ term‖", "ResNet-18 term / CE", "MobileNetV2 ‖∇ term‖", "MobileNetV2 term / CE", "MobileNetV2 / ResNet-18",
    ]
    assert view.iloc[0]["ResNet-18 term / CE"] == pytest.approx(40.0)
    assert view.iloc[0]["MobileNetV2 term / CE"] == pytest.approx(240.0)
    assert view.iloc[0]["MobileNetV2 / ResNet-18"] == pytest.approx(30.0)
    assert view.iloc[1]["MobileNetV2 / ResNet-18"] == pytest.approx(5.0)


def test_teacher_cache_benchmark_pairs_each_methods_phases(tmp_path):
    table, record = tables.teacher_cache_benchmark(tmp_path)
    assert table.empty and record is None and "recompute / shared" in table.columns
    rows = [
        {"phase": "recompute", "method": "kd", "seconds": 10.0},
        {"phase": "recompute", "method": "sp", "seconds": 12.0},
        {"phase": "shared", "method": "kd", "seconds": 10.0},
        {"phase": "shared", "method": "sp", "seconds": 8.0},
    ]
    (tmp_path / "bench_teacher_cache-cpu.json").write_text(json.dumps({"date": "2026-11-26T00:00:00", "rows": rows}))
    table, record = tables.teacher_cache_benchmark(tmp_path)
    assert list(table["method"]) == ["kd", "sp"]
    assert list(table["recompute / shared"]) == pytest.approx([1.0, 1.5])
    assert record["date"].startswith("2026-11-26")


def test_cpu_options_benchmark_reads_the_newest_record_in_milliseconds(tmp_path):
    table, record = tables.cpu_options_benchmark(tmp_path)
    assert table.empty and record is None and "option / as is" in table.columns
    rows = [
        {"option": "decode", "student": None, "baseline_s": 0.010, "option_s": 0.005, "ratio": 0.5},
        {"option": "vmap", "student": "resnet18", "baseline_s": 0.050, "option_s": 0.055, "ratio": 1.1, "seeds": 5},
    ]
    (tmp_path / "bench_cpu_options-cpu.json").write_text(json.dumps({"date": "2026-11-26T00:00:00", "rows": rows}))
    (tmp_path / "bench_cpu_options-old.json").write_text(json.dumps({"date": "2026-01-01T00:00:00", "rows": rows[:1]}))
    table, record = tables.cpu_options_benchmark(tmp_path)
    assert list(table["student"]) == ["-", "resnet18"]
    assert list(table["as is (ms)"]) == pytest.approx([10.0, 50.0]) and list(table["option (ms)"]) == pytest.approx([5.0, 55.0])
    assert list(table["option / as is"]) == pytest.approx([0.5, 1.1]) and record["date"].startswith("2026-11-26")


def test_sweep_beside_plain_puts_the_sweeps_own_plain_runs_first():
    sweep = pd.DataFrame(
        {
            "backbone": ["mobilenet_v2", "mobilenet_v2", "mobilenet_v2", "resnet18", "mobilenet_v2", "resnet18"],
            "method": ["sp", "sp", "kd", "sp", "none", "none"],
            "seed": [100, 101, 100, 100, 100, 100],
            "label": ["sp x1", "sp x4", "kd x1", "sp x1", "none", "none"],
        }
    )
    probed = tables.sweep_beside_plain(sweep, "mobilenet_v2", ["sp"])
    assert list(zip(probed["label"], probed["seed"])) == [("none", 100), ("sp x1", 100), ("sp x4", 101)]
    assert set(probed["backbone"]) == {"mobilenet_v2"}


def test_main_results_adds_the_parameter_columns_on_teacher_and_plain_rows():
    params = pd.DataFrame(
        {"backbone": ["resnet101", "resnet18", "mobilenet_v2"], "paper width (M)": [59.34, 16.61, 5.82], "cpu width (M)": [3.7, 1.05, 0.39]},
        index=pd.Index(["teacher", "resnet18", "mobilenet_v2"], name="role"),
    )
    table = tables.main_results(_runs(), {"miou": 0.7, "pixel_accuracy": 0.95}, "resnet101", params)
    assert list(table.columns[-2:]) == ["params paper width (M)", "params cpu width (M)"]
    assert table.iloc[0]["params paper width (M)"] == "59.34"
    plain = table[table["method"] == "Student"].set_index("student")
    assert plain.loc["S1: ResNet-18", "params cpu width (M)"] == "1.05" and plain.loc["S2: MobileNetV2", "params paper width (M)"] == "5.82"
    assert set(table[table["method"] == "+ AICSD"]["params paper width (M)"]) == {""}
    assert list(tables.main_results(_runs(), {"miou": 0.7, "pixel_accuracy": 0.95}, "resnet101").columns)[-1] == "paper gain"


def test_variance_levers_lays_each_way_beside_the_raw_test_score(tmp_path):
    import json

    ways = {way: {"mean": 20.0, "std": 2.0, "std_ratio": 1.0} for way in tables.LEVER_WAYS} | {"EMA, test": {"mean": 21.0, "std": 1.0, "std_ratio": 0.5}}
    (tmp_path / "variance_levers-cpu.json").write_text(json.dumps({"ema_decay": 0.98, "cells": {"resnet18:none": ways}}))
    (tmp_path / "variance_levers-cpu-warmup50.json").write_text(json.dumps({"ema_decay": 0.98, "warmup_steps": 50, "cells": {"mobilenet_v2:kd": ways}}))
    table, records = tables.variance_levers(tmp_path)
    assert [r.get("warmup_steps", 0) for r in records] == [0, 50]
    assert list(table["warm-up steps"]) == [0, 50] and list(table["student"]) == ["S1: ResNet-18", "S2: MobileNetV2"]
    row = table.iloc[0]
    assert row["EMA, test"] == "21.00 ± 1.00 (x0.50)"
    assert list(table.columns[5:]) == list(tables.LEVER_WAYS)
    assert list(table["recipe change"]) == ["", ""] and list(table["weight"]) == ["default", "default"]
    empty, none = tables.variance_levers(tmp_path / "absent")
    assert none == [] and empty.empty


def test_lever_effects_give_the_ranges_the_chapter_cites():
    def cell(std, ema, pooled):
        return {"raw, val": {"std": std, "std_ratio": 1.0}, "EMA, val": {"std_ratio": ema}, "raw, val+test": {"std_ratio": pooled}}

    plain = {"cells": {"a:none": cell(2.0, 0.9, 1.1), "b:kd": cell(4.0, 1.2, 0.8)}}
    warm = {"warmup_steps": 50, "cells": {"b:kd": cell(2.0, 1.0, 1.0), "c:none": cell(1.0, 1.0, 1.0)}}
    effects = tables.lever_effects([plain, warm])
    assert (effects["ema_min"], effects["ema_max"], effects["pooled_min"], effects["pooled_max"]) == (0.9, 1.2, 0.8, 1.1)
    assert effects["warmup_min"] == effects["warmup_max"] == 0.5 and effects["warmup_steps"] == 50
    assert math.isnan(tables.lever_effects([plain])["warmup_min"])
    longer = {"warmup_steps": 100, "cells": {"b:kd": cell(1.0, 1.0, 1.0)}}
    assert tables.lever_effects([plain, warm, longer], warmup_steps=50)["warmup_max"] == 0.5
    adopted = tables.lever_effects([plain, warm, longer], warmup_steps=100)
    assert adopted["warmup_max"] == 0.25 and adopted["warmup_steps"] == 100
    assert tables.lever_effects([plain, warm, longer])["warmup_steps"] == 100


def test_the_weights_source_names_the_committed_file_and_seeds_or_the_own_sweep(monkeypatch):
    monkeypatch.setattr(experiments, "committed_record", lambda profile, dataset="synthetic", folder=None: None)
    assert tables.weights_source("cpu", "synthetic") == "This reproduction chose them from its own sweep (tuning seeds 100)"
    committed = {"sweep": [{"seeds": [100, 101]}, {"seeds": [102]}], "weights": {}}
    monkeypatch.setattr(experiments, "committed_record", lambda profile, dataset="synthetic", folder=None: committed)
    sentence = tables.weights_source("cpu", "synthetic")
    assert "`benchmarks/results/weights-cpu.json`" in sentence and "tuning seeds 100, 101, 102" in sentence
