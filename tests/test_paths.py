"""The default run store and data folder: the checkout's runs/ and data/, or AICSD_RUNS / AICSD_DATA.

The tests run with both set to a temporary folder (tests/conftest.py), so they never write into the
checkout's run store or data folder, where a finished or running ``make reproduce`` may live.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from aicsd import paths
from aicsd.cli import build_parser
from aicsd.data import DEFAULT_SYNTHETIC_ROOT
from aicsd.engine import RunConfig, load_profile
from aicsd.paths import DATA_ENV, DATA_ROOT, REPO_ROOT, RUNS_ENV, RUNS_ROOT

_DEFAULTS = (
    "import json; from aicsd.engine import RunConfig, load_profile; from aicsd.data import DEFAULT_SYNTHETIC_ROOT; "
    "print(json.dumps([RunConfig.output_dir, load_profile('smoke', dataset='camvid').data_root, str(DEFAULT_SYNTHETIC_ROOT)]))"
)


def test_the_tests_use_a_run_store_and_data_folder_of_their_own():
    assert RUNS_ROOT == Path(os.environ[RUNS_ENV]) and DATA_ROOT == Path(os.environ[DATA_ENV])
    assert not RUNS_ROOT.is_relative_to(REPO_ROOT) and not DATA_ROOT.is_relative_to(REPO_ROOT)
    assert RunConfig.output_dir == str(RUNS_ROOT) == load_profile("smoke").output_dir
    assert load_profile("smoke").data_root == str(DATA_ROOT / "synthetic") == str(DEFAULT_SYNTHETIC_ROOT)
    assert build_parser().parse_args(["runs"]).root is None  # the command line falls back on RUNS_ROOT


def test_the_environment_moves_the_defaults_and_without_it_they_are_the_checkouts(tmp_path, monkeypatch):
    environment = {**os.environ, RUNS_ENV: str(tmp_path / "r"), DATA_ENV: str(tmp_path / "d")}
    completed = subprocess.run(
        [sys.executable, "-c", _DEFAULTS], env=environment, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(completed.stdout) == [str(tmp_path / "r"), str(tmp_path / "d" / "camvid"), str(tmp_path / "d" / "synthetic")]
    monkeypatch.delenv(RUNS_ENV)
    assert paths._from_environment(RUNS_ENV, REPO_ROOT / "runs") == REPO_ROOT / "runs"
    monkeypatch.setenv(RUNS_ENV, " ")
    assert paths._from_environment(RUNS_ENV, REPO_ROOT / "runs") == REPO_ROOT / "runs"
