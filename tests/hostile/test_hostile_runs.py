"""Hostile servers and adapters against a whole run: replies whose content is not text,
waits of an hour, answers of 30 MB or of a parser-stalling digit run, keys echoed in
answers. The run must finish within its stated caps, record each sample, and write no
secret. Real HTTP on 127.0.0.1 (tests/support/openai_fault_server.py) with the real openai client.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from openai_fault_server import ANSWER, FaultServer, Reply, completion
from parse_stall import STALL, stalling_env
from repo_paths import ROOT
from runner_support import toy_benchmark

from timelens_eval.adapters import Adapter, GroundingOutput, GroundingRequest, Usage
from timelens_eval.adapters.openai_chat import OpenAIAdapter
from timelens_eval.benchmarks.base import Benchmark, Sample
from timelens_eval.runner import RunOptions, run_benchmark
from timelens_eval.spans import Span
from timelens_eval.store import read_sample_records
from timelens_eval.video.testing import write_indexed_video

pytestmark = pytest.mark.timeout(180)

ERR = {"error": {"message": "slow down"}}


def _benchmark(root: Path, names: list[str]) -> Benchmark:
    write_indexed_video(root / "v.mp4", np.arange(0, 3.0, 0.5), height=48, width=96)
    samples = [
        Sample(name, f"v{i % 3}", f"query {i}", 3.0, (Span(0.5, 2.5),), video="v.mp4")
        for i, name in enumerate(names)
    ]
    return Benchmark("hostile", samples, content_hash="hostile", video_root=str(root))


def _run(server: FaultServer, bench: Benchmark, output: Path, *, adapter: dict, **options):
    adapter_args = {"timeout": 30.0, "backoff": 0.02, "max_backoff": 0.1, **adapter}
    model = OpenAIAdapter(model="m", base_url=server.base_url, send_metadata=True, **adapter_args)
    settings = {
        "output": output,
        "concurrency": 8,
        "bootstrap": 0,
        "decode_workers": 1,
        "max_attempts": 2,
        "backoff_base": 0.02,
        **options,
    }
    return run_benchmark(model, bench, RunOptions(**settings))


def _body(content: Any) -> dict:
    body = completion()
    body["choices"][0]["message"]["content"] = content
    return body


def test_content_that_is_not_text_is_a_per_sample_error_or_text(tmp_path, monkeypatch):
    """Item 1: a 200 whose content is a number, an object or a list of parts."""
    monkeypatch.setenv("OPENAI_API_KEY", "k3y")  # item 4: a key shorter than 6 characters
    faults = {
        "number": [Reply(200, _body(12345))],
        "object": [Reply(200, _body({"text": "1 - 2"}))],
        "parts": [Reply(200, _body([{"type": "text", "text": "From 1.0 - 2.5 s."}]))],
        "echo": [Reply(200, _body("1.0 - 2.5; my key is k3y, k3y!"))],
        "clean": [Reply()],
    }
    bench = _benchmark(tmp_path, list(faults))
    with FaultServer(per_sample=faults) as server:
        outcome = _run(server, bench, tmp_path / "out" / "r.json", adapter={"max_retries": 1})
        tries = {name: len(server.attempts_of(name)) for name in faults}
    assert outcome.result is not None  # the run completed
    records = {r.sample_id: r for r in read_sample_records(outcome.paths.samples)}
    assert sorted(records) == sorted(faults)
    for name, kind in (("number", "int"), ("object", "dict")):
        record = records[name]
        assert record.status == "error" and record.iou == 0.0 and record.answer is None
        assert f"malformed response (content is {kind}, not text)" in record.error
        assert tries[name] == 2  # retried once by the adapter, then a final error
    assert records["parts"].answer == "From 1.0 - 2.5 s." and records["parts"].status == "ok"
    assert records["clean"].answer == ANSWER
    # the key, echoed inside a successful answer, is stored nowhere
    echo = records["echo"]
    assert echo.answer == "1.0 - 2.5; my key is ***, ***!" and echo.meta["redacted"] is True
    assert echo.status == "ok" and echo.spans == [(1.0, 2.5)]
    for path in Path(tmp_path / "out").iterdir():
        assert b"k3y" not in path.read_bytes(), path


class _BadAdapter(Adapter):
    """An adapter (third-party code) whose output breaks the interface per sample."""

    name = "bad"
    needs_frames = False

    async def ground(self, request: GroundingRequest) -> Any:
        kind = request.sample_id.split("#")[1]
        return {
            "0": GroundingOutput(text=12345),  # type: ignore[arg-type]
            "1": GroundingOutput(text=["1 - 2"]),  # type: ignore[arg-type]
            "2": "1 - 2",
            "3": GroundingOutput(text="1 - 2", usage=Usage(-5, 3)),
            "4": GroundingOutput(text="1 - 2", latency_s=float("nan")),
            "5": GroundingOutput(text="1 - 2", cost_usd=float("inf")),
        }.get(kind, GroundingOutput(text="1 - 2"))


def test_every_adapter_output_is_checked_at_the_boundary(tmp_path):
    bench = toy_benchmark(7, videos=2)
    outcome = run_benchmark(
        _BadAdapter(), bench, RunOptions(output=tmp_path / "bad.json", bootstrap=0)
    )
    assert outcome.result is not None and outcome.result.summary.errors == 6
    records = {r.sample_id: r for r in read_sample_records(outcome.paths.samples)}
    reasons = {
        "toy#0": "the answer is int, not text",
        "toy#1": "the answer is list, not text",
        "toy#2": "the adapter returned str, not a GroundingOutput",
        "toy#3": "usage.input_tokens is -5",
        "toy#4": "latency_s is nan",
        "toy#5": "cost_usd is inf",
    }
    for sample_id, reason in reasons.items():
        record = records[sample_id]
        assert record.status == "error" and record.attempts == 1, sample_id
        assert record.error.startswith("invalid adapter output: " + reason), record.error
    assert records["toy#6"].status == "ok" and records["toy#6"].answer == "1 - 2"


def test_server_waits_of_an_hour_are_not_slept(tmp_path):
    """Item 2: Retry-After: 3600 and retry-after-ms: 1e308 are over the cap: the try
    fails, the usual backoff follows, and the run ends in seconds."""
    hour = Reply(429, ERR, {"retry-after": "3600"})
    faults = {
        "hour": [hour],
        "forever-ms": [Reply(429, ERR, {"retry-after-ms": "1e308"})],
        "hour-then-ok": [hour, Reply()],
        "short-wait": [Reply(429, ERR, {"retry-after": "0.4"}), Reply()],
    }
    bench = _benchmark(tmp_path, list(faults))
    started = time.monotonic()
    with FaultServer(per_sample=faults) as server:
        outcome = _run(
            server,
            bench,
            tmp_path / "wait.json",
            adapter={"max_retries": 1},
            max_retry_after=5.0,
        )
        short = server.attempts_of("short-wait")
    elapsed = time.monotonic() - started
    assert elapsed < 60, elapsed  # not 3600 s
    records = {r.sample_id: r for r in read_sample_records(outcome.paths.samples)}
    for name, asked in (("hour", "3600"), ("forever-ms", "1e+305")):
        record = records[name]
        assert record.status == "error" and record.attempts == 2
        assert f"the server asked to wait {asked} s, over the 5 s cap" in record.error
    assert records["hour-then-ok"].status == "ok"
    assert records["short-wait"].status == "ok"
    assert 0.4 <= short[1].time - short[0].time < 3.0  # a wait within the cap is honoured


def test_backoff_jitter_stays_inside_max_backoff(monkeypatch):
    """Item 5: with backoff = max_backoff = 4 s every wait is at most 4 s (the jitter
    is taken off, not added on top of the cap: before, each wait was 4 to 5 s)."""
    from openai_fault_server import ground_once

    monkeypatch.setenv("OPENAI_API_KEY", "sk-jitter")
    script = [Reply(500, {"error": {}})] * 3 + [Reply()]
    with FaultServer(script) as server:
        adapter = OpenAIAdapter(
            model="m", base_url=server.base_url, backoff=4.0, max_backoff=4.0, max_retries=3
        )
        ground_once(adapter)
    gaps = server.gaps()
    assert len(gaps) == 3
    assert all(3.0 <= gap <= 4.3 for gap in gaps), gaps


_CHILD = """
import json, sys
import numpy as np
from timelens_eval.adapters.openai_chat import OpenAIAdapter
from timelens_eval.benchmarks.base import Benchmark, Sample
from timelens_eval.runner import RunOptions, run_benchmark
from timelens_eval.spans import Span

base_url, root, names = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
samples = [
    Sample(n, f"v{i}", f"query {i}", 3.0, (Span(0.5, 2.5),), video="v.mp4")
    for i, n in enumerate(names)
]
bench = Benchmark("hostile", samples, content_hash="hostile", video_root=root)
adapter = OpenAIAdapter(
    model="m", base_url=base_url, send_metadata=True, timeout=60.0, max_retries=0
)
options = RunOptions(
    output=root + "/big.json", concurrency=8, bootstrap=0, decode_workers=1,
    max_attempts=1, request_timeout=8.0, parse_timeout=2.0,
)
outcome = run_benchmark(adapter, bench, options)
# The high-water mark of this process's own memory (VmHWM starts anew at exec; the
# rusage figure would also count the parent it was forked from, a large test runner).
status = open("/proc/self/status").read()
peak_kb = int(status.split("VmHWM:")[1].split()[0])
print(json.dumps({"done": outcome.result is not None, "seconds": outcome.seconds,
                  "peak_mb": peak_kb / 1024}))
"""


@pytest.mark.slow
def test_huge_and_stalling_answers_do_not_block_the_run(tmp_path):
    """Item 3: a 30 MB answer and an answer that stalls the parser (a stand-in for a
    shape that would make it backtrack for minutes, see ``parse_stall``) arrive while
    other requests are in flight. The answers are cut / given up on within
    the stated caps, parsing stays off the event loop (a hung request still times out
    after 8 s, the clean ones keep their latency), and the run peaks under 1 GB."""
    huge = "1 " * 15_000_000  # 30 MB
    faults = {
        "huge": [Reply(200, _body(huge))],
        "digits": [Reply(200, _body(STALL + "1" * 4991))],
        "hung": [Reply(delay=20.0)],
        **{f"clean{i}": [Reply(delay=0.2)] for i in range(4)},
    }
    write_indexed_video(tmp_path / "v.mp4", np.arange(0, 3.0, 0.5), height=48, width=96)
    with FaultServer(per_sample=faults) as server:
        env = {**stalling_env(tmp_path / "shim"), "OPENAI_API_KEY": "sk-big"}
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _CHILD,
                server.base_url,
                str(tmp_path),
                json.dumps(list(faults)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        _, status, _ = os.wait4(child.pid, 0)
        out, err = child.stdout.read(), child.stderr.read()
        child.stdout.close()
        child.stderr.close()
    assert os.waitstatus_to_exitcode(status) == 0, err.decode()[-3000:]
    summary = json.loads(out)
    peak_mb = summary["peak_mb"]
    assert summary["done"] and peak_mb < 1024, peak_mb
    samples = tmp_path / "big.samples.jsonl"
    records = {r.sample_id: r for r in read_sample_records(samples)}
    cut = records["huge"]
    assert cut.answer == huge[:65536] and cut.meta["answer_truncated"] is True
    assert cut.meta["answer_chars"] == len(huge) and cut.status == "reversed"  # "1 1"
    assert samples.stat().st_size < 1_000_000
    stalled = records["digits"]
    assert stalled.status == "error" and stalled.iou == 0.0
    assert stalled.error == "the answer (5000 characters) was not parsed within 2 s"
    assert stalled.answer == STALL + "1" * 4991
    hung = records["hung"]
    assert hung.status == "error" and hung.answer is None
    assert hung.error == "timed out after 8 s"
    for i in range(4):
        clean = records[f"clean{i}"]
        assert clean.status == "ok" and clean.latency_s < 6.0, clean.latency_s  # was 23 s
