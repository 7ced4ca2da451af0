"""Sorting answers on a synthetic split by the event they land on (no rendering)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from timelens_eval.cli import main
from timelens_eval.errors import InputError
from timelens_eval.predictions import read_predictions
from timelens_eval.spans import temporal_iou
from timelens_eval.synthetic.confusions import CATEGORIES, event_confusions
from timelens_eval.synthetic.plan import SplitConfig, plan_split
from timelens_eval.synthetic.scenes import Event, Scene

CONFIG = SplitConfig(split="test", seed=0, videos=24)


@pytest.fixture(scope="module")
def plan():
    return plan_split(CONFIG)


def _quiet_span(scene: Scene) -> tuple[float, float] | None:
    """A 0.5 s window that overlaps no event of the scene, if the scene has one."""
    t = 0.0
    while t + 0.5 <= scene.duration:
        span = (t, t + 0.5)
        if all(span[1] <= e.start or span[0] >= e.end for e in scene.events):
            return span
        t += 0.5
    return None


def _pick(plan, want: str, exclude: frozenset[str] = frozenset()):
    """A (sample, span) whose answer must fall in category ``want``."""
    scenes = {s.video_id: s for s in plan.scenes}
    for sample in plan.samples:
        if sample.sample_id in exclude:
            continue
        scene = scenes[sample.video_id]
        own: Event = sample.event
        gt = sample.refined_gt
        for other in scene.events:
            span = (other.start, other.end)
            if other.event_id == own.event_id or temporal_iou(span, gt) >= 0.5:
                continue
            others = [e for e in scene.events if e.event_id != other.event_id]
            same_object = other.object_id == own.object_id
            same_colour = not same_object and other.colour_before == own.colour_before
            kind = (
                "same_object" if same_object else "same_colour" if same_colour else "other_object"
            )
            # the best-matching event must be `other` itself
            if kind == want and all(temporal_iou(span, (e.start, e.end)) < 1.0 for e in others):
                return sample, span
        if want == "no_event":
            quiet = _quiet_span(scene)
            if quiet is not None:
                return sample, quiet
    raise AssertionError(f"no sample in the plan can make a {want!r} answer")


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_each_kind_of_answer_is_sorted_into_its_category(plan, tmp_path):
    rows, expected = [], {}
    used = set()
    for kind in ("same_object", "other_object", "no_event"):
        sample, span = _pick(plan, kind, frozenset(used))
        used.add(sample.sample_id)
        rows.append({"sample_id": sample.sample_id, "spans": [list(span)]})
        expected[sample.sample_id] = kind
    free = [s for s in plan.samples if s.sample_id not in used]
    hit, reversed_, unparsable = free[0], free[1], free[2]
    rows.append(
        {"sample_id": hit.sample_id, "answer": "{:.1f} - {:.1f} seconds".format(*hit.refined_gt)}
    )
    rows.append({"sample_id": reversed_.sample_id, "spans": [[5.0, 2.0]]})
    rows.append({"sample_id": unparsable.sample_id, "answer": "I cannot tell."})
    result = event_confusions(read_predictions(_write(tmp_path / "p.jsonl", rows)), plan)

    assert result.samples == 6
    assert result.missing == len(plan.samples) - 6
    want = dict.fromkeys(CATEGORIES, 0)
    for kind in expected.values():
        want[kind] += 1
    want["hit"] += 1
    want["no_span"] += 2
    assert result.counts == want
    assert sum(result.counts.values()) == result.samples
    assert len(result.no_event_distances) == 1 and result.no_event_distances[0] > 0


def test_same_colour_is_told_from_another_object(plan, tmp_path):
    try:
        sample, span = _pick(plan, "same_colour")
    except AssertionError:
        pytest.skip("this plan has no two objects of one colour with separable events")
    rows = [{"sample_id": sample.sample_id, "spans": [list(span)]}]
    result = event_confusions(read_predictions(_write(tmp_path / "p.jsonl", rows)), plan)
    assert result.counts["same_colour"] == 1


def test_references_for_a_query_blind_model(plan, tmp_path):
    """Answering every query of a video with one of its events: every answer repeats."""
    scenes = {s.video_id: s for s in plan.scenes}
    rows = []
    for sample in plan.samples:
        first = scenes[sample.video_id].events[0]
        rows.append({"sample_id": sample.sample_id, "spans": [[first.start, first.end]]})
    result = event_confusions(read_predictions(_write(tmp_path / "p.jsonl", rows)), plan)
    assert result.counts["no_event"] == 0 and result.counts["no_span"] == 0
    assert result.repeated_span_share == pytest.approx(100.0)  # every video has 2+ queries

    # the random-event reference, recomputed by brute force over every (sample, event)
    expected = []
    for sample in plan.samples:
        events = scenes[sample.video_id].events
        hits = [temporal_iou((e.start, e.end), sample.refined_gt) >= 0.5 for e in events]
        expected.append(sum(hits) / len(events))
    assert result.random_event_r1 == pytest.approx(100 * sum(expected) / len(expected))
    assert 0 < result.random_event_r1 < 100
    # the oracle answers (each sample's own window) all hit; their repeats are rare
    oracle = [{"sample_id": s.sample_id, "spans": [list(s.refined_gt)]} for s in plan.samples]
    best = event_confusions(read_predictions(_write(tmp_path / "o.jsonl", oracle)), plan)
    assert best.counts["hit"] == len(plan.samples) and best.share("hit") == 100.0


def test_a_file_of_another_split_is_refused_with_its_line(plan, tmp_path):
    rows = [
        {"sample_id": plan.samples[0].sample_id, "spans": [[0.0, 1.0]]},
        {"sample_id": "train0003#1", "spans": [[0.0, 1.0]]},
    ]
    with pytest.raises(InputError) as info:
        event_confusions(read_predictions(_write(tmp_path / "p.jsonl", rows)), plan)
    assert info.value.line == 2 and info.value.sample == "train0003#1"
    assert "p.jsonl:2" in str(info.value)


def test_cli_prints_the_table_and_json(plan, tmp_path, capsys):
    sample = plan.samples[0]
    path = _write(
        tmp_path / "p.jsonl", [{"sample_id": sample.sample_id, "spans": [list(sample.refined_gt)]}]
    )
    args = ["synth", "confusions", str(path), "--videos", str(CONFIG.videos)]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "hit" in table and "100.0%" in table
    assert f"{len(plan.samples) - 1} not answered" in table
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["hit"] == 1 and data["samples"] == 1
    assert main([*args, "--split", "dev"]) == 2
    assert "not a sample of the synthetic 'dev' split" in capsys.readouterr().err
    assert main([*args, "--threshold", "0"]) == 2
    assert "--threshold" in capsys.readouterr().err
