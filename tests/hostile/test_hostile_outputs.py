"""Hostile outputs: a disk that fills up mid-run, an ``-o`` under a file or on a
read-only file system, a corrupt record in the middle of a stream, and a server that
must not keep requests. Each ends in one line (no traceback), loses nothing, and
resumes; the disk is a real (1 MB tmpfs) file system where the machine allows it."""

from __future__ import annotations

import base64
import io
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from repo_paths import ROOT
from runner_support import stream_ids

from timelens_eval.store import read_result, read_sample_records

pytestmark = pytest.mark.timeout(300)

N = 60


def _annotations(path: Path) -> Path:
    """A QVHighlights-format file (the loader is the real one)."""
    with open(path, "w") as fh:
        for i in range(N):
            fh.write(
                json.dumps(
                    {
                        "qid": i,
                        "query": f"a person does thing {i}",
                        "duration": 40.0,
                        "vid": f"video{i % 9}",
                        "relevant_windows": [[2.0 + i % 20, 12.0 + i % 20]],
                    }
                )
                + "\n"
            )
    return path


def _answers(path: Path, size: int) -> Path:
    """Mock answers of ``size`` characters (by query), to fill a disk quickly."""
    pad = "x" * size
    answers = {
        f"a person does thing {i}": f"From {i % 20} to {i % 20 + 9}. {pad}" for i in range(N)
    }
    path.write_text(json.dumps(answers))
    return path


def _cli(*args: str, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "timelens_eval", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
        preexec_fn=preexec,
    )


def _run_args(tmp: Path, output: Path, answer_size: int = 40, *extra: str) -> list[str]:
    answers = _answers(tmp / f"answers-{answer_size}.json", answer_size)
    return [
        "run",
        "--adapter",
        "mock",
        "--adapter-args",
        f"answers={answers}",
        "--benchmark",
        "qvhighlights",
        "--annotations",
        str(_annotations(tmp / "qv.jsonl")),
        "--output",
        str(output),
        "--bootstrap",
        "0",
        "--concurrency",
        "2",
        "--no-progress",
        *extra,
    ]


def _one_line_error(done: subprocess.CompletedProcess, *parts: str) -> str:
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, done.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def _mount(target: Path, options: str) -> bool:
    if os.geteuid() != 0:
        return False
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True
    )
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path) -> Iterator[tuple[Path, str]]:
    """A 1 MB tmpfs (root), else the same folder under a 1 MB file-size limit; yields
    ``(folder, kind)``."""
    disk = tmp_path / "disk"
    if _mount(disk, "size=1m"):
        try:
            yield disk, "tmpfs"
        finally:
            subprocess.run(["umount", "-l", str(disk)], check=False)
    else:
        disk.mkdir()
        yield disk, "fsize"


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


def test_a_disk_that_fills_up_mid_run_is_one_line_and_the_run_resumes(tmp_path, small_disk):
    disk, kind = small_disk
    output = disk / "run.json"
    args = _run_args(tmp_path, output, 40_000)  # 60 records of ~40 KB: 2.4 MB on 1 MB
    done = _cli(*args, preexec=_limit_file_size if kind == "fsize" else None)
    reason = "no space left on device" if kind == "tmpfs" else "file too large"
    _one_line_error(done, f"cannot write {disk / 'run.samples.jsonl'}: {reason}", "resume")
    kept = read_sample_records(disk / "run.samples.jsonl")  # intact (a torn tail is cut)
    assert 0 < len(kept) < N
    assert not output.exists()
    # With room again the same command resumes: nothing lost, nothing twice.
    if kind == "tmpfs":
        subprocess.run(["mount", "-o", "remount,size=16m", str(disk)], check=True)
    again = _cli(*args)
    assert again.returncode == 0, again.stderr
    ids = stream_ids(disk / "run.samples.jsonl")
    assert len(ids) == len(set(ids)) == N
    assert [r.sample_id for r in kept] == ids[: len(kept)]
    assert read_result(output).summary.n == N


def test_output_under_a_file_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    output = blocker / "run.json"
    done = _cli(*_run_args(tmp_path, output))
    _one_line_error(done, f"cannot write {output}: a part of the path is a file, not a folder")


def test_an_unwritable_output_is_one_line(tmp_path):
    place = tmp_path / "ro"
    if not _mount(place, "ro,size=64k"):
        if os.geteuid() == 0:
            pytest.skip("root without mount: permissions would not stop a write")
        place.mkdir()
        place.chmod(0o555)
    output = place / "sub" / "run.json"
    done = _cli(*_run_args(tmp_path, output))
    try:
        _one_line_error(done, f"cannot write {output}: ")
        assert "read-only file system" in done.stderr or "permission denied" in done.stderr
    finally:
        subprocess.run(["umount", "-l", str(place)], check=False, capture_output=True)


def test_a_corrupt_record_mid_stream_can_be_quarantined_on_resume(tmp_path):
    output = tmp_path / "out" / "run.json"
    args = _run_args(tmp_path, output)
    assert _cli(*args).returncode == 0
    samples = tmp_path / "out" / "run.samples.jsonl"
    lines = samples.read_bytes().splitlines(keepends=True)
    lost = json.loads(lines[6])["sample_id"]
    lines[6] = b'{"sample_id": "qv#6", "torn in the middle\n'
    lines[9] = b'{"sample_id": 7}\n'  # JSON, but not a record
    samples.write_bytes(b"".join(lines))
    output.unlink()

    done = _cli(*args)
    _one_line_error(done, f"{samples}:7: not valid JSON", "--quarantine-corrupt")
    assert samples.read_bytes() == b"".join(lines)  # nothing was changed

    done = _cli(*args, "--quarantine-corrupt")
    assert done.returncode == 0, done.stderr
    assert "2 corrupt record(s) moved to" in done.stderr
    quarantine = tmp_path / "out" / "run.samples.corrupt.jsonl"
    assert quarantine.read_bytes() == lines[6] + lines[9]
    ids = stream_ids(samples)
    assert len(ids) == len(set(ids)) == N and lost in ids
    assert read_result(output).summary.n == N


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _frame_url(seed: int) -> str:
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 255, (448, 448, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.slow
def test_serve_keeps_nothing_per_request(tmp_path):
    """100 requests of 8 decoded 448x448 frames each (4.8 MB of pixels a request): the
    server's resident memory after request 100 is within 60 MB of that after request 10."""
    import httpx

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "timelens_eval", "serve", "--adapter", "mock", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/models", timeout=1.0)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        frames = [_frame_url(i) for i in range(8)]
        content = [{"type": "text", "text": "When does it happen?"}]
        content += [{"type": "image_url", "image_url": {"url": url}} for url in frames]
        rss = {}
        with httpx.Client(base_url=base, timeout=60) as client:
            for i in range(1, 101):
                body = {
                    "model": "mock",
                    "messages": [{"role": "user", "content": content}],
                    "timelens": {"sample_id": f"s{i}", "duration": 30.0},
                }
                assert client.post("/chat/completions", json=body).status_code == 200
                if i in (10, 100):
                    rss[i] = _rss_mb(server.pid)
        assert rss[100] - rss[10] < 60, rss
    finally:
        server.terminate()
        server.wait(20)
