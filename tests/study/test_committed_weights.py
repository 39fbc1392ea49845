"""The committed distillation weights: pooled from several tuning seeds, chosen by the sweep's own
rule, read by every reproduction instead of its own one-seed sweep's choice."""

from __future__ import annotations

import json
import random
import statistics

import pytest

from aicsd.engine import PROFILES, seeds_of
from aicsd.study import committed_weights, experiments
from aicsd.study.record_files import weights_file

GRID = experiments.weight_sweep("cpu")


def _sweep_record(seeds: list[int], rng: random.Random) -> dict:
    """A record with a ``sweep`` list over the cpu grid at ``seeds``, values drawn from ``rng``."""
    cells = {}
    for run in GRID:
        cells.setdefault((run.config.backbone, run.label), None)
    return {
        "sweep": [
            {"backbone": backbone, "label": label, "seeds": list(seeds), "val_values": [rng.uniform(20, 40) for _ in seeds]}
            for backbone, label in cells
        ]
    }


def _slow_choice(records: list[dict]) -> dict:
    """The rule by hand: per (student, swept row family), pool each label's values over the records,
    take the best mean, ties the smaller factor."""
    values: dict[tuple[str, str, float], list[float]] = {}
    for record in records:
        for cell in record["sweep"]:
            if cell["label"] == "none":
                continue
            key, factor = cell["label"].rsplit(" x", 1)
            values.setdefault((cell["backbone"], key, float(factor)), []).extend(cell["val_values"])
    best: dict[tuple[str, str], tuple[float, float]] = {}
    for (backbone, key, factor), pooled in sorted(values.items()):
        mean = statistics.fmean(pooled)
        if (backbone, key) not in best or mean > best[(backbone, key)][0]:
            best[(backbone, key)] = (mean, factor)
    return {where: factor for where, (_, factor) in best.items()}


def test_the_pooled_choice_is_the_best_mean_over_every_tuning_seed():
    rng = random.Random(0)
    first, second = _sweep_record([100], rng), _sweep_record([101, 102], rng)
    record = committed_weights.derive({"a.json": first, "b.json": second}, "cpu")
    assert [source["seeds"] for source in record["sources"]] == [[100], [101, 102]]
    assert {len(cell["seeds"]) for cell in record["sweep"]} == {3}
    expected = _slow_choice([first, second])
    factor_of = {(run.config.backbone, run.label): run for run in GRID}
    for (backbone, key), factor in expected.items():
        run = factor_of[(backbone, experiments.sweep_label(key, factor))]
        term = run.config.distillation.term(experiments.swept_term(run.config.method))
        assert record["weights"][backbone][key] == {f"{term.name}_weight": term.weight}
    assert sum(len(methods) for methods in record["weights"].values()) == len(expected)


def test_a_seed_twice_a_table_seed_uneven_seeds_and_an_unknown_row_are_refused():
    rng = random.Random(1)
    with pytest.raises(ValueError, match="pool each seed once"):
        committed_weights.derive({"a.json": _sweep_record([100], rng), "b.json": _sweep_record([100], rng)}, "cpu")
    with pytest.raises(ValueError, match="one of the tables' seeds"):
        committed_weights.derive({"a.json": _sweep_record([seeds_of("cpu")[0]], rng)}, "cpu")
    uneven = _sweep_record([101], rng)
    uneven["sweep"] = uneven["sweep"][1:]
    with pytest.raises(ValueError, match="same tuning seeds"):
        committed_weights.derive({"a.json": _sweep_record([100], rng), "b.json": uneven}, "cpu")
    unknown = {"sweep": [{"backbone": "resnet18", "label": "kd x3.5", "seeds": [100], "val_values": [30.0]}]}
    with pytest.raises(ValueError, match="not in the 'cpu' profile's sweep"):
        committed_weights.derive({"a.json": unknown}, "cpu")


def test_the_command_writes_the_record_and_names_a_clash_without_a_traceback(tmp_path, capsys):
    rng = random.Random(2)
    paths = []
    for name, seeds in (("a.json", [100]), ("b.json", [101])):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(_sweep_record(seeds, rng)))
    output = tmp_path / weights_file("cpu")
    assert committed_weights.main([*map(str, paths), "--output", str(output)]) == 0
    written = json.loads(output.read_text())
    assert written["rule"] == committed_weights.RULE and written["profile"] == "cpu"
    assert experiments.committed_record("cpu", folder=tmp_path)["weights"] == written["weights"]
    assert experiments.committed_record("cpu", "camvid", folder=tmp_path) is None
    own = committed_weights.sweep_frame(_sweep_record([100], rng)["sweep"], "cpu")
    behind = committed_weights.sweep_behind_weights(own, "cpu", folder=tmp_path)
    assert sorted(set(behind["seed"])) == [100, 101] and behind.equals(committed_weights.pooled_sweep("cpu", folder=tmp_path))
    assert committed_weights.sweep_behind_weights(own, "cpu", "camvid", folder=tmp_path) is own
    with pytest.raises(SystemExit, match="given twice"):
        committed_weights.main([str(paths[0]), str(paths[0]), "--output", str(output)])
    clash = tmp_path / "c.json"
    clash.write_text(json.dumps(_sweep_record([100], rng)))
    with pytest.raises(SystemExit, match="pool each seed once"):
        committed_weights.main([str(paths[0]), str(clash), "--output", str(output)])


def test_committed_weights_are_used_without_training_and_only_the_probed_sweep_rows_are_reproduced(monkeypatch):
    committed = {"weights": {"resnet18": {"kd": {"kd_weight": 0.5}}}, "sweep": []}
    monkeypatch.setattr(experiments, "committed_record", lambda profile, dataset="synthetic", folder=None: committed)
    monkeypatch.setattr(experiments, "run_all", lambda *args, **kwargs: pytest.fail("committed weights need no training"))
    assert experiments.tuned_weights("cpu") == committed["weights"]
    probed = experiments.reproduced_sweep("cpu")
    assert {run.config.backbone for run in probed} == {experiments.COLLAPSE_PROBE_STUDENT}
    assert {experiments.sweep_key(run.label) for run in probed} == {"none", *experiments.COLLAPSE_PROBE_METHODS}
    assert len(probed) == len(PROFILES["cpu"].tuning_seeds) * (1 + len(experiments.COLLAPSE_PROBE_METHODS) * len(PROFILES["cpu"].sweep_factors))
    monkeypatch.setattr(experiments, "committed_record", lambda profile, dataset="synthetic", folder=None: None)
    assert experiments.reproduced_sweep("cpu") == experiments.weight_sweep("cpu")


def test_the_committed_cpu_weights_are_the_rules_choice_from_their_own_sweep_and_cover_every_choice():
    record = experiments.committed_record("cpu")
    if record is None:
        pytest.skip("no weights are committed for the cpu profile (benchmarks/results/weights-cpu.json)")
    assert record["weights"] == committed_weights.choices_from_sweep(record["sweep"], "cpu")
    swept = {(run.config.backbone, experiments.sweep_key(run.label)) for run in GRID if run.label != "none"}
    assert {(backbone, method) for backbone, methods in record["weights"].items() for method in methods} == swept
    seeds = {seed for cell in record["sweep"] for seed in cell["seeds"]}
    assert len(seeds) >= 2 and not seeds & set(seeds_of("cpu"))
