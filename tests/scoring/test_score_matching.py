"""How predictions find their samples: TimeChat's positions checked against video and
query, one prediction per sample, and the coverage a user reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from timelens_eval.benchmarks.base import Benchmark, Sample
from timelens_eval.errors import ConfigError
from timelens_eval.predictions import read_predictions
from timelens_eval.scoring import score_predictions
from timelens_eval.spans import Span

# Position -> (video id, query, GT, video file). The GT windows are disjoint, so the IoU
# of a prediction that repeats a sample's GT tells which sample it was matched to.
SAMPLES = [
    ("V1", "open the door", (0.0, 10.0), None),
    ("V1", "sit down", (10.0, 20.0), None),
    ("V2", "open the door", (20.0, 30.0), None),
    ("V1", "open the door", (30.0, 40.0), None),  # the pair of position 0 again
    ("V3", "drink", (40.0, 50.0), "clips/V3_full.mp4"),  # file stem differs from the id
    ("V4", "wave", (50.0, 60.0), None),  # no prediction
]


def _bench() -> Benchmark:
    samples = [
        Sample(f"S{i}", video, query, 60.0, (Span(*gt),), video=file)
        for i, (video, query, gt, file) in enumerate(SAMPLES)
    ]
    return Benchmark("toy", samples, content_hash="0" * 64)


def _timechat(tmp_path: Path, records: list[tuple[str, str, str, tuple[float, float]]]):
    data = {ref: {"timestamp": [list(span)], "query": q, "vid": v} for ref, v, q, span in records}
    path = tmp_path / "timechat.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return read_predictions(path, "timechat")


def _iou_by_sample(result) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return dict(zip(result.sample_ids, result.ious.tolist(), strict=True))


def test_timechat_positions_are_checked_against_video_and_query(tmp_path: Path) -> None:
    preds = _timechat(
        tmp_path,
        [
            # Not a position: matched by video and query, to the pair's first free sample
            # once the positions are claimed (position 0 is, so S3).
            ("abc", "V1.mp4", "open the door", (30.0, 40.0)),
            ("0", "V1.mp4", "open the door", (0.0, 10.0)),  # its position: S0, not S3
            ("1", "V2.mp4", "open the door", (20.0, 30.0)),  # position 1 disagrees: S2
            ("6", "V3_full.mp4", "drink", (40.0, 50.0)),  # past the last position: by file
            ("5", "V1.mp4", "sit down", (10.0, 20.0)),  # position 5 disagrees: S1
            ("def", "V2.mp4", "open the door", (20.0, 30.0)),  # S2 is taken: matches nothing
        ],
    )
    result = score_predictions(preds, _bench(), bootstrap=0)
    assert _iou_by_sample(result) == {
        "S0": 1.0, "S1": 1.0, "S2": 1.0, "S3": 1.0, "S4": 1.0, "S5": 0.0
    }  # fmt: skip
    assert result.coverage.matched == 5
    assert result.coverage.missing == ["S5"] and result.coverage.extra == ["def"]
    assert result.summary.n_videos == 4  # V1, V2, V3, V4: the missing sample's video counts


def test_a_sample_claimed_by_its_position_is_not_given_to_another_prediction(
    tmp_path: Path,
) -> None:
    preds = _timechat(
        tmp_path,
        [
            ("abc", "V1.mp4", "sit down", (12.0, 20.0)),  # same pair, no position, first
            ("1", "V1.mp4", "sit down", (10.0, 20.0)),  # position 1 agrees: S1 is its
            ("0", "V1.mp4", "open the door", (0.0, 10.0)),
            ("3", "V1.mp4", "open the door", (30.0, 40.0)),
            ("xyz", "V1.mp4", "open the door", (0.0, 10.0)),  # both samples of its pair taken
            ("9", "V9.mp4", "no such query", (0.0, 10.0)),  # no sample has its video
        ],
    )
    result = score_predictions(preds, _bench(), bootstrap=0)
    ious = _iou_by_sample(result)
    assert (ious["S0"], ious["S1"], ious["S3"]) == (1.0, 1.0, 1.0)
    assert result.coverage.matched == 3
    assert sorted(result.coverage.extra) == ["9", "abc", "xyz"]
    assert result.coverage.missing == ["S2", "S4", "S5"]


def test_matched_only_needs_a_benchmark(tmp_path: Path) -> None:
    preds = _timechat(tmp_path, [("0", "V1.mp4", "open the door", (0.0, 10.0))])
    with pytest.raises(ConfigError, match=r"^--matched-only needs --benchmark NAME$"):
        score_predictions(preds, None, bootstrap=0, matched_only=True)


def test_a_sample_with_several_gt_windows_scores_the_window_overlapped_best(
    tmp_path: Path,
) -> None:
    windows = (Span(0.0, 10.0), Span(20.0, 30.0))
    samples = [
        Sample("M0", "V1", "open the door", 60.0, windows),
        Sample("M1", "V2", "open the door", 60.0, windows),
        Sample("M2", "V3", "open the door", 60.0, (Span(0.0, 10.0),)),
    ]
    bench = Benchmark("toy", samples, content_hash="0" * 64)
    preds = _timechat(
        tmp_path,
        [
            ("0", "V1.mp4", "open the door", (20.0, 30.0)),  # the second window exactly
            ("1", "V2.mp4", "open the door", (8.0, 24.0)),  # 2/24 of the first, 4/22 of the second
            ("2", "V3.mp4", "open the door", (0.0, 5.0)),  # one window: 1/2
        ],
    )
    ious = _iou_by_sample(score_predictions(preds, bench, bootstrap=0))
    assert ious == {"M0": 1.0, "M1": pytest.approx(4 / 22), "M2": 0.5}


def test_matched_only_scores_the_matched_samples_and_lists_the_rest(tmp_path: Path) -> None:
    preds = _timechat(
        tmp_path,
        [
            ("1", "V1.mp4", "sit down", (10.0, 20.0)),
            ("3", "V1.mp4", "open the door", (30.0, 35.0)),
        ],
    )
    result = score_predictions(preds, _bench(), bootstrap=0, matched_only=True)
    assert _iou_by_sample(result) == {"S1": 1.0, "S3": 0.5}
    assert result.coverage.missing == ["S0", "S2", "S4", "S5"]
    assert result.summary.n == 2 and result.summary.n_videos == 1
