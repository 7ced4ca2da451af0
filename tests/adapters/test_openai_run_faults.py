"""A whole run of the openai adapter against a faulty server: every sample gets its own
fault; the run completes, failures are recorded per sample, and nothing is lost."""

from __future__ import annotations

import numpy as np
import pytest
from openai_fault_server import ANSWER, Drop, FaultServer, Reply

from timelens_eval.adapters.openai_chat import OpenAIAdapter
from timelens_eval.benchmarks.base import Benchmark, Sample
from timelens_eval.parsing import parse_spans
from timelens_eval.runner import RunOptions, run_benchmark
from timelens_eval.spans import Span, temporal_iou
from timelens_eval.store import read_sample_records
from timelens_eval.video.testing import write_indexed_video

pytestmark = pytest.mark.timeout(120)

ERR = {"error": {"message": "upstream failure"}}
FAULTS = {
    "rate-limited": [Reply(429, ERR, {"retry-after": "0.3"}), Reply()],
    "server-errors": [Reply(500, ERR), Reply(503, ERR), Reply()],
    "timeout": [Reply(delay=2.0), Reply()],
    "malformed": [Reply(200, b'{"id": "x", "choices": [{"mess'), Reply()],
    "dropped": [Drop(), Reply()],
    "always-500": [Reply(500, ERR)],
    "bad-request": [Reply(400, {"error": {"message": "image too large"}})],
    "clean": [Reply()],
}


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory) -> Benchmark:
    root = tmp_path_factory.mktemp("fault-videos")
    write_indexed_video(root / "v.mp4", np.arange(0, 3.0, 0.5), height=48, width=96)
    samples = [
        Sample(
            sample_id=name,
            video_id=f"v{i % 3}",
            query=f"query {i}",
            duration=3.0,
            gt=(Span(0.5 + 0.1 * i, 2.5),),
            video="v.mp4",
        )
        for i, name in enumerate(FAULTS)
    ]
    return Benchmark("faults", samples, content_hash="faults", video_root=str(root))


def run(server: FaultServer, benchmark: Benchmark, output, **adapter_args):
    adapter = OpenAIAdapter(
        model="m",
        base_url=server.base_url,
        send_metadata=True,
        timeout=0.5,
        backoff=0.02,
        **adapter_args,
    )
    options = RunOptions(
        output=output,
        concurrency=4,
        bootstrap=0,
        decode_workers=1,
        max_attempts=3,
        backoff_base=0.02,
    )
    return run_benchmark(adapter, benchmark, options)


def test_each_fault_is_retried_or_recorded_and_the_run_completes(tmp_path, benchmark):
    output = tmp_path / "faults.json"
    with FaultServer(per_sample=FAULTS) as server:
        outcome = run(server, benchmark, output, max_retries=2)
        tries = {name: len(server.attempts_of(name)) for name in FAULTS}
        gap = (
            server.attempts_of("rate-limited")[1].time - server.attempts_of("rate-limited")[0].time
        )

        assert outcome.result is not None  # completed: the header is written
        records = {r.sample_id: r for r in read_sample_records(outcome.paths.samples)}
        assert sorted(records) == sorted(FAULTS)  # one record per sample, none lost

        expected_tries = {
            "rate-limited": 2,
            "server-errors": 3,
            "timeout": 2,
            "malformed": 2,
            "dropped": 2,
            "always-500": 3,  # 1 + max_retries, then a final error
            "bad-request": 1,  # not retryable
            "clean": 1,
        }
        assert tries == expected_tries
        assert gap >= 0.3  # Retry-After honoured

        for name in ("always-500", "bad-request"):
            record = records[name]
            assert record.status == "error" and record.iou == 0.0 and record.answer is None
            assert record.attempts == 1  # final errors: the runner does not call again
        assert "HTTP 500" in records["always-500"].error
        assert "image too large" in records["bad-request"].error
        for name in set(FAULTS) - {"always-500", "bad-request"}:
            record = records[name]
            assert record.answer == ANSWER and record.status == "ok"
            gt = benchmark.by_id()[name].gt[0]
            assert record.iou == pytest.approx(temporal_iou(parse_spans(ANSWER).top, gt))
            assert record.input_tokens == 1200 and record.output_tokens == 14
        assert outcome.result.summary.errors == 2 and outcome.result.summary.n == len(FAULTS)

        # Rerunning the same command resumes: nothing is asked again, nothing duplicated.
        before = len(server.attempts)
        again = run(server, benchmark, output, max_retries=2)
        assert len(server.attempts) == before and again.ran == 0
    assert [r.sample_id for r in read_sample_records(again.paths.samples)] == [
        r.sample_id for r in read_sample_records(outcome.paths.samples)
    ]
    assert again.result.summary == outcome.result.summary


def test_without_adapter_retries_the_runner_retries_honouring_retry_after(tmp_path, benchmark):
    faults = {
        "rate-limited": [Reply(429, ERR, {"retry-after": "0.4"}), Reply()],
        "always-500": [Reply(500, ERR)],
    }
    one = Benchmark(
        "two",
        [s for s in benchmark.samples if s.sample_id in faults],
        content_hash="two",
        video_root=benchmark.video_root,
    )
    with FaultServer(per_sample=faults) as server:
        outcome = run(server, one, tmp_path / "handoff.json", max_retries=0)
        limited = server.attempts_of("rate-limited")
        assert len(limited) == 2 and limited[1].time - limited[0].time >= 0.4
        assert len(server.attempts_of("always-500")) == 3  # the runner's --max-attempts
    records = {r.sample_id: r for r in read_sample_records(outcome.paths.samples)}
    assert records["rate-limited"].status == "ok" and records["rate-limited"].attempts == 2
    assert records["always-500"].status == "error" and records["always-500"].attempts == 3
