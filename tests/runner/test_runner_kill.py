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
from runner_support import comparable, metrics_of, stream_ids

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


def _descendants(root: int) -> set[int]:
    """Process ids below ``root`` (Linux /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


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


@pytest.mark.slow
def test_killed_run_with_frame_decoding_resumes_and_leaves_no_frame_blocks(tmp_path):
    import numpy as np

    from timelens_eval.video.testing import write_indexed_video

    annotations = _annotations(tmp_path / "toy.jsonl")
    videos = tmp_path / "videos"
    videos.mkdir()
    for v in range(9):
        write_indexed_video(videos / f"video{v}.mp4", np.arange(0, 8, 0.125))
    argv = [
        "run",
        "--adapter",
        "mock",
        "--adapter-args",
        "frames=true,latency=0.03",
        "--benchmark",
        "qvhighlights",
        "--annotations",
        str(annotations),
        "--video-root",
        str(videos),
        "--concurrency",
        "2",
        "--workers",
        "1",
        "--no-progress",
        "--bootstrap",
        "100",
    ]
    reference = tmp_path / "reference.json"
    assert main([*argv, "--output", str(reference)]) == 0
    output = tmp_path / "killed.json"
    samples = tmp_path / "killed.samples.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "timelens_eval", *argv, "--output", str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    while _lines(samples) < 3:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.01)
    helpers = _descendants(proc.pid)  # forkserver, decoding workers, resource tracker
    assert helpers
    _interrupt_part_way(proc, samples, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{pid}").exists() for pid in helpers):
        assert time.monotonic() < deadline, "decoding workers outlived the killed run"
        time.sleep(0.1)
    assert 12 <= _lines(samples) < N
    assert main([*argv, "--output", str(output)]) == 0  # resumes, frees the dead run's blocks
    leftover = (
        [p for p in Path("/dev/shm").glob(f"tle_{proc.pid}_*")] if Path("/dev/shm").is_dir() else []
    )
    assert leftover == []
    records = read_sample_records(samples)
    assert len({r.sample_id for r in records}) == len(records) == N
    assert all(r.status != "error" and r.meta["frames"] == 16 for r in records)
    assert comparable(records) == comparable(
        read_sample_records(tmp_path / "reference.samples.jsonl")
    )
    assert metrics_of(output) == metrics_of(reference)
