"""The README's results section rendered from a summary record alone."""

import json
import re

import pytest

from aicsd.study import results_section


def _record():
    cells = []
    for backbone in ("resnet18", "mobilenet_v2"):
        for method, base in (("none", 20.0), ("aicsd", 25.0)):
            cells.append({"group": "main", "label": method, "backbone": backbone, "seeds": [0, 1], "values": [base, base + 2],
                          "pixel_accuracy_values": [80.0, 82.0], "n": 2, "split": "test", "miou_mean": base + 1, "miou_std": 2 ** 0.5})
    cells.append({"group": "components", "label": "ICSD", "backbone": "resnet18", "seeds": [0, 1], "values": [1.0, 2.0],
                  "pixel_accuracy_values": [1.0, 1.0], "n": 2})
    return {
        "profile": "cpu", "dataset": "synthetic", "seeds": [0, 1], "date": "2026-12-06T22:00:00+00:00",
        "teacher_backbone": "resnet101", "teacher": {"miou": 40.0, "pixel_accuracy": 88.0},
        "provenance": {"cpu": "Some CPU", "cpu_count": 2, "cpu_capability": "AVX2", "commit": "0123456789abcdef"},
        "notebooks_s": {"a": 60.0, "b": 120.0},
        "cells": cells,
        "claims": [{"claim": "AICSD > student (ResNet-18)", "metric": "miou", "gain": 5.0, "ci_low": 4.0, "ci_high": 6.0, "p_value": 0.01,
                    "p_holm": 0.02, "detectable_gain": 3.0, "n": 2, "verdict": "supported", "raw_verdict": "supported"}],
    }


def test_the_section_holds_the_main_table_the_ledger_and_the_time_from_the_record():
    page = re.sub(r" +", " ", results_section.results_markdown(_record()))
    assert "| Teacher: resnet101 | | 40.00 | 88.00 |" in page
    assert "| S1: ResNet-18 | + AICSD | 26.00 ± 1.41 | 81.00 ± 1.41 | +5.00 | 70.03 ± 0.13 | +2.53 |" in page
    assert "| AICSD > student (ResNet-18) | mIoU | +5.00 | [+4.00, +6.00] | 0.01 | 0.02 | 3.00 |" in page
    assert "commit 0123456, 2026-12-06, 2 cores of Some CPU (torch CPU capability AVX2): 3.0 min of notebooks." in page
    assert "ICSD" not in page.split("| claim")[0].replace("AICSD", "")  # only the main table's cells
    assert "Seed spread: 5 of the 5 cells of the main table and ablations have a std over seeds of at most 1.5 points; median std 1.41, largest 1.41" in page


def test_the_spread_line_counts_every_cell_and_names_the_widest():
    record = _record()
    record["cells"][1]["values"] = [20.0, 26.0]
    line = results_section.spread_line(record)
    assert line.startswith("Seed spread: 4 of the 5 cells") and line.endswith("largest 4.24 (main: aicsd, resnet18). Wider than 1.5: main: aicsd, resnet18 4.24.")
    record["cells"][0]["values"] = [20.0, 23.0]
    assert results_section.spread_line(record).endswith("Wider than 1.5: main: aicsd, resnet18 4.24; main: none, resnet18 2.12.")
    record["cells"][0]["values"] = [20.0, 22.1225]
    assert results_section.spread_line(record).endswith("main: none, resnet18 1.501.")


def test_your_record_is_preferred_when_it_is_of_the_same_profile_and_dataset(tmp_path, monkeypatch):
    own = tmp_path / "summary.json"
    own.write_text(json.dumps(_record()))
    record, origin = results_section.select_record("cpu", "synthetic", own)
    assert origin.startswith("your reproduction") and record["date"].startswith("2026-12-06")
    monkeypatch.setattr(results_section, "reference_record", lambda profile, dataset: None)
    with pytest.raises(FileNotFoundError, match="run make reproduce PROFILE=smoke"):
        results_section.select_record("smoke", "synthetic", own)


def test_the_headline_states_teacher_students_gains_and_verdict_counts():
    assert results_section.headline(_record()) == (
        "test mIoU (%), mean ± std over 2 seeds: teacher 40.00; ResNet-18 21.00 ± 1.41 alone, 26.00 ± 1.41 with AICSD (+5.00); "
        "MobileNetV2 21.00 ± 1.41 alone, 26.00 ± 1.41 with AICSD (+5.00). Claims after Holm: 1 supported, 0 contradicted, 0 inconclusive of 1."
    )
