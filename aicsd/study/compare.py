"""Did a reproduction reproduce the reference? Two summary records (:mod:`aicsd.study.record`)
compared cell by cell and claim by claim, with tests rather than tolerances picked by hand.

    python -m aicsd.study.compare OURS.json [--reference benchmarks/results/summary-cpu.json] [--output DIR]
    python -m aicsd.study.compare OURS.json --publish    # keep OURS and show the comparison in the shipped book

- A **cell** (group, row, student: the mean over seeds of one recipe) is *bit-identical* when every
  seed's value is the same float, else it *agrees* when Welch's t-test of the two sets of seeds
  (their means, stds and counts; ``scipy.stats.ttest_ind_from_stats(equal_var=False)``) does not
  reject equal means after Holm's adjustment over all compared cells at the ledger's level (5 %):
  a difference within what the two seed spreads allow. Cells that *differ* are listed with the
  difference in points and its p-value.
- A **claim** agrees when its verdict, taken after the ledger's Holm adjustment in each record,
  is the same. Its raw verdicts (each test alone at 5 %, before the adjustment) are compared
  too and their changes listed: they show how far a single test would have moved.
- The **weights** the tables trained with (per student and method; a record made before the
  weights were committed is read for the choice its own sweep made,
  :func:`aicsd.study.committed_weights.choices_from_sweep`) are listed where they differ: two
  reproductions that trained different weights answer different questions in those cells.
- The **teacher** is one run: its difference is reported, not tested.
- Records of two **designs** (their ``design_digest`` differs: other runs, from another commit's
  recipe or other data) are not compared at all.
- The **data** and the **machine**: whether the data's content digest is the same (equal data
  means any difference came from the arithmetic: CPU kernels chosen per instruction set, thread
  counts, library versions), and both CPUs and capability levels.

The verdict line is "bit-identical", "within the seed spread" (no cell differs and every claim's
verdict agrees), or "differs" with the count of cells and claims that do. ``make reproduce``
writes the report to ``book/_executed/comparison.md`` (and ``.json``); the book shows it. With
``--publish`` (:func:`publish_cross_check`) a reproduction from another machine, or one made with
other kernels (``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``), is kept in
``benchmarks/results/cross-machine/`` and its comparison with the committed reference becomes the
shipped book's comparison page (``book/reference/comparison.md``).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from scipy import stats

from aicsd.engine.checkpoint import atomic_write_bytes, atomic_write_json
from aicsd.paths import BENCHMARK_RESULTS, COMPARISON_DATA, COMPARISON_PAGE, CROSS_MACHINE, REFERENCE
from aicsd.study import committed_weights
from aicsd.study.claims import CONFIDENCE, holm
from aicsd.study.record_files import record_name, summary_file

__all__ = [
    "Comparison",
    "compare",
    "compare_weights",
    "other_cross_checks",
    "reference_record",
    "report_markdown",
    "shipped_cross_check",
    "summary_paragraph",
    "write_report",
]

BIT_IDENTICAL = "bit-identical"
WITHIN_SPREAD = "within the seed spread"
DIFFERS = "differs"
AGREES = "agrees"
OTHER_DESIGN = "not comparable: another design"


@dataclass(frozen=True)
class Comparison:
    """``cells``: one row per cell in both records (status, means, stds, difference, p, p_holm);
    ``claims``: one row per claim in both (the two verdicts, agree); ``verdict``: the summary word;
    ``facts``: teacher, data and machine side by side; ``weights``: one row per (student, method)
    both records name a weight for (:func:`compare_weights`)."""

    cells: pd.DataFrame
    claims: pd.DataFrame
    verdict: str
    facts: dict[str, Any]
    weights: pd.DataFrame

    def line(self) -> str:
        """One line for the terminal: the verdict and the counts behind it."""
        if self.verdict == OTHER_DESIGN:
            return f"{self.verdict} (the reference trained other runs)"
        identical = int((self.cells["status"] == BIT_IDENTICAL).sum())
        differing = int((self.cells["status"] == DIFFERS).sum())
        kept = int(self.claims["agree"].sum())
        return (
            f"{self.verdict} ({identical} of {len(self.cells)} cells bit-identical, {differing} differ; "
            f"{kept} of {len(self.claims)} claims keep their verdict)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "facts": self.facts,
            "cells": json.loads(self.cells.to_json(orient="records")),
            "claims": json.loads(self.claims.to_json(orient="records")),
            "weights": json.loads(self.weights.to_json(orient="records")),
        }


def _key(cell: dict[str, Any]) -> tuple[str, str, str]:
    return cell["group"], cell["label"], cell["backbone"]


def _welch_p(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Two-sided p of Welch's t-test of equal means from the cells' mean, std and n (NaN without spread)."""
    if a["n"] < 2 or b["n"] < 2 or a["miou_std"] is None or b["miou_std"] is None:
        return float("nan")
    if a["miou_std"] == 0 and b["miou_std"] == 0:
        return 1.0 if a["miou_mean"] == b["miou_mean"] else 0.0
    return float(
        stats.ttest_ind_from_stats(a["miou_mean"], a["miou_std"], a["n"], b["miou_mean"], b["miou_std"], b["n"], equal_var=False).pvalue
    )


def compare_cells(ours: list[dict[str, Any]], reference: list[dict[str, Any]], confidence: float = CONFIDENCE) -> pd.DataFrame:
    """The cells present in both records, with their status (see the module docstring)."""
    theirs = {_key(cell): cell for cell in reference}
    rows = []
    for cell in ours:
        other = theirs.get(_key(cell))
        if other is None:
            continue
        rows.append(
            {
                "group": cell["group"],
                "label": cell["label"],
                "backbone": cell["backbone"],
                "ours": cell["miou_mean"],
                "ours_std": cell["miou_std"],
                "reference": other["miou_mean"],
                "reference_std": other["miou_std"],
                "difference": cell["miou_mean"] - other["miou_mean"],
                "n": cell["n"],
                "reference_n": other["n"],
                "identical": cell.get("values") is not None and cell.get("values") == other.get("values"),
                "p": _welch_p(cell, other),
            }
        )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["p_holm"] = holm(table["p"].to_numpy())
    alpha = 1.0 - confidence
    table["status"] = [
        BIT_IDENTICAL if same else (DIFFERS if (not math.isnan(p) and p < alpha) else AGREES)
        for same, p in zip(table["identical"], table["p_holm"], strict=True)
    ]
    return table


CLAIM_COLUMNS = ["claim", "ours", "reference", "gain", "reference_gain", "agree", "ours_raw", "reference_raw", "raw_agree"]


def compare_claims(ours: list[dict[str, Any]], reference: list[dict[str, Any]]) -> pd.DataFrame:
    """The claims present in both records: each record's verdict (after its Holm adjustment) and
    raw verdict (its test alone; ``raw_agree`` is None where a record has none)."""
    theirs = {claim["claim"]: claim for claim in reference}
    rows = []
    for claim in ours:
        other = theirs.get(claim["claim"])
        if other is None:
            continue
        raw = claim.get("raw_verdict"), other.get("raw_verdict")
        rows.append(
            {
                "claim": claim["claim"],
                "ours": claim["verdict"],
                "reference": other["verdict"],
                "gain": claim["gain"],
                "reference_gain": other["gain"],
                "agree": claim["verdict"] == other["verdict"],
                "ours_raw": raw[0],
                "reference_raw": raw[1],
                "raw_agree": None if None in raw else raw[0] == raw[1],
            }
        )
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


WEIGHT_COLUMNS = ["student", "method", "setting", "ours", "reference", "same"]


def trained_weights(record: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]] | None:
    """The weights a summary record's tables trained with: its ``weights``, or for a record made
    before they were recorded the choice of its own sweep; None where neither can be read (a sweep
    of another grid than the current profile's)."""
    if "weights" in record:
        return record["weights"]
    if not record.get("sweep"):
        return None
    try:
        return committed_weights.choices_from_sweep(record["sweep"], record["profile"], record["dataset"])
    except (ValueError, KeyError):
        return None


def compare_weights(ours: dict[str, Any], reference: dict[str, Any]) -> pd.DataFrame:
    """Per (student, method) both records name a weight for: the weight setting, each record's value
    and whether they are the same (:func:`trained_weights`)."""
    mine, theirs = trained_weights(ours), trained_weights(reference)
    rows = []
    for student, methods in (mine or {}).items():
        for method, settings in methods.items():
            other = (theirs or {}).get(student, {}).get(method)
            if other is None:
                continue
            for setting, value in settings.items():
                rows.append(
                    {"student": student, "method": method, "setting": setting, "ours": value, "reference": other.get(setting), "same": value == other.get(setting)}
                )
    return pd.DataFrame(rows, columns=WEIGHT_COLUMNS)


def _facts(ours: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    def machine(record: dict[str, Any]) -> dict[str, Any]:
        origin = record.get("provenance", {})
        return {key: origin.get(key) for key in ("commit", "cpu", "cpu_capability", "onednn_max_isa", "cpu_count", "gpu", "data_digest")} | {
            "torch": origin.get("packages", {}).get("torch", record.get("torch")),
            "date": record.get("date"),
        }

    mine, theirs = machine(ours), machine(reference)
    teacher = ours.get("teacher", {}).get("miou"), reference.get("teacher", {}).get("miou")
    return {
        "ours": mine,
        "reference": theirs,
        "same_data": mine["data_digest"] is not None and mine["data_digest"] == theirs["data_digest"],
        "teacher_miou": {"ours": teacher[0], "reference": teacher[1]},
    }


def compare(ours: dict[str, Any], reference: dict[str, Any], confidence: float = CONFIDENCE) -> Comparison:
    """Compare the summary record ``ours`` with ``reference`` (see the module docstring)."""
    if (ours.get("profile"), ours.get("dataset")) != (reference.get("profile"), reference.get("dataset")):
        raise ValueError(
            f"cannot compare a {ours.get('profile')} reproduction on {ours.get('dataset')} with a reference of "
            f"{reference.get('profile')} on {reference.get('dataset')}"
        )
    cells = compare_cells(ours["cells"], reference["cells"], confidence)
    claims = compare_claims(ours.get("claims", []), reference.get("claims", []))
    weights = compare_weights(ours, reference)
    if ours.get("design_digest") is None or ours.get("design_digest") != reference.get("design_digest"):
        return Comparison(cells.iloc[0:0], claims.iloc[0:0], OTHER_DESIGN, _facts(ours, reference), weights.iloc[0:0])
    if not cells.empty and (cells["status"] == BIT_IDENTICAL).all() and claims["agree"].all():
        verdict = BIT_IDENTICAL
    elif (cells.empty or (cells["status"] != DIFFERS).all()) and claims["agree"].all():
        verdict = WITHIN_SPREAD
    else:
        verdict = DIFFERS
    return Comparison(cells, claims, verdict, _facts(ours, reference), weights)


def _number(value: Any, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def report_markdown(comparison: Comparison) -> str:
    """The comparison as a short Markdown page: the verdict, the machines, then the cells and claims
    that differ (or a line saying none does), and the whole cell table."""
    cells, claims, facts = comparison.cells, comparison.claims, comparison.facts
    if comparison.verdict == OTHER_DESIGN:
        return (
            "# Comparison with the reference reproduction\n\n"
            f"**Verdict: {OTHER_DESIGN}.** The committed reference (commit {facts['reference']['commit']}, "
            f"{facts['reference']['date']}) trained other runs than this reproduction (commit {facts['ours']['commit']}): "
            "their design digests (the ids of every run the design trains, which depend on the recipe and the data, "
            "never on the machine) differ, so their numbers answer different questions and are not compared. "
            "Compare reproductions of the same commit.\n"
        )
    identical = int((cells["status"] == BIT_IDENTICAL).sum()) if not cells.empty else 0
    differing = cells[cells["status"] == DIFFERS] if not cells.empty else cells
    flipped = claims[~claims["agree"]]
    ours, theirs = facts["ours"], facts["reference"]
    lines = [
        "# Comparison with the reference reproduction",
        "",
        f"**Verdict: {comparison.verdict}.** {identical} of {len(cells)} cells bit-identical; "
        f"{len(differing)} differ beyond the two seed spreads (Welch's t, Holm-adjusted over the cells, 5 %); "
        f"{len(claims) - len(flipped)} of {len(claims)} claims keep their verdict.",
        "",
        "| | this reproduction | reference |",
        "|---|---|---|",
        f"| commit | {ours['commit']} | {theirs['commit']} |",
        f"| date | {ours['date']} | {theirs['date']} |",
        f"| CPU | {ours['cpu']} | {theirs['cpu']} |",
        f"| torch CPU capability | {ours['cpu_capability']} | {theirs['cpu_capability']} |",
        f"| oneDNN instruction-set limit | {ours['onednn_max_isa'] or 'none'} | {theirs['onednn_max_isa'] or 'none'} |",
        f"| GPU | {ours['gpu'] or 'none'} | {theirs['gpu'] or 'none'} |",
        f"| torch | {ours['torch']} | {theirs['torch']} |",
        f"| data digest | {ours['data_digest']} | {theirs['data_digest']} |",
        f"| teacher mIoU (%) | {_number(facts['teacher_miou']['ours'])} | {_number(facts['teacher_miou']['reference'])} |",
        "",
        "The data is the same (equal content digests): every difference comes from the arithmetic."
        if facts["same_data"]
        else "The data differs or its digest is unknown: differences may come from the data as well as the arithmetic.",
        "The teacher is one run: its difference is reported, not tested.",
        "",
    ]
    if len(differing):
        lines += ["## Cells that differ", "", "| group | row | student | this | reference | difference | p (Holm) |", "|---|---|---|---|---|---|---|"]
        lines += [
            f"| {r.group} | {r.label} | {r.backbone} | {_number(r.ours)} ± {_number(r.ours_std)} | "
            f"{_number(r.reference)} ± {_number(r.reference_std)} | {r.difference:+.2f} | {r.p_holm:.2g} |"
            for r in differing.itertuples()
        ]
        lines.append("")
    else:
        lines += ["No cell differs beyond the two seed spreads.", ""]
    lines += _weights_lines(comparison.weights)
    if len(flipped):
        lines += ["## Claims whose verdict changed", "", "| claim | this | reference |", "|---|---|---|"]
        lines += [f"| {r.claim} | {r.ours} | {r.reference} |" for r in flipped.itertuples()]
        lines.append("")
    else:
        lines += ["Every claim keeps its verdict.", ""]
    raw_changed = claims[claims["raw_agree"].eq(False)]  # None (a record without raw verdicts) is not a change
    if len(raw_changed):
        lines += [
            "## Raw verdicts that changed",
            "",
            "Each claim's test alone at 5 %, before Holm's adjustment over the ledger: a single test would have moved here.",
            "",
            "| claim | this | reference | gain (this) | gain (reference) |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.claim} | {r.ours_raw} | {r.reference_raw} | {r.gain:+.2f} | {r.reference_gain:+.2f} |" for r in raw_changed.itertuples()
        ]
        lines.append("")
    if not cells.empty:
        lines += [
            "## Every cell",
            "",
            "mIoU in %, mean ± std over seeds; p: Welch's t of the two sets of seeds; Holm over all cells.",
            "",
            "| group | row | student | this | reference | difference | p | p (Holm) | status |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.group} | {r.label} | {r.backbone} | {_number(r.ours)} ± {_number(r.ours_std)} | {_number(r.reference)} ± "
            f"{_number(r.reference_std)} | {r.difference:+.2f} | {_number(r.p, 3)} | {_number(r.p_holm, 3)} | {r.status} |"
            for r in cells.itertuples()
        ]
        lines.append("")
    return "\n".join(lines)


def _weights_lines(weights: pd.DataFrame) -> list[str]:
    """The report's lines on the weights the two reproductions' tables trained with."""
    if weights.empty:
        return ["The weights the tables trained with are not known for both reproductions.", ""]
    other = weights[~weights["same"]]
    if other.empty:
        return [f"Both trained every cell with the same distillation weights ({len(weights)} of {len(weights)} (student, method) choices).", ""]
    lines = [
        "## Weights that differ",
        "",
        f"The tables trained with other weights in {len(other)} of {len(weights)} (student, method) choices, so those cells, "
        "and the claims read from them, compare different recipes:",
        "",
        "| student | method | setting | this | reference |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {r.student} | {r.method} | {r.setting} | {r.ours:.4g} | {r.reference:.4g} |" for r in other.itertuples()]
    return [*lines, ""]


def summary_paragraph(data: dict[str, Any]) -> str:
    """A comparison's outcome in one paragraph, from its data file (``comparison.json``, the
    :meth:`Comparison.to_dict` of a comparison): the kernels of both sides, the cells bit-identical
    and differing, the claims that keep their verdict, and each claim whose verdict changed with
    both gains. The README prints it for the shipped comparison."""
    cells, claims, facts = data["cells"], data["claims"], data["facts"]
    ours, theirs = facts["ours"], facts["reference"]

    def kernels(side: dict[str, Any]) -> str:
        return f"torch CPU capability {side['cpu_capability']}, oneDNN limit {side['onednn_max_isa'] or 'none'}"

    identical = sum(cell["status"] == BIT_IDENTICAL for cell in cells)
    differing = sum(cell["status"] == DIFFERS for cell in cells)
    flipped = [claim for claim in claims if not claim["agree"]]
    changes = "; ".join(
        f"{c['claim']}: {c['reference']} -> {c['ours']} (gain {c['reference_gain']:+.2f} -> {c['gain']:+.2f} points)" for c in flipped
    )
    data_line = "same data digest" if facts["same_data"] else "data digests differ or are unknown"
    weights = data.get("weights", [])
    weights_line = f"the tables trained with the same weights in {sum(w['same'] for w in weights)} of {len(weights)} choices; " if weights else ""
    return (
        f"Verdict: {data['verdict']}. Reproduction ({kernels(ours)}) against the reference ({kernels(theirs)}), {data_line}: "
        f"{weights_line}{identical} of {len(cells)} cells bit-identical, {differing} differ beyond the two seed spreads"
        f"{_widest_difference(cells)}; {len(claims) - len(flipped)} of {len(claims)} claims keep their verdict"
        + (f". Changed: {changes}" if flipped else "")
        + f"{_raw_changes(claims)}."
    )


def _widest_difference(cells: list[dict[str, Any]]) -> str:
    """", the widest difference: <cell> <+d> points (seed std <ours> here, <reference> in the
    reference)" for the cells of a comparison's data, or "" where none differs at all."""
    moved = [cell for cell in cells if cell["status"] != BIT_IDENTICAL]
    if not moved:
        return ""
    widest = max(moved, key=lambda cell: abs(cell["difference"]))
    name = f"{widest['backbone']} {widest['label']}" + ("" if widest["group"] == "main" else f" ({widest['group']})")
    return (
        f" (the widest difference: {name}, {widest['difference']:+.2f} points, seed std {_number(widest['ours_std'])} "
        f"here and {_number(widest['reference_std'])} in the reference)"
    )


def _raw_changes(claims: list[dict[str, Any]]) -> str:
    """"; before the correction, N of M raw verdicts changed (claims)" for a comparison's claims,
    or "" where the records carry no raw verdicts."""
    compared = [claim for claim in claims if claim.get("raw_agree") is not None]
    if not compared:
        return ""
    changed = [claim["claim"] for claim in compared if not claim["raw_agree"]]
    return f"; before the correction, {len(changed)} of {len(compared)} raw verdicts changed" + (f" ({'; '.join(changed)})" if changed else "")


NO_CROSS_CHECK = (
    "No reproduction on another machine or with other CPU kernels has been compared with this reference yet "
    "(the shipped book's comparison page says the same)."
)
"""The README's cross-check paragraph while the reference has no comparison of its own."""


def shipped_cross_check(reference: Path = REFERENCE) -> str:
    """The README's cross-check paragraph: :func:`summary_paragraph` of the shipped comparison's data
    (``comparison.json`` in ``reference``), or :data:`NO_CROSS_CHECK` when the reference has none."""
    path = reference / COMPARISON_DATA
    return summary_paragraph(json.loads(path.read_text())) if path.is_file() else NO_CROSS_CHECK


NO_OTHER_CROSS_CHECK = "No other reproduction of this reference's design is kept."
"""The README's list of further cross-checks while there is none."""


def other_cross_checks(reference: Path = REFERENCE, folder: Path = CROSS_MACHINE, results: Path = BENCHMARK_RESULTS) -> str:
    """The README's list of the other kept cross-checks: one item per reproduction in ``folder`` of
    the committed reference's design (its profile, dataset and design digest) whose comparison is not
    the shipped page in ``reference``, with the kept file's name and :func:`summary_paragraph` of its
    comparison with the reference; :data:`NO_OTHER_CROSS_CHECK` when there is none."""
    page = reference / COMPARISON_PAGE
    shown = page.read_text() if page.is_file() else None
    items = []
    for path in sorted(folder.glob("summary-*.json")):
        record = json.loads(path.read_text())
        committed = reference_record(record["profile"], record["dataset"], results)
        if committed is None:
            continue
        comparison = compare(record, committed)
        if comparison.verdict == OTHER_DESIGN or report_markdown(comparison) == shown:
            continue
        items.append(f"- `{path.name}`: {summary_paragraph(json.loads(json.dumps(comparison.to_dict())))}")
    return "\n".join(items) if items else NO_OTHER_CROSS_CHECK


def reference_record(profile: str, dataset: str, folder: Path = BENCHMARK_RESULTS) -> dict[str, Any] | None:
    """The committed reference summary record of ``profile`` on ``dataset``, or None when there is none."""
    path = folder / summary_file(record_name(profile, dataset))
    return json.loads(path.read_text()) if path.is_file() else None


def write_report(comparison: Comparison, folder: Path) -> Path:
    """Write ``comparison.md`` and ``comparison.json`` into ``folder`` atomically; returns the Markdown's path."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / COMPARISON_DATA, comparison.to_dict())
    path = folder / COMPARISON_PAGE
    atomic_write_bytes(path, report_markdown(comparison).encode())
    return path


def cross_check_name(record: dict[str, Any]) -> str:
    """The file name a reproduction's summary ``record`` is kept under in ``cross-machine/``: its
    profile and dataset (:func:`aicsd.study.record_files.record_name`), torch's CPU capability, oneDNN's
    instruction-set limit ("best" when none), its date and the commit it ran (so the checks of two
    references made on one day are both kept), e.g.
    ``summary-cpu-default-onednn-avx2-2026-12-07-177ff11.json``."""
    origin = record.get("provenance", {})
    kernels = f"{origin.get('cpu_capability') or 'unknown'}-onednn-{origin.get('onednn_max_isa') or 'best'}".lower()
    commit = str(origin.get("commit") or "unknown")[:7]
    return summary_file(f"{record_name(record['profile'], record['dataset'])}-{kernels}-{str(record['date'])[:10]}-{commit}")


def publish_cross_check(
    ours: dict[str, Any], folder: Path = CROSS_MACHINE, book: Path = REFERENCE, results: Path = BENCHMARK_RESULTS
) -> tuple[Path, Comparison]:
    """Keep the summary record ``ours`` of a reproduction on another machine (or with other kernels)
    in ``folder`` (:func:`cross_check_name`) and write its comparison with the committed reference
    of the same profile and dataset into ``book`` (the shipped book's comparison page). Returns the
    kept record's path and the comparison. Raises FileNotFoundError when no reference is committed."""
    reference = reference_record(ours["profile"], ours["dataset"], results)
    if reference is None:
        raise FileNotFoundError(f"no committed reference record {summary_file(record_name(ours['profile'], ours['dataset']))} in {results}")
    comparison = compare(ours, reference)
    folder.mkdir(parents=True, exist_ok=True)
    kept = folder / cross_check_name(ours)
    atomic_write_json(kept, ours)
    write_report(comparison, book)
    return kept, comparison


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ours", type=Path, help="a summary record (make reproduce writes book/_executed/summary.json)")
    parser.add_argument("--reference", type=Path, default=None, help="default: the committed record of the same profile and dataset")
    parser.add_argument("--output", type=Path, default=None, help="folder for comparison.md and .json (default: beside OURS)")
    parser.add_argument(
        "--publish", action="store_true", help="keep OURS in benchmarks/results/cross-machine/ and write the comparison into book/reference/"
    )
    args = parser.parse_args(argv)
    ours = json.loads(args.ours.read_text())
    if args.publish:
        if args.reference is not None or args.output is not None:
            parser.error("--publish compares with the committed reference and writes book/reference/: give neither --reference nor --output")
        kept, comparison = publish_cross_check(ours)
        print(f"kept {kept}; against the reference: {comparison.line()} -> {REFERENCE / COMPARISON_PAGE}")
        return 0
    if args.reference is not None:
        reference = json.loads(args.reference.read_text())
    else:
        reference = reference_record(ours["profile"], ours["dataset"])
        if reference is None:
            parser.error(f"no committed reference record for profile {ours['profile']} on {ours['dataset']}; give --reference")
    comparison = compare(ours, reference)
    path = write_report(comparison, args.output or args.ours.parent)
    print(f"against the reference: {comparison.line()} -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
