"""The README's results section and CamVid headline are what ``make results-table`` prints for the committed records."""

import re
from pathlib import Path

from aicsd.study.compare import other_cross_checks, reference_record, shipped_cross_check
from aicsd.study.results_section import headline, results_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- results-table: begin -->", "<!-- results-table: end -->"


def test_the_readme_results_are_the_committed_records():
    text = README.read_text()
    blocks = re.findall(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), text, re.DOTALL)
    assert len(blocks) == 1, f"README.md needs one section between {BEGIN} and {END}"
    record = reference_record("cpu", "synthetic")
    assert record is not None, "benchmarks/results/summary-cpu.json is missing"
    assert blocks[0] == results_markdown(record), "README.md's results differ from `make results-table`: paste its output"


def test_the_readme_camvid_headline_is_the_committed_camvid_record():
    begin, end = "<!-- camvid-headline: begin -->", "<!-- camvid-headline: end -->"
    blocks = re.findall(re.escape(begin) + r"\n(.*?)" + re.escape(end), README.read_text(), re.DOTALL)
    assert len(blocks) == 1, f"README.md needs one section between {begin} and {end}"
    record = reference_record("cpu", "camvid")
    assert record is not None, "benchmarks/results/summary-cpu-camvid.json is missing"
    assert blocks[0] == headline(record) + "\n", "README.md's CamVid headline differs from the record's: paste the first line of `make results-table DATASET=camvid`"


def test_the_readme_cross_check_paragraph_is_the_shipped_comparisons():
    begin, end = "<!-- cross-check: begin -->", "<!-- cross-check: end -->"
    blocks = re.findall(re.escape(begin) + r"\n(.*?)" + re.escape(end), README.read_text(), re.DOTALL)
    assert len(blocks) == 1, f"README.md needs one section between {begin} and {end}"
    assert blocks[0] == shipped_cross_check() + "\n", "README.md's cross-check differs from book/reference/comparison.json (or its absence)"


def test_the_readme_lists_the_other_kept_cross_checks():
    begin, end = "<!-- other-cross-checks: begin -->", "<!-- other-cross-checks: end -->"
    blocks = re.findall(re.escape(begin) + r"\n(.*?)" + re.escape(end), README.read_text(), re.DOTALL)
    assert len(blocks) == 1, f"README.md needs one section between {begin} and {end}"
    assert blocks[0] == other_cross_checks() + "\n", "README.md's list of other cross-checks differs from the kept records' comparisons"
