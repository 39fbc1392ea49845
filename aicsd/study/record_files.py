"""How the reproduction's records in ``benchmarks/results/`` are named: one definition, imported by
the modules that write or read them (:mod:`aicsd.study.record`, :mod:`aicsd.study.compare`,
:mod:`aicsd.study.experiments`) and by the benchmarks beside them."""

from __future__ import annotations


def record_name(profile: str, dataset: str) -> str:
    """``<profile>`` for the generated dataset, else ``<profile>-<dataset>``: how the reproduction's
    records in ``benchmarks/results/`` are named (benchmarks/bench_reproduce.sh uses the same rule)."""
    return profile if dataset == "synthetic" else f"{profile}-{dataset}"


def summary_file(name: str) -> str:
    """``summary-<name>.json``: the file name of the summary record named ``name`` (:func:`record_name`)."""
    return f"summary-{name}.json"


def qualitative_file(name: str) -> str:
    """``qualitative-<name>.png``: the file name of the qualitative grid stored beside the summary
    record named ``name`` (its sidecar: :func:`aicsd.study.qualitative.sidecar_path`)."""
    return f"qualitative-{name}.png"


def teacher_edge_file(name: str) -> str:
    """``teacher_edge-<name>.json``: the file name of ``benchmarks/teacher_edge.py``'s record for the
    profile and dataset named ``name`` (:func:`record_name`)."""
    return f"teacher_edge-{name}.json"


def weights_file(name: str) -> str:
    """``weights-<name>.json``: the file name of the distillation weights committed for the profile
    and dataset named ``name`` (:func:`record_name`), written by ``python -m aicsd.study.committed_weights``."""
    return f"weights-{name}.json"
