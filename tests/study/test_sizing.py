"""The committed sizing record reads into the chapter's tables."""

import pytest

from aicsd.study import sizing


def test_the_committed_record_gives_probes_and_curves():
    record = sizing.read_record()
    probes = sizing.probes(record)
    assert set(probes["kind"]) == {"teacher", "student"}
    assert (probes["steps"] > 0).all() and probes["test mIoU"].between(0, 100).all()
    curves = sizing.curves(record)
    assert set(curves["probe"]) == set(probes["probe"])
    for _, curve in curves.groupby("probe"):
        assert curve["steps"].is_monotonic_increasing


def test_a_missing_record_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="sizing record"):
        sizing.read_record(tmp_path / "absent.json")
