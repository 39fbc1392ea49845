"""The README's results section is what ``make results-table`` prints for the committed record."""

import re
from pathlib import Path

from aicsd.study.compare import reference_record
from aicsd.study.results_section import results_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- results-table: begin -->", "<!-- results-table: end -->"


def test_the_readme_results_are_the_committed_records():
    text = README.read_text()
    blocks = re.findall(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), text, re.DOTALL)
    assert len(blocks) == 1, f"README.md needs one section between {BEGIN} and {END}"
    record = reference_record("cpu", "synthetic")
    assert record is not None, "benchmarks/results/summary-cpu.json is missing"
    assert blocks[0] == results_markdown(record), "README.md's results differ from `make results-table`: paste its output"
