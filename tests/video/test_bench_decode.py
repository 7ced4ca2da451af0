"""``benchmarks/bench_decode.py`` runs as docs/performance.md shows it (here on short
videos), and its decode-workers arithmetic is the published rate over the sample's
tokens, times the CPU a sample costs."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from repo_paths import ROOT

pytest.importorskip("torchvision", reason="the qwen-vl-utils resize needs torchvision")


def test_engine_needs() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_decode

    rate, cores = bench_decode.engine_needs(17_917.0, 12_904.0, 2.0)
    assert rate == pytest.approx(17_917.0 / 12_904.0)
    assert cores == pytest.approx(2.0 * 17_917.0 / 12_904.0)


def test_bench_decode_runs_on_short_videos() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_decode.py"),
            "--videos",
            "1",
            "--samples",
            "2",
            "--workers",
            "1",
            "2",
            "--seconds",
            "3",
            "4",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = re.findall(r"^\| (\d) \| ([\d.]+) \| ([\d.]+) \|", done.stdout, re.MULTILINE)
    assert [r[0] for r in rows] == ["1", "2"]
    assert all(float(r[1]) > 0 and float(r[2]) > 0 for r in rows)
    assert re.search(
        r"An engine taking 17,917 prompt tokens/s .* decode workers per GPU", done.stdout
    )
