"""The README's results section, printed from a summary record: ``make results-table`` calls this.

    python -m aicsd.study.results_section [--profile cpu] [--dataset synthetic] [--record PATH]

prints the headline numbers, the main table, the claims ledger (Holm-adjusted), the cells' seed spread and the reproduction's wall time of the
record: by default this machine's own (``book/_executed/summary.json``, written by ``make
reproduce``) when it is of the same profile and dataset, else the committed reference record
(:func:`aicsd.study.compare.reference_record`). Everything is read from the record, nothing from
the run store, so the README's numbers are those of a record (a test checks that the README holds
exactly what this prints for the committed record).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from aicsd.paths import EXECUTED, SUMMARY_FILE
from aicsd.study import tables
from aicsd.study.compare import reference_record
from aicsd.study.record import CLAIM_POINT_COLUMNS

__all__ = ["SPREAD_TARGET", "claims_frame", "headline", "record_runs", "results_markdown", "select_record", "spread_line"]

SPREAD_TARGET = 1.5
"""Seed std (mIoU points) of a cell at or below which it counts as narrow: five seeds then put the
mean's standard error under 0.7 points, below the gains the ledger can decide."""


def record_runs(record: dict[str, Any]) -> pd.DataFrame:
    """The main table's runs of a summary record as a collected-runs frame (fractions, one row per seed)."""
    rows = []
    for cell in record["cells"]:
        if cell["group"] != "main":
            continue
        for seed, miou, accuracy in zip(cell["seeds"], cell["values"], cell["pixel_accuracy_values"], strict=True):
            rows.append({"backbone": cell["backbone"], "method": cell["label"], "seed": seed, "miou": miou / 100, "pixel_accuracy": accuracy / 100})
    return pd.DataFrame(rows)


def claims_frame(claims: list[dict[str, Any]]) -> pd.DataFrame:
    """A record's claims back in the ledger's units (mIoU gains as fractions), for :func:`tables.claims_view`."""
    frame = pd.DataFrame(claims)
    is_miou = frame["metric"] == "miou"
    for column in CLAIM_POINT_COLUMNS:
        frame[column] = frame[column].astype(float).where(~is_miou, frame[column].astype(float) / 100)
    return frame


def spread_line(record: dict[str, Any]) -> str:
    """The seed spread of every cell of the record (main table and ablations): how many have a std
    over seeds (ddof 1) of at most :data:`SPREAD_TARGET` points, the median std and the widest
    cell; then every wider cell with its std, widest first."""
    spreads = pd.Series(
        {(cell["group"], cell["label"], cell["backbone"]): pd.Series(cell["values"], dtype=float).std() for cell in record["cells"]}
    ).sort_values(ascending=False, kind="stable")
    group, label, backbone = spreads.index[0]
    sentence = (
        f"Seed spread: {int((spreads <= SPREAD_TARGET).sum())} of the {len(spreads)} cells of the main table and ablations "
        f"have a std over seeds of at most {SPREAD_TARGET:g} points; median std {spreads.median():.2f}, "
        f"largest {spreads.iloc[0]:.2f} ({group}: {label}, {backbone})."
    )
    wide = spreads[spreads > SPREAD_TARGET]
    if wide.empty:
        return sentence
    listed = "; ".join(f"{group}: {label}, {backbone} {_above_target(std)}" for (group, label, backbone), std in wide.items())
    return f"{sentence} Wider than {SPREAD_TARGET:g}: {listed}."


def _above_target(std: float) -> str:
    """A std above :data:`SPREAD_TARGET` with two decimals, or three where two would round it onto the target."""
    return f"{std:.2f}" if round(std, 2) > SPREAD_TARGET else f"{std:.3f}"


def headline(record: dict[str, Any]) -> str:
    """One paragraph of a record's main numbers: the teacher's mIoU, each student alone and with
    AICSD (mean ± std over seeds, and the gain), and the ledger's verdict counts after Holm, on the
    record's reported split."""
    main = {(c["backbone"], c["label"]): c for c in record["cells"] if c["group"] == "main"}
    split = next(iter(main.values()))["split"]
    students = []
    for backbone, name in (("resnet18", "ResNet-18"), ("mobilenet_v2", "MobileNetV2")):
        plain, aicsd = main[(backbone, "none")], main[(backbone, "aicsd")]
        students.append(
            f"{name} {plain['miou_mean']:.2f} ± {plain['miou_std']:.2f} alone, {aicsd['miou_mean']:.2f} ± {aicsd['miou_std']:.2f} "
            f"with AICSD ({aicsd['miou_mean'] - plain['miou_mean']:+.2f})"
        )
    verdicts = pd.Series([claim["verdict"].split(" (")[0] for claim in record["claims"]]).value_counts()
    counts = ", ".join(f"{int(verdicts.get(v, 0))} {v}" for v in ("supported", "contradicted", "inconclusive"))
    return (
        f"{split} mIoU (%), mean ± std over {len(record['seeds'])} seeds: teacher {record['teacher']['miou']:.2f}; "
        f"{'; '.join(students)}. Claims after Holm: {counts} of {len(record['claims'])}."
    )


def results_markdown(record: dict[str, Any]) -> str:
    """The :func:`headline`, the main table, the claims ledger, the seed spread and one line on where
    and how long the record's reproduction ran."""
    teacher = {key: record["teacher"][key] / 100 for key in ("miou", "pixel_accuracy")}
    main = tables.main_results(record_runs(record), teacher, record["teacher_backbone"]).to_markdown(index=False, disable_numparse=True)
    ledger = tables.claims_view(claims_frame(record["claims"])).to_markdown(index=False, disable_numparse=True)
    origin = record.get("provenance", {})
    notebooks = sum((record.get("notebooks_s") or {}).values())
    machine = f"{origin.get('cpu_count')} cores of {origin.get('cpu')} (torch CPU capability {origin.get('cpu_capability')})"
    timing = f"{notebooks / 60:.1f} min of notebooks" if notebooks else "wall time not recorded"
    line = (
        f"Record: profile `{record['profile']}` on `{record['dataset']}`, {len(record['seeds'])} seeds per cell, "
        f"commit {str(origin.get('commit'))[:7]}, {record['date'][:10]}, {machine}: {timing}."
    )
    return f"{headline(record)}\n\n{main}\n\n{ledger}\n\n{spread_line(record)}\n\n{line}\n"


def select_record(profile: str, dataset: str, own: Path = EXECUTED / SUMMARY_FILE) -> tuple[dict[str, Any], str]:
    """This machine's record of ``profile`` on ``dataset`` when ``make reproduce`` wrote one, else the
    committed reference; with a word saying which. Raises FileNotFoundError when neither exists."""
    if own.is_file():
        record = json.loads(own.read_text())
        if (record.get("profile"), record.get("dataset")) == (profile, dataset):
            return record, f"your reproduction ({own})"
    record = reference_record(profile, dataset)
    if record is None:
        raise FileNotFoundError(f"no summary record of {profile} on {dataset}: run make reproduce PROFILE={profile} DATASET={dataset}")
    return record, "the committed reference record"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--record", type=Path, default=None, help="a summary record (default: yours, else the committed one)")
    args = parser.parse_args(argv)
    if args.record is not None:
        record, origin = json.loads(args.record.read_text()), str(args.record)
    else:
        try:
            record, origin = select_record(args.profile, args.dataset)
        except FileNotFoundError as error:
            parser.error(str(error))
    print(f"from {origin}", file=sys.stderr)
    print(results_markdown(record), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
