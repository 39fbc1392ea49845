"""The README's generated sections are what the committed records print: the results section and
CamVid headline (``make results-table``) and the cross-checks (``aicsd.study.compare``)."""

import re
from pathlib import Path

from aicsd.study.compare import other_cross_checks, reference_record, shipped_cross_check
from aicsd.study.results_section import headline, results_markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def _block(name: str) -> str:
    """The one README section between ``<!-- name: begin -->`` and ``<!-- name: end -->``."""
    begin, end = f"<!-- {name}: begin -->", f"<!-- {name}: end -->"
    blocks = re.findall(re.escape(begin) + r"\n(.*?)" + re.escape(end), README.read_text(), re.DOTALL)
    assert len(blocks) == 1, f"README.md needs one section between {begin} and {end}"
    return blocks[0]


def test_the_readme_results_are_the_committed_records():
    record = reference_record("cpu", "synthetic")
    assert record is not None, "benchmarks/results/summary-cpu.json is missing"
    assert _block("results-table") == results_markdown(record), "README.md's results differ from `make results-table`: paste its output"


def test_the_readme_camvid_headline_is_the_committed_camvid_record():
    record = reference_record("cpu", "camvid")
    assert record is not None, "benchmarks/results/summary-cpu-camvid.json is missing"
    assert _block("camvid-headline") == headline(record) + "\n", "README.md's CamVid headline differs from the record's: paste the first line of `make results-table DATASET=camvid`"


def test_the_readme_cross_check_paragraph_is_the_shipped_comparisons():
    assert _block("cross-check") == shipped_cross_check() + "\n", "README.md's cross-check differs from book/reference/comparison.json (or its absence)"


def test_the_readme_lists_the_other_kept_cross_checks():
    assert _block("other-cross-checks") == other_cross_checks() + "\n", "README.md's list of other cross-checks differs from the kept records' comparisons"
