"""Comparing a reproduction with the reference: bit-identical, within the seed spread, or differs."""

import copy
import json

import pytest
from scipy import stats

from aicsd.study import compare


def _cell(label, values, group="main", backbone="resnet18"):
    import statistics

    return {
        "group": group, "label": label, "backbone": backbone, "values": list(values), "n": len(values),
        "miou_mean": statistics.fmean(values), "miou_std": statistics.stdev(values), "seeds": list(range(len(values))),
    }


def _record(cells, verdicts=("supported", "inconclusive"), teacher=42.0, digest="d1", capability="AVX2"):
    return {
        "profile": "cpu", "dataset": "synthetic", "date": "2026-12-06", "design_digest": "design-1",
        "provenance": {"commit": "abc", "cpu": "x", "cpu_capability": capability, "cpu_count": 2, "gpu": None, "data_digest": digest, "packages": {"torch": "2.14.1"}},
        "teacher": {"miou": teacher},
        "cells": cells,
        "claims": [{"claim": f"c{i}", "verdict": v, "gain": 1.0} for i, v in enumerate(verdicts)],
    }


REFERENCE = _record([_cell("none", [20, 22, 24, 21, 23]), _cell("aicsd", [30, 31, 29, 32, 30])])


def test_the_same_record_is_bit_identical():
    result = compare.compare(copy.deepcopy(REFERENCE), REFERENCE)
    assert result.verdict == compare.BIT_IDENTICAL
    assert (result.cells["status"] == compare.BIT_IDENTICAL).all()
    assert result.facts["same_data"]


def test_last_bit_noise_is_within_the_seed_spread_and_the_p_value_is_welchs():
    ours = _record([_cell("none", [21, 22, 23, 21, 24]), _cell("aicsd", [31, 30, 29, 31, 30])])
    result = compare.compare(ours, REFERENCE)
    assert result.verdict == compare.WITHIN_SPREAD
    row = result.cells.set_index("label").loc["none"]
    expected = stats.ttest_ind([21, 22, 23, 21, 24], [20, 22, 24, 21, 23], equal_var=False).pvalue
    assert row["p"] == pytest.approx(expected)
    assert row["difference"] == pytest.approx(0.2)


def test_a_moved_cell_and_a_flipped_verdict_are_named():
    ours = _record([_cell("none", [20, 22, 24, 21, 23]), _cell("aicsd", [40, 41, 39, 42, 40])], verdicts=("inconclusive", "inconclusive"))
    result = compare.compare(ours, REFERENCE)
    assert result.verdict == compare.DIFFERS
    assert list(result.cells.loc[result.cells["status"] == compare.DIFFERS, "label"]) == ["aicsd"]
    assert list(result.claims.loc[~result.claims["agree"], "claim"]) == ["c0"]
    page = compare.report_markdown(result)
    assert "Verdict: differs" in page and "| main | aicsd | resnet18 |" in page and "| c0 | inconclusive | supported |" in page


def test_holm_keeps_one_chance_difference_among_many_cells_from_counting():
    # 20 cells, one with p about 0.01 alone: not a difference after the adjustment
    cells = [_cell(f"m{i}", [20, 22, 24, 21, 23]) for i in range(20)]
    ours = copy.deepcopy(cells)
    ours[0] = _cell("m0", [22.5, 24.5, 26.5, 23.5, 25.5])
    p_alone = stats.ttest_ind([22.5, 24.5, 26.5, 23.5, 25.5], [20, 22, 24, 21, 23], equal_var=False).pvalue
    assert p_alone < 0.05
    result = compare.compare(_record(ours), _record(cells))
    assert result.verdict == compare.WITHIN_SPREAD


def test_records_of_other_profiles_are_refused_and_the_report_is_written(tmp_path):
    other = {**REFERENCE, "profile": "smoke"}
    with pytest.raises(ValueError, match="cannot compare a smoke reproduction"):
        compare.compare(other, REFERENCE)
    ours = tmp_path / "summary.json"
    reference = tmp_path / "reference.json"
    ours.write_text(json.dumps(REFERENCE))
    reference.write_text(json.dumps(_record(REFERENCE["cells"], digest="d2")))
    assert compare.main([str(ours), "--reference", str(reference)]) == 0
    page = (tmp_path / "comparison.md").read_text()
    assert "Verdict: bit-identical" in page and "data differs or its digest is unknown" in page
    assert "| oneDNN instruction-set limit | none | none |" in page
    assert json.loads((tmp_path / "comparison.json").read_text())["verdict"] == compare.BIT_IDENTICAL


def test_records_of_another_design_are_not_compared():
    other = {**copy.deepcopy(REFERENCE), "design_digest": "design-2"}
    result = compare.compare(other, REFERENCE)
    assert result.verdict == compare.OTHER_DESIGN and result.cells.empty
    assert "not comparable" in compare.report_markdown(result)
    old = {key: value for key, value in REFERENCE.items() if key != "design_digest"}
    assert compare.compare(copy.deepcopy(REFERENCE), old).verdict == compare.OTHER_DESIGN
