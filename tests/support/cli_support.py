"""Running ``timelens-eval`` in-process from a test (no tests here)."""

from __future__ import annotations

import pytest

from timelens_eval.cli import main


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``timelens-eval ARGV`` through :func:`timelens_eval.cli.main`: exit code, stdout, stderr."""
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err
