"""The code style and the types are carried by ruff and mypy (configured in pyproject.toml)."""

import shutil
import subprocess
import sys

import pytest
from repo_paths import ROOT


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it is in the test extra)")
    paths = ["timelens_eval", "leaderboard", "tests", "benchmarks", "scripts"]
    out = subprocess.run([ruff, "check", *paths], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


FORMATTED = ["timelens_eval", "leaderboard", "tests", "scripts", "examples"]
"""Folders held to ``ruff format`` (the layout of the code is the formatter's)."""


def test_ruff_format_would_change_nothing():
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", *FORMATTED],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
def test_mypy_finds_no_type_error(tmp_path):
    """mypy with the pydantic plugin (configured in pyproject.toml) on the package, the
    adapters included."""
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path), "timelens_eval"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-5000:] + out.stderr
    assert "Success: no issues found" in out.stdout
