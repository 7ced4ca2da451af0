"""The paper's live-run protocol: predicted times rounded to whole seconds, ties to even.

The TimeLens evaluation rounds every predicted start and end with Python's ``round`` (to
the dataset's ``UNIT``, 1 s) before it writes the file ``compute_metrics.py`` scores.
``timelens-live`` is that protocol; ``run`` uses it on TimeLens-Bench by default.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from timelens_eval.cli import main
from timelens_eval.parsing import parse_spans, round_seconds
from timelens_eval.protocol import TIMELENS_LIVE_PROTOCOL, TIMELENS_PROTOCOL, named_protocol
from timelens_eval.spans import Span, temporal_iou
from timelens_eval.store import read_result

GT = [12.4, 20.4]


def _score(tmp_path: Path, capsys: pytest.CaptureFixture[str], record: dict, *args: str) -> dict:
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({f"v.mp4>>>a person sits>>>{GT}": record}) + "\n")
    capsys.readouterr()
    assert main(["score", str(preds), "--json", "--bootstrap", "0", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    "record",
    [
        {"answers": "The event happens in 12.5 - 20.5 seconds.", "duration": 30.0},
        {"timestamps": [[12.5, 20.5]], "answers": "", "duration": 30.0},  # column path
    ],
)
def test_score_with_the_live_protocol_rounds_half_to_even(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], record: dict
) -> None:
    as_written = _score(tmp_path, capsys, record)
    live = _score(tmp_path, capsys, record, "--protocol", "timelens-live")
    written_iou = temporal_iou(Span(12.5, 20.5), Span(*GT))
    rounded_iou = temporal_iou(Span(12, 20), Span(*GT))  # 12.5 -> 12, 20.5 -> 20
    assert as_written["mIoU"] == pytest.approx(100 * written_iou)
    assert live["mIoU"] == pytest.approx(100 * rounded_iou)
    assert rounded_iou != pytest.approx(temporal_iou(Span(13, 21), Span(*GT)))  # not half-up
    assert live["protocol"]["name"] == "timelens-live"
    assert live["protocol"]["parse"]["round_to_seconds"] is True
    assert as_written["protocol"]["name"] == "timelens"


def test_rounding_is_pythons_round() -> None:
    values = [0.5, 1.5, 2.5, 12.5, 13.5, 20.5, 4.4999, 4.5001, 7.25, 0.0]
    assert [round_seconds(v) for v in values] == [float(round(v)) for v in values]
    assert [round_seconds(v) for v in (12.5, 13.5, 20.5)] == [12.0, 14.0, 20.0]
    parsed = parse_spans("12.5 - 20.5 seconds", options=TIMELENS_LIVE_PROTOCOL.parse)
    assert parsed.top == Span(12.0, 20.0)
    # rounding can make a span empty: then it is reversed, IoU 0, as in TimeLens
    empty = parse_spans("12.3 - 12.4", duration=30, options=TIMELENS_LIVE_PROTOCOL.parse)
    assert empty.top == Span(12.0, 12.0) and empty.status.value == "reversed"


def test_named_protocols() -> None:
    assert named_protocol("timelens") == TIMELENS_PROTOCOL
    assert named_protocol("timelens-live") == TIMELENS_LIVE_PROTOCOL
    from timelens_eval.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="did you mean 'timelens-live'"):
        named_protocol("timelens-lve")


def _timelens_bench(tmp_path: Path) -> Path:
    path = tmp_path / "charades-timelens.json"
    path.write_text(
        json.dumps(
            {
                "AAA01": {"duration": 30.0, "spans": [[2.0, 9.0]], "queries": ["one thing"]},
                "BBB02": {"duration": 24.0, "spans": [[5.0, 12.0]], "queries": ["another"]},
            }
        )
    )
    return path


@pytest.mark.parametrize(
    ("args", "expected", "said"),
    [([], "timelens-live", True), (["--protocol", "timelens"], "timelens", False)],
)
def test_run_on_timelens_bench_uses_the_live_protocol_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str, said: bool
) -> None:
    out = tmp_path / "run.json"
    code = main(
        [
            "run",
            "-a",
            "uniform",
            "-b",
            "charades-timelens",
            "--annotations",
            str(_timelens_bench(tmp_path)),
            "-o",
            str(out),
            "--bootstrap",
            "0",
            "--no-progress",
            *args,
        ]
    )
    assert code == 0
    assert read_result(out).spec.protocol.name == expected
    err = capsys.readouterr().err
    assert ("protocol timelens-live" in err) is said


def test_run_elsewhere_scores_times_as_written(tmp_path: Path) -> None:
    from timelens_eval.benchmarks.base import get_benchmark_spec

    assert get_benchmark_spec("charades-sta").run_protocol == "timelens"
    assert get_benchmark_spec("synthetic-refined").run_protocol == "timelens"
    for name in ("charades-timelens", "activitynet-timelens", "qvhighlights-timelens"):
        assert get_benchmark_spec(name).run_protocol == "timelens-live"


def test_an_unknown_protocol_fails_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "-a", "uniform", "-b", "synthetic-refined", "--protocol", "paper"])
    assert code == 2
    assert "unknown protocol 'paper'" in capsys.readouterr().err
