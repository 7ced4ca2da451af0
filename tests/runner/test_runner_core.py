"""The runner through real code paths: concurrency, retries, failures, resume, spec checks."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
from runner_support import comparable, metrics_of, stream_ids, toy_benchmark

from timelens_eval.adapters import Adapter, AdapterError, GroundingOutput, build_adapter
from timelens_eval.benchmarks.base import Benchmark, Sample
from timelens_eval.errors import ConfigError
from timelens_eval.metrics import score_answer, summarize
from timelens_eval.runner import RunOptions, run_benchmark
from timelens_eval.runner.options import parse_shard, select_samples
from timelens_eval.spans import Span
from timelens_eval.store import SCHEMA_VERSION, read_result, read_sample_records


def _opts(tmp_path, **kw):
    kw.setdefault("output", tmp_path / "run.json")
    kw.setdefault("bootstrap", 50)
    kw.setdefault("backoff_base", 0.01)
    return RunOptions(**kw)


def test_records_scores_and_header_match_an_independent_computation(tmp_path):
    bench = toy_benchmark(30)
    outcome = run_benchmark(build_adapter("mock"), bench, _opts(tmp_path), adapter_name="mock")
    assert outcome.result is not None and outcome.ran == 30 and outcome.resumed == 0
    records = {r.sample_id: r for r in read_sample_records(outcome.paths.samples)}
    assert sorted(records) == sorted(s.sample_id for s in bench.samples)
    # Score every answer again, independently of the runner, and compare.
    ious, statuses, videos = [], [], []
    for sample in bench.samples:
        record = records[sample.sample_id]
        again = score_answer(record.answer, sample.gt, sample.duration)
        assert record.iou == pytest.approx(again.iou)
        assert record.status == again.parsed.status.value
        assert record.sample_hash == sample.content_hash()
        ious.append(again.iou)
        statuses.append(record.status)
        videos.append(sample.video_id)
    expected = summarize(ious, statuses, videos, bootstrap=50, seed=0)
    header = read_result(outcome.paths.header)
    assert header.schema_version == SCHEMA_VERSION
    assert header.summary == expected
    spec = header.spec
    assert (spec.adapter, spec.model, spec.benchmark, spec.variant) == (
        "mock",
        "mock",
        "toy",
        "refined",
    )
    assert spec.benchmark_hash == "hash-toy-30"
    assert spec.adapter_args["rule"] == "hash" and "api_key" not in spec.adapter_args
    assert "timelens-eval" in spec.versions and "python" in spec.versions
    assert spec.prompt is None and spec.frames is None  # the mock takes no frames here
    assert header.samples_file == outcome.paths.samples.name


def test_concurrency_is_reached_and_never_exceeded(tmp_path):
    adapter = build_adapter("mock", "latency=0.05")
    started = time.perf_counter()
    run_benchmark(adapter, toy_benchmark(40), _opts(tmp_path, concurrency=10))
    elapsed = time.perf_counter() - started
    assert adapter.max_in_flight == 10
    assert elapsed < 40 * 0.05 / 2  # far below the serial time


def test_transient_failures_are_retried_and_persistent_ones_recorded(tmp_path):
    bench = toy_benchmark(12)
    ids = [s.sample_id for s in bench.samples]
    adapter = build_adapter(
        "mock", {"fail_times": {ids[1]: 2, ids[2]: 3}, "fail_always": [ids[3], ids[4]]}
    )
    outcome = run_benchmark(adapter, bench, _opts(tmp_path, max_attempts=3))
    records = {r.sample_id: r for r in read_sample_records(outcome.paths.samples)}
    assert len(records) == 12 and outcome.result is not None
    assert records[ids[1]].status != "error" and records[ids[1]].attempts == 3
    for failed in (ids[2], ids[3], ids[4]):
        assert records[failed].status == "error" and records[failed].iou == 0.0
        assert records[failed].attempts == 3 and records[failed].answer is None
        assert "scripted" in records[failed].error
    assert adapter.calls[ids[3]] == 3
    assert outcome.result.summary.errors == 3 and outcome.result.summary.n == 12


class _Flaky(Adapter):
    name = "flaky"
    needs_frames = False

    def __init__(self, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(retryable=retryable, retry_after=retry_after)
        self.times: list[float] = []

    async def ground(self, request):
        self.times.append(time.perf_counter())
        if len(self.times) == 1:
            raise AdapterError(
                "busy", retryable=self.args["retryable"], retry_after=self.args["retry_after"]
            )
        return GroundingOutput(text="1 - 2")


def test_non_retryable_errors_are_not_retried(tmp_path):
    adapter = _Flaky(retryable=False)
    outcome = run_benchmark(adapter, toy_benchmark(1), _opts(tmp_path))
    [record] = read_sample_records(outcome.paths.samples)
    assert len(adapter.times) == 1 and record.status == "error" and record.attempts == 1


def test_retry_after_is_honoured_instead_of_the_backoff(tmp_path):
    adapter = _Flaky(retryable=True, retry_after=0.3)
    run_benchmark(adapter, toy_benchmark(1), _opts(tmp_path, backoff_base=30.0))
    assert len(adapter.times) == 2
    assert 0.28 <= adapter.times[1] - adapter.times[0] < 5.0


def test_exponential_backoff_between_tries(tmp_path):
    bench = toy_benchmark(1)
    adapter = build_adapter("mock", {"fail_always": [bench.samples[0].sample_id]})
    started = time.perf_counter()
    run_benchmark(adapter, bench, _opts(tmp_path, backoff_base=0.1, max_attempts=4))
    # 0.1, 0.2 and 0.4 seconds, each with half of it jittered: 0.35 to 0.7 in all.
    assert 0.34 <= time.perf_counter() - started < 5.0


def test_request_timeout_counts_as_a_retryable_failure(tmp_path):
    adapter = build_adapter("mock", "latency=5")
    outcome = run_benchmark(
        adapter, toy_benchmark(2), _opts(tmp_path, request_timeout=0.05, max_attempts=2)
    )
    records = read_sample_records(outcome.paths.samples)
    assert all(r.status == "error" and "timed out" in r.error and r.attempts == 2 for r in records)


def test_resume_skips_done_samples_and_repairs_a_torn_line(tmp_path):
    bench = toy_benchmark(20)
    reference = run_benchmark(build_adapter("mock"), bench, _opts(tmp_path / "ref"))
    first = run_benchmark(build_adapter("mock"), bench, _opts(tmp_path, limit=None))
    samples = first.paths.samples
    lines = samples.read_text().splitlines(keepends=True)
    # Keep 8 complete lines and half of the 9th, as a writer killed mid-line would.
    samples.write_text("".join(lines[:8]) + lines[8][: len(lines[8]) // 2])
    first.paths.header.unlink()

    adapter = build_adapter("mock")
    again = run_benchmark(adapter, bench, _opts(tmp_path))
    assert again.resumed == 8 and again.ran == 12 and len(adapter.calls) == 12
    ids = stream_ids(samples)
    assert len(ids) == len(set(ids)) == 20
    assert comparable(read_sample_records(samples)) == comparable(
        read_sample_records(reference.paths.samples)
    )
    assert metrics_of(again.paths.header) == metrics_of(reference.paths.header)


def test_resume_refuses_a_changed_spec_and_fresh_overrides(tmp_path):
    bench = toy_benchmark(6)
    run_benchmark(build_adapter("mock", "rule=hash"), bench, _opts(tmp_path))
    with pytest.raises(ConfigError) as info:
        run_benchmark(build_adapter("mock", "rule=center"), bench, _opts(tmp_path))
    message = str(info.value)
    assert "adapter_args.rule" in message and '"hash" != "center"' in message
    assert "--fresh" in message
    changed = Benchmark("toy", bench.samples, "another-hash", variant="refined")
    with pytest.raises(ConfigError, match="benchmark_hash"):
        run_benchmark(build_adapter("mock"), changed, _opts(tmp_path))
    adapter = build_adapter("mock", "rule=center")
    outcome = run_benchmark(adapter, bench, _opts(tmp_path, fresh=True))
    assert (
        outcome.ran == 6 and read_result(outcome.paths.header).spec.adapter_args["rule"] == "center"
    )


def test_retry_errors_reruns_only_failed_samples(tmp_path):
    bench = toy_benchmark(8)
    bad = bench.samples[2].sample_id
    script = {"fail_times": {bad: 1}}
    first = run_benchmark(build_adapter("mock", script), bench, _opts(tmp_path, max_attempts=1))
    assert first.errors == 1
    plain = run_benchmark(build_adapter("mock", script), bench, _opts(tmp_path))
    assert plain.ran == 0 and plain.errors == 1  # a plain resume keeps recorded failures
    adapter = build_adapter("mock", script)  # fails once, then answers
    outcome = run_benchmark(adapter, bench, _opts(tmp_path, retry_errors=True, max_attempts=2))
    assert list(adapter.calls) == [bad]
    records = read_sample_records(outcome.paths.samples)
    assert len(records) == 8 and all(r.status != "error" for r in records)


def test_limit_and_shards_select_deterministically():
    bench = toy_benchmark(10)
    limited = select_samples(bench.samples, 7, None)
    assert [i for i, _ in limited] == list(range(7))
    shards = [select_samples(bench.samples, 7, parse_shard(f"{k}/3")) for k in range(3)]
    assert [i for i, _ in shards[1]] == [1, 4]
    assert sorted(i for shard in shards for i, _ in shard) == list(range(7))
    for bad in ("3/3", "1/0", "a/b", "-1/2"):
        with pytest.raises(ConfigError, match="--shard"):
            parse_shard(bad)


def test_frames_are_decoded_for_adapters_that_need_them(tmp_path):
    from timelens_eval.video.testing import write_indexed_video

    write_indexed_video(tmp_path / "a.mp4", np.arange(0, 6, 0.25))
    (tmp_path / "broken.mp4").write_bytes(b"not a video")  # present, but cannot be decoded
    samples = [
        Sample("ok#0", "a", "the thing", 6.0, (Span(1, 3),), video="a.mp4"),
        Sample("ok#1", "a", "the other", 6.0, (Span(2, 5),), video="a.mp4", clip=Span(2, 6)),
        Sample("bad#0", "b", "broken", 6.0, (Span(1, 2),), video="broken.mp4"),
    ]
    bench = Benchmark("vids", samples, "h", video_root=str(tmp_path))
    adapter = build_adapter("mock", "frames=true")
    outcome = run_benchmark(adapter, bench, _opts(tmp_path, decode_workers=1))
    # Frames came through shared memory; every block of this run was freed.
    assert not [b for b in _frame_blocks() if b.startswith(f"tle_{os.getpid()}_")]
    records = {r.sample_id: r for r in read_sample_records(outcome.paths.samples)}
    by_id = {r.sample_id: r for r in adapter.requests}
    stamps = by_id["ok#0"].message.timestamps
    assert list(stamps) == pytest.approx(np.arange(0, 6, 0.5))  # 2 fps preset
    assert by_id["ok#1"].message.timestamps.min() >= 2.0  # the clip only
    assert records["ok#0"].meta["frames"] == 12
    assert records["bad#0"].status == "error" and "broken.mp4" in records["bad#0"].error
    assert "ok#0" in adapter.calls and "bad#0" not in adapter.calls  # never reached the model
    spec = read_result(outcome.paths.header).spec
    assert spec.frames.fps == 2.0 and spec.prompt.template == "timelens"
    assert len(spec.prompt.template_hash) >= 8


def test_an_adapter_bug_is_recorded_without_stopping_the_run(tmp_path):
    bench = toy_benchmark(5)

    def answer(request):
        if request.sample_id == bench.samples[0].sample_id:
            raise ZeroDivisionError("oops")
        return "0 - 5"

    outcome = run_benchmark(build_adapter("mock", {"answers": answer}), bench, _opts(tmp_path))
    records = {r.sample_id: r for r in read_sample_records(outcome.paths.samples)}
    assert records[bench.samples[0].sample_id].error == "ZeroDivisionError: oops"
    assert sum(r.status == "error" for r in records.values()) == 1 and outcome.result is not None


def test_secrets_never_reach_records_or_headers(tmp_path, monkeypatch):
    key = "sk-test-0123456789abcdef"
    monkeypatch.setenv("MOCK_API_KEY", key)
    bench = toy_benchmark(4)
    adapter = build_adapter(
        "mock",
        {"key_env": "MOCK_API_KEY", "echo_key": True, "fail_always": [bench.samples[0].sample_id]},
    )
    assert adapter.args["api_key"] == key  # the adapter got it from the environment
    outcome = run_benchmark(adapter, bench, _opts(tmp_path, max_attempts=1))
    for path in (outcome.paths.header, outcome.paths.samples, outcome.paths.spec):
        assert key not in path.read_text()
    failed = read_sample_records(outcome.paths.samples)
    assert any(r.error and "(key ***)" in r.error for r in failed)
    header = json.loads(outcome.paths.header.read_text())
    assert "api_key" not in header["spec"]["adapter_args"]


def test_missing_credentials_fail_before_the_run(monkeypatch):
    monkeypatch.delenv("MOCK_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="MOCK_API_KEY is not set"):
        build_adapter("mock", "key_env=MOCK_API_KEY")


def test_unknown_prompt_template_or_encoding_fails_before_any_sample(tmp_path):
    bench = toy_benchmark(3)
    for option in ({"template": "no-such-template"}, {"encoding": "no-such-encoding"}):
        with pytest.raises(ConfigError, match="unknown"):
            run_benchmark(build_adapter("mock", "frames=true"), bench, _opts(tmp_path, **option))
        assert not (tmp_path / "run.samples.jsonl").exists()


class _BadOutput(Adapter):
    name = "bad-output"
    needs_frames = False

    async def ground(self, request):
        return GroundingOutput(text="1 - 2", cost_usd="a lot")  # type: ignore[arg-type]


def test_invalid_adapter_output_and_missing_videos_are_recorded_per_sample(tmp_path):
    outcome = run_benchmark(_BadOutput(), toy_benchmark(3), _opts(tmp_path / "a"))
    records = read_sample_records(outcome.paths.samples)
    assert all(r.status == "error" and "invalid adapter output" in r.error for r in records)
    # A frame-taking adapter on samples without a video file.
    outcome = run_benchmark(
        build_adapter("mock", "frames=true"),
        toy_benchmark(3),
        _opts(tmp_path / "b", decode_workers=1),
    )
    records = read_sample_records(outcome.paths.samples)
    assert all(r.status == "error" and "no video" in r.error for r in records)
    assert outcome.result is not None and outcome.result.summary.errors == 3


def _frame_blocks() -> set[str]:
    from pathlib import Path

    shm = Path("/dev/shm")
    return {p.name for p in shm.glob("tle_*")} if shm.is_dir() else set()


@pytest.mark.skipif(not __import__("os").path.isdir("/dev/shm"), reason="needs /dev/shm")
def test_frame_blocks_of_dead_runs_are_freed():
    import os
    import subprocess
    import sys
    from pathlib import Path

    from timelens_eval.runner.frames import free_orphaned_blocks

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    orphan = Path(f"/dev/shm/tle_{dead_pid}_test0001")
    mine = Path(f"/dev/shm/tle_{os.getpid()}_test0002")
    try:
        orphan.write_bytes(b"x")
        mine.write_bytes(b"x")
        assert free_orphaned_blocks() >= 1
        assert not orphan.exists() and mine.exists()
    finally:
        orphan.unlink(missing_ok=True)
        mine.unlink(missing_ok=True)


def test_backoff_doubles_with_bounded_jitter_and_respects_the_cap():
    from timelens_eval.runner.engine import _Run

    run = _Run.__new__(_Run)
    run.options = RunOptions(backoff_base=1.0, backoff_max=5.0)
    delays = [
        [run._delay(f"s{i}", attempt, None) for attempt in (1, 2, 3, 4, 5)] for i in range(50)
    ]
    for attempt, full in enumerate((1.0, 2.0, 4.0, 5.0, 5.0)):
        column = [row[attempt] for row in delays]
        assert all(full / 2 <= d <= full for d in column)
        assert len(set(column)) > 40  # spread, not in lockstep
    assert run._delay("s0", 3, None) == delays[0][2]  # deterministic
    assert run._delay("s0", 1, AdapterError("x", retry_after=7.5)) == 7.5


class _PathArgs(Adapter):
    name = "path-args"
    needs_frames = False

    def __init__(self, weights: str = "w") -> None:
        from pathlib import Path

        super().__init__(weights=Path(weights), scorer=len)

    async def ground(self, request):
        return GroundingOutput(text="0 - 1")


def test_adapter_arguments_that_are_not_json_are_recorded_as_text(tmp_path):
    outcome = run_benchmark(_PathArgs("/models/x"), toy_benchmark(2), _opts(tmp_path))
    args = read_result(outcome.paths.header).spec.adapter_args
    assert args["weights"] == "/models/x" and "len" in args["scorer"]
    again = run_benchmark(_PathArgs("/models/x"), toy_benchmark(2), _opts(tmp_path))
    assert again.resumed == 2  # the recorded spec compares equal on resume


def test_records_carry_the_samples_error_category(tmp_path):
    from dataclasses import replace

    bench = toy_benchmark(6)
    labels = ["none", "inaccurate_boundaries", "duplicate_query", "none", "no_event", "none"]
    bench.samples = [
        replace(s, meta={"error_category": c}) for s, c in zip(bench.samples, labels, strict=True)
    ]
    outcome = run_benchmark(build_adapter("mock"), bench, _opts(tmp_path), adapter_name="mock")
    records = {r.sample_id: r for r in read_sample_records(outcome.paths.samples)}
    for sample, label in zip(bench.samples, labels, strict=True):
        assert records[sample.sample_id].meta["error_category"] == label
