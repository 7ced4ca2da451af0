"""Kill test: a run killed part-way (SIGKILL, Ctrl-C) and rerun equals an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_runner_support import comparable, metrics_of, stream_ids

from timelens_eval.cli import main
from timelens_eval.store import read_sample_records

N = 80


def _annotations(path: Path) -> Path:
    """A QVHighlights-format file (the loader is the real one)."""
    with open(path, "w") as fh:
        for i in range(N):
            duration = 30.0 + (i % 4) * 15
            start = (i * 2.3) % (duration - 10)
            fh.write(
                json.dumps(
                    {
                        "qid": i,
                        "query": f"a person does thing {i}",
                        "duration": duration,
                        "vid": f"video{i % 9}",
                        "relevant_windows": [[round(start, 1), round(start + 8, 1)]],
                    }
                )
                + "\n"
            )
    return path


def _argv(annotations: Path, output: Path) -> list[str]:
    return [
        "run",
        "--adapter",
        "mock",
        "--adapter-args",
        "latency=0.04,jitter=1.0",
        "--benchmark",
        "qvhighlights",
        "--annotations",
        str(annotations),
        "--concurrency",
        "4",
        "--output",
        str(output),
        "--bootstrap",
        "200",
        "--no-progress",
    ]


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _start(annotations: Path, output: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "timelens_eval", *_argv(annotations, output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # A shell may start us with SIGINT ignored; the child must see Ctrl-C.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _interrupt_part_way(proc: subprocess.Popen, samples: Path, sig: int) -> int:
    deadline = time.monotonic() + 60
    while _lines(samples) < 12:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.005)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    return proc.returncode


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, sig):
    annotations = _annotations(tmp_path / "toy.jsonl")
    reference = tmp_path / "reference" / "run.json"
    assert main(_argv(annotations, reference)) == 0

    output = tmp_path / "killed" / "run.json"
    samples = output.with_name("run.samples.jsonl")
    code = _interrupt_part_way(_start(annotations, output), samples, sig)
    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 130)
    recorded = _lines(samples)
    assert 12 <= recorded < N, "the kill must land part-way through the run"
    assert not output.exists()  # no header for an unfinished run
    # What survived is intact (a torn last line at most) and has no duplicates.
    survived = stream_ids(samples)
    assert len(survived) == len(set(survived)) >= recorded - 1

    assert main(_argv(annotations, output)) == 0  # the same command resumes
    ids = stream_ids(samples)
    assert len(ids) == len(set(ids)) == N
    assert set(ids[: len(survived)]) == set(survived)  # earlier records kept, not redone
    assert comparable(read_sample_records(samples)) == comparable(
        read_sample_records(reference.with_name("run.samples.jsonl"))
    )
    assert metrics_of(output) == metrics_of(reference)
