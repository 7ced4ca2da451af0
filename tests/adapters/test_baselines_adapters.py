"""Baselines: uniform, prior and random, run through the real runner and scorer."""

from __future__ import annotations

import asyncio
import json

import pytest
from runner_support import toy_benchmark

from timelens_eval.adapters import GroundingRequest, build_adapter
from timelens_eval.errors import ConfigError
from timelens_eval.parsing import parse_spans
from timelens_eval.runner import RunOptions, run_benchmark
from timelens_eval.spans import Span, temporal_iou
from timelens_eval.store import read_sample_records


def _ask(adapter, sample_id="s", duration=40.0, clip=None):
    request = GroundingRequest(sample_id, "q", duration, None, None, clip=clip)
    text = asyncio.run(adapter.ground(request)).text
    return parse_spans(text, duration=duration).top


def test_baselines_take_no_frames_and_are_typed_baselines():
    for name in ("uniform", "random"):
        adapter = build_adapter(name)
        assert adapter.needs_frames is False and adapter.model_type == "baseline"


def test_uniform_answers_the_whole_video_and_scores_its_coverage(tmp_path):
    assert _ask(build_adapter("uniform"), duration=37.5) == Span(0.0, 37.5)
    assert _ask(build_adapter("uniform"), clip=Span(5, 12)) == Span(5.0, 12.0)
    bench = toy_benchmark(15)
    out = run_benchmark(
        build_adapter("uniform"), bench, RunOptions(output=tmp_path / "u.json", bootstrap=0)
    )
    records = {r.sample_id: r for r in read_sample_records(out.paths.samples)}
    for sample in bench.samples:
        ((start, end),) = sample.gt
        assert records[sample.sample_id].iou == pytest.approx(
            (end - start) / sample.duration, abs=1e-3
        )


def test_random_is_seeded_per_sample_and_stays_inside_the_video():
    a, b = build_adapter("random", "seed=1"), build_adapter("random", "seed=1")
    spans = [_ask(a, f"id{i}", 50.0) for i in range(50)]
    assert spans == [_ask(b, f"id{i}", 50.0) for i in range(50)]  # reproducible
    assert len(set(spans)) == 50  # a different span per sample
    assert all(0 <= s.start <= s.end <= 50.0 for s in spans)
    other = [_ask(build_adapter("random", "seed=2"), f"id{i}", 50.0) for i in range(50)]
    assert other != spans
    # Uniform start/end pairs: mean IoU with a fixed window is well inside (0, 1).
    mean = sum(temporal_iou(s, (10, 30)) for s in spans) / 50
    assert 0.1 < mean < 0.6


def _train_file(path, windows):
    with open(path, "w") as fh:
        for i, (duration, start, end) in enumerate(windows):
            fh.write(
                json.dumps(
                    {
                        "qid": i,
                        "query": f"q{i}",
                        "duration": duration,
                        "vid": f"v{i}",
                        "relevant_windows": [[start, end]],
                    }
                )
                + "\n"
            )
    return path


def test_prior_learns_the_mean_normalised_span_of_a_train_file(tmp_path):
    windows = [(100.0, 10.0, 30.0), (50.0, 25.0, 50.0), (20.0, 0.0, 4.0)]
    train = _train_file(tmp_path / "train.jsonl", windows)
    adapter = build_adapter("prior", f"train={train},train_format=qvhighlights")
    mean_start = (0.1 + 0.5 + 0.0) / 3
    mean_end = (0.3 + 1.0 + 0.2) / 3
    assert adapter.args["start"] == pytest.approx(mean_start, abs=1e-6)
    assert adapter.args["end"] == pytest.approx(mean_end, abs=1e-6)
    assert adapter.args["train_samples"] == 3
    span = _ask(adapter, duration=60.0)
    assert span.start == pytest.approx(60 * mean_start, abs=0.01)
    assert span.end == pytest.approx(60 * mean_end, abs=0.01)


def test_prior_with_given_fractions_and_bad_arguments(tmp_path):
    adapter = build_adapter("prior", "start=0.25,end=0.5")
    assert _ask(adapter, duration=40.0) == Span(10.0, 20.0)
    with pytest.raises(ConfigError, match="both"):
        build_adapter("prior", "start=0.2")
    with pytest.raises(ConfigError, match="0 <= start < end <= 1"):
        build_adapter("prior", "start=0.6,end=0.5")
    with pytest.raises(ConfigError, match="not found"):
        build_adapter("prior", f"train={tmp_path / 'nope.jsonl'},train_format=qvhighlights")
    with pytest.raises(ConfigError, match="unknown benchmark"):
        build_adapter("prior", "train=no-such-benchmark")


def test_prior_default_learns_from_the_synthetic_train_split():
    from timelens_eval.synthetic.plan import SplitConfig, plan_split

    adapter = build_adapter("prior")
    plan = plan_split(SplitConfig(split="train"))
    durations = {scene.video_id: scene.duration for scene in plan.scenes}
    starts = [s.refined_gt[0] / durations[s.video_id] for s in plan.samples]
    assert adapter.args["train_samples"] == len(plan.samples) > 100
    assert adapter.args["start"] == pytest.approx(sum(starts) / len(starts), abs=1e-6)
    assert 0 < adapter.args["start"] < adapter.args["end"] < 1


@pytest.mark.slow
def test_prior_from_the_plan_equals_the_prior_from_the_loaded_split():
    """The shortcut (no rendering) learns what loading the rendered split would."""
    from timelens_eval.benchmarks import load_benchmark

    bench = load_benchmark("synthetic-refined")  # the test split, cached after first use
    starts = [s.gt[0][0] / s.duration for s in bench.samples]
    ends = [s.gt[0][1] / s.duration for s in bench.samples]
    adapter = build_adapter("prior", "split=test")
    assert adapter.args["start"] == pytest.approx(sum(starts) / len(starts), abs=1e-6)
    assert adapter.args["end"] == pytest.approx(sum(ends) / len(ends), abs=1e-6)
