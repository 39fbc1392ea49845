"""environment.yml (conda users) lists exactly the dependencies of pyproject.toml (core + dev)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    expected = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    environment = yaml.safe_load((REPO / "environment.yml").read_text())
    (pip,) = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict)]
    assert set(pip) - {"-e ."} == expected
    assert "python=3.11" in environment["dependencies"]
    assert {"torch==2.14.1", "torchvision==0.29.1"} <= expected
