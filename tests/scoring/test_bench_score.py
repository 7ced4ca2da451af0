"""benchmarks/bench_score.py runs as docs/performance.md shows it (on small corpora)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from repo_paths import ROOT

SCRIPT = ROOT / "benchmarks" / "bench_score.py"


def _run(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        # (no TimeLens checkout: the runs here time ours alone)
        env={**{k: v for k, v in os.environ.items() if k != "TIMELENS_REPO"}, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_both_corpora_with_stages_and_parsers(tmp_path: Path) -> None:
    out = _run(
        "--n", "3000", "--repeat", "2", "--stages", "--parsers", "500", "--keep", str(tmp_path)
    )
    assert out.count("| timelens-eval score --json |") == 2
    assert "2 rounds, medians\n" in out  # (no TimeLens: no ratios)
    for corpus in ("raw", "parsed"):
        assert (tmp_path / f"{corpus}.json").stat().st_size > 100_000
        assert f"#### stages of {corpus}.json (compiled scanner " in out
    assert "| total after the interpreter's start |" in out
    assert "| first_spans (all at once) |" in out
    assert "| compiled first_span" in out


def test_says_when_the_scanner_is_off(tmp_path: Path) -> None:
    out = _run("--n", "500", "--corpus", "raw", env={"TIMELENS_EVAL_COMPILED": "0"})
    assert "compiled scanner off (TIMELENS_EVAL_COMPILED=0)" in out
    path = tmp_path / "raw.json"
    _run("--n", "500", "--corpus", "raw", "--keep", str(tmp_path))
    stages = _run("--stages-of", str(path), env={"TIMELENS_EVAL_COMPILED": "0"})
    assert "(compiled scanner off)" in stages
