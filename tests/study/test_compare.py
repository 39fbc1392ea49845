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


def test_the_summary_paragraph_counts_cells_and_names_each_changed_verdict_with_both_gains():
    ours = _record([_cell("none", [20, 22, 24, 21, 23]), _cell("aicsd", [40, 41, 39, 42, 40])], verdicts=("inconclusive", "inconclusive"), capability="DEFAULT")
    ours["claims"][0]["gain"] = 0.5
    data = json.loads(json.dumps(compare.compare(ours, REFERENCE).to_dict()))
    assert compare.summary_paragraph(data) == (
        "Verdict: differs. Reproduction (torch CPU capability DEFAULT, oneDNN limit none) against the reference "
        "(torch CPU capability AVX2, oneDNN limit none), same data digest: 1 of 2 cells bit-identical, 1 differ beyond the two "
        "seed spreads (the widest difference: resnet18 aicsd, +10.00 points, seed std 1.14 here and 1.14 in the reference); "
        "1 of 2 claims keep their verdict. Changed: c0: supported -> inconclusive (gain +1.00 -> +0.50 points)."
    )
    same = json.loads(json.dumps(compare.compare(copy.deepcopy(REFERENCE), REFERENCE).to_dict()))
    assert compare.summary_paragraph(same).endswith("2 of 2 cells bit-identical, 0 differ beyond the two seed spreads; 2 of 2 claims keep their verdict.")


def test_raw_verdicts_that_changed_are_counted_and_named_while_the_corrected_ones_agree():
    reference = copy.deepcopy(REFERENCE)
    ours = _record([_cell("none", [21, 22, 23, 21, 24]), _cell("aicsd", [31, 30, 29, 31, 30], group="alw")])
    for record, raw in ((reference, ("supported", "supported")), (ours, ("supported", "inconclusive"))):
        for claim, verdict in zip(record["claims"], raw, strict=True):
            claim["raw_verdict"] = verdict
    result = compare.compare(ours, reference)
    assert result.claims["agree"].all() and list(result.claims["raw_agree"]) == [True, False]
    paragraph = compare.summary_paragraph(json.loads(json.dumps(result.to_dict())))
    assert paragraph.endswith("2 of 2 claims keep their verdict; before the correction, 1 of 2 raw verdicts changed (c1).")
    assert "| c1 | inconclusive | supported | +1.00 | +1.00 |" in compare.report_markdown(result)


def test_the_widest_difference_names_the_cell_with_its_group_and_both_spreads():
    ours = _record([_cell("none", [21, 22, 23, 21, 24]), _cell("aicsd", [32, 31, 30, 32, 31], group="alw")])
    reference = _record([_cell("none", [20, 22, 24, 21, 23]), _cell("aicsd", [30, 31, 29, 32, 30], group="alw")])
    paragraph = compare.summary_paragraph(json.loads(json.dumps(compare.compare(ours, reference).to_dict())))
    assert "(the widest difference: resnet18 aicsd (alw), +0.80 points, seed std 0.84 here and 1.14 in the reference)" in paragraph


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


def test_a_cross_check_is_kept_by_its_kernels_and_becomes_the_books_page(tmp_path):
    results, book = tmp_path / "results", tmp_path / "reference"
    results.mkdir()
    (results / "summary-cpu.json").write_text(json.dumps(REFERENCE))
    ours = copy.deepcopy(REFERENCE)
    ours["provenance"] |= {"cpu_capability": "DEFAULT", "onednn_max_isa": "AVX2"}
    ours["date"] = "2026-12-07T02:00:00+00:00"
    kept, comparison = compare.publish_cross_check(ours, tmp_path / "cross", book, results)
    assert kept.name == "summary-cpu-default-onednn-avx2-2026-12-07-abc.json"
    assert json.loads(kept.read_text()) == ours
    assert comparison.verdict == compare.BIT_IDENTICAL
    page = (book / "comparison.md").read_text()
    assert "| oneDNN instruction-set limit | AVX2 | none |" in page and "| torch CPU capability | DEFAULT | AVX2 |" in page
    with pytest.raises(FileNotFoundError, match="no committed reference"):
        compare.publish_cross_check(ours, tmp_path / "cross", book, tmp_path / "empty")


def test_other_cross_checks_list_the_kept_records_of_the_design_but_the_shipped_page_and_other_designs(tmp_path):
    results, book, cross = tmp_path / "results", tmp_path / "reference", tmp_path / "cross"
    results.mkdir()
    (results / "summary-cpu.json").write_text(json.dumps(REFERENCE))
    assert compare.other_cross_checks(book, cross, results) == compare.NO_OTHER_CROSS_CHECK
    forced = copy.deepcopy(REFERENCE) | {"date": "2026-12-07T02:00:00+00:00"}
    forced["provenance"] = forced["provenance"] | {"cpu_capability": "DEFAULT"}
    compare.publish_cross_check(forced, cross, book, results)
    other_machine = _record([_cell("none", [21, 22, 23, 21, 24]), _cell("aicsd", [31, 30, 29, 31, 30])], capability="AVX512")
    compare.publish_cross_check(other_machine, cross, tmp_path / "elsewhere", results)
    old_design = copy.deepcopy(REFERENCE) | {"design_digest": "design-0", "date": "2026-12-05"}
    compare.publish_cross_check(old_design, cross, tmp_path / "elsewhere", results)
    listed = compare.other_cross_checks(book, cross, results)
    assert listed.startswith("- `summary-cpu-avx512-onednn-best-2026-12-06-abc.json`: Verdict: within the seed spread.")
    assert len(listed.splitlines()) == 1  # the shipped page's record and the other design are not listed


def test_the_shipped_comparison_page_is_the_comparison_of_the_kept_records():
    from aicsd.paths import COMPARISON_PAGE, CROSS_MACHINE, REFERENCE

    page = (REFERENCE / COMPARISON_PAGE).read_text()
    reference = compare.reference_record("cpu", "synthetic")
    kept = [json.loads(path.read_text()) for path in sorted(CROSS_MACHINE.glob("summary-*.json"))]
    if "No reproduction on another machine has been compared with it here yet" in page:
        return
    matching = [record for record in kept if compare.report_markdown(compare.compare(record, reference)) == page]
    assert matching, "book/reference/comparison.md is not the comparison of any record in benchmarks/results/cross-machine/ with the reference"


def test_the_lever_runs_reproduce_the_references_plain_students_bit_for_bit():
    """The bit-identity the README and the book state for one machine: a variance-lever record's plain
    students whose run ids are the profile's recipe with only the moving average added, trained on the
    reference's kind of CPU (its model and torch's capability; oneDNN picks its kernels by the CPU, so
    an Intel and an AMD CPU at AVX512 differ in the last bits) in another process than the reference,
    beside that average, score the same floats. Records on a variant of the generated set share the
    run ids of the default set and are left out."""
    from aicsd.engine import run_id
    from aicsd.paths import BENCHMARK_RESULTS
    from aicsd.study import experiments

    reference = compare.reference_record("cpu", "synthetic")
    if reference is None:
        pytest.skip("no committed reference record for the cpu profile on the generated data")
    plain = {cell["backbone"]: cell for cell in reference["cells"] if cell["group"] == "main" and cell["label"] == "none"}
    machine = {key: reference["provenance"][key] for key in ("cpu", "cpu_capability")}
    compared = 0
    for path in sorted(BENCHMARK_RESULTS.glob("variance_levers-cpu*.json")):
        record = json.loads(path.read_text())
        origin = record.get("provenance", {})
        if record.get("data_variant") or any(origin.get(key) != value for key, value in machine.items()):
            continue
        for backbone, cell in plain.items():
            ids = record["runs"].get(f"{backbone}:none", [])
            recipe = [
                run_id(experiments.student_run("cpu", backbone=backbone, method="none", seed=seed, ema_decay=record["ema_decay"]))
                for seed in cell["seeds"]
            ]
            if ids == recipe:
                assert record["cells"][f"{backbone}:none"]["raw, test"]["values"] == cell["values"], path.name
                compared += 1
    if not compared:
        pytest.skip(f"no lever record made on the reference's kind of CPU ({machine}) trained a plain student with the profile's recipe")


def test_the_readme_paragraph_is_the_shipped_comparison_or_says_there_is_none(tmp_path):
    assert compare.shipped_cross_check(tmp_path) == compare.NO_CROSS_CHECK
    ours = _record([_cell("none", [21, 22, 23, 21, 24]), _cell("aicsd", [30, 31, 29, 32, 30])])
    compare.write_report(compare.compare(ours, REFERENCE), tmp_path)
    paragraph = compare.shipped_cross_check(tmp_path)
    assert paragraph == compare.summary_paragraph(json.loads((tmp_path / "comparison.json").read_text()))
    assert "1 of 2 cells bit-identical" in paragraph and "2 of 2 claims keep their verdict" in paragraph


def test_weights_that_differ_are_listed_and_counted_and_equal_ones_say_so():
    same = {"resnet18": {"kd": {"kd_weight": 1.0}, "sp": {"sp_weight": 3000.0}}}
    ours = {**copy.deepcopy(REFERENCE), "weights": copy.deepcopy(same)}
    reference = {**copy.deepcopy(REFERENCE), "weights": same}
    result = compare.compare(ours, reference)
    assert result.weights["same"].all() and len(result.weights) == 2
    assert "same distillation weights (2 of 2" in compare.report_markdown(result)
    ours["weights"]["resnet18"]["sp"] = {"sp_weight": 187.5}
    result = compare.compare(ours, reference)
    assert list(result.weights.loc[~result.weights["same"], "method"]) == ["sp"]
    page = compare.report_markdown(result)
    assert "other weights in 1 of 2 (student, method) choices" in page and "| resnet18 | sp | sp_weight | 187.5 | 3000 |" in page
    paragraph = compare.summary_paragraph(json.loads(json.dumps(result.to_dict())))
    assert "the tables trained with the same weights in 1 of 2 choices" in paragraph


def test_a_record_without_weights_is_read_for_its_own_sweeps_choice_and_one_without_either_is_unknown():
    from aicsd.losses import resolve
    from aicsd.study import experiments

    grid = experiments.weight_sweep("cpu")
    factors = sorted({float(run.label.rsplit(" x", 1)[1]) for run in grid if run.label != "none"})
    best = {"kd": factors[0], "sp": factors[-1]}
    sweep = [
        {"backbone": "resnet18", "label": run.label, "seeds": [100], "val_values": [50.0 if float(run.label.rsplit(" x", 1)[1]) == best[experiments.sweep_key(run.label)] else 40.0]}
        for run in grid
        if run.config.backbone == "resnet18" and experiments.sweep_key(run.label) in best
    ]
    old = {**copy.deepcopy(REFERENCE), "sweep": sweep}
    assert compare.trained_weights(old) == {
        "resnet18": {method: {f"{method}_weight": pytest.approx(resolve(method).term(method).weight * factor)} for method, factor in best.items()}
    }
    assert compare.trained_weights(REFERENCE) is None
    assert "not known for both reproductions" in compare.report_markdown(compare.compare(copy.deepcopy(REFERENCE), REFERENCE))
