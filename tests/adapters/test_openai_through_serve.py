"""The openai adapter evaluates a model served by ``timelens-eval serve``, through the runner.

The backing model is the mock adapter with an answer that depends on the frames it is
shown (the index drawn into a frame's pixels) and their timestamps, so the scores only
match when images, timestamps and sample metadata survive the HTTP round trip.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from timelens_eval.adapters.mock import MockAdapter, hash_fraction
from timelens_eval.adapters.openai_chat import OpenAIAdapter
from timelens_eval.benchmarks.base import Benchmark, Sample
from timelens_eval.runner import RunOptions, run_benchmark
from timelens_eval.serve import ServerThread, create_app
from timelens_eval.spans import Span
from timelens_eval.store import read_sample_records
from timelens_eval.video.testing import read_frame_index, write_indexed_video

pytestmark = pytest.mark.timeout(120)

SECRET = "sk-through-serve-0123456789"


def frame_answer(request) -> str:
    """Pick a frame from the sample id; its drawn index and timestamp give the span."""
    images = request.message.images
    k = int(hash_fraction("frame", request.sample_id) * len(images))
    drawn = read_frame_index(images[k].image)
    start = images[k].timestamp
    return f"The event happens in {start:.2f} - {start + 0.25 * (1 + drawn % 7):.2f} seconds."


def backing() -> MockAdapter:
    return MockAdapter(answers=frame_answer, frames=True, model="frame-mock")


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory) -> Benchmark:
    root = tmp_path_factory.mktemp("videos")
    samples = []
    for v in range(3):
        write_indexed_video(root / f"v{v}.mp4", np.arange(0, 4.0 + v, 0.25))
        for q in range(3):
            duration = 4.0 + v
            start = 0.5 * q + 0.25 * v
            samples.append(
                Sample(
                    sample_id=f"v{v}#{q}",
                    video_id=f"v{v}",
                    query=f"event {q} in video {v}",
                    duration=duration,
                    gt=(Span(start, start + 1.5),),
                    video=f"v{v}.mp4",
                    clip=Span(0.5, duration) if q == 2 else None,
                )
            )
    return Benchmark("served-toy", samples, content_hash="toy", video_root=str(root))


def options(tmp_path, name: str, **extra) -> RunOptions:
    return RunOptions(
        output=tmp_path / f"{name}.json",
        concurrency=3,
        bootstrap=0,
        decode_workers=1,
        encoding="interleaved",
        **extra,
    )


def test_scores_equal_those_of_the_backing_adapter_run_directly(tmp_path, benchmark, monkeypatch):
    direct = run_benchmark(backing(), benchmark, options(tmp_path, "direct"))
    assert direct.result is not None and direct.errors == 0

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with ServerThread(create_app(backing(), api_key=SECRET)) as server:
        client = OpenAIAdapter(
            model="frame-mock", base_url=server.base_url, send_metadata=True, jpeg_quality=95
        )
        served = run_benchmark(
            client, benchmark, options(tmp_path, "served"), adapter_name="openai"
        )
    assert served.result is not None and served.errors == 0

    by_id = {r.sample_id: r for r in read_sample_records(direct.paths.samples)}
    records = read_sample_records(served.paths.samples)
    assert len(records) == len(benchmark.samples)
    for record in records:
        reference = by_id[record.sample_id]
        assert record.answer == reference.answer
        assert (record.iou, record.status) == (reference.iou, reference.status)
        assert record.input_tokens == reference.input_tokens  # same number of frames
        assert record.meta["frames"] == reference.meta["frames"]
    # the answers really vary with the frames: not one constant span
    assert len({r.answer for r in records}) > 3
    assert served.result.summary.metrics == direct.result.summary.metrics
    assert served.result.spec.adapter == "openai"
    assert served.result.spec.adapter_args["base_url"] == server.base_url
    assert "openai" in served.result.spec.versions

    everything = "".join(p.read_text() for p in tmp_path.iterdir() if p.is_file())
    assert SECRET not in everything


def test_persistent_failures_are_recorded_and_the_run_completes(tmp_path, benchmark, monkeypatch):
    flaky = MockAdapter(
        answers=frame_answer,
        frames=True,
        model="frame-mock",
        retry_after=0.05,
        fail_times={"v0#1": 2},
        fail_always=["v1#2"],
    )
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with ServerThread(create_app(flaky)) as server:
        client = OpenAIAdapter(
            model="frame-mock",
            base_url=server.base_url,
            send_metadata=True,
            max_retries=3,
            backoff=0.01,
        )
        outcome = run_benchmark(
            client, benchmark, options(tmp_path, "flaky", max_attempts=2, backoff_base=0.01)
        )
    assert outcome.result is not None  # the run completed and wrote its header
    records = {r.sample_id: r for r in read_sample_records(outcome.paths.samples)}
    assert sorted(records) == sorted(s.sample_id for s in benchmark.samples)  # nothing lost
    assert records["v1#2"].status == "error"
    assert "after 4 attempts" in records["v1#2"].error  # the adapter's budget: 1 + 3 retries
    assert records["v1#2"].attempts == 1  # a final error: the runner does not retry it again
    assert flaky.calls["v1#2"] == 4
    assert records["v0#1"].status != "error" and flaky.calls["v0#1"] == 3
    assert outcome.errors == 1 and outcome.result.summary.errors == 1
    header = json.loads(outcome.paths.header.read_text())
    assert header["summary"]["n"] == len(benchmark.samples)
