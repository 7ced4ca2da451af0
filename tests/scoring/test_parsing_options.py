"""Every parse option and every status, on the parser and on both scoring paths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from timelens_eval.parsing import ParseStatus, parse_spans, span_status, status_masks
from timelens_eval.predictions import read_predictions
from timelens_eval.protocol import ParseOptions, Protocol
from timelens_eval.scoring import score_file, score_predictions
from timelens_eval.spans import Span


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("from 500 ms to 2 s", [(0.5, 2.0)]),
        ("1.5 - 2 min", [(90.0, 120.0)]),  # a unit after the end applies to both
        ("from 2 minutes to 150 seconds", [(120.0, 150.0)]),
        ("0.5h to 1 hour", [(1800.0, 3600.0)]),
        ("3 secs - 9 secs, then 20 ms to 40 milliseconds", [(3.0, 9.0), (0.02, 0.04)]),
        ("00:05 - 00:09 or 2 min to 3 min", [(5.0, 9.0)]),  # clock times come first
        ("between 7 and 9", [(7.0, 9.0)]),  # no unit range: the default rules
    ],
)
def test_units_option_converts_to_seconds(text: str, spans: list[tuple[float, float]]) -> None:
    got = parse_spans(text, options=ParseOptions(units=True)).spans
    assert [v for s in got for v in s] == pytest.approx([v for s in spans for v in s])


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("Start: 4.2s, End: 9.9s", (4.2, 9.9)),
        ("starting time: 0:04.5, ending time: 0:09", (4.5, 9.0)),
        ("begins from 2 min and finishes until 3 min", (120.0, 180.0)),
        ("start 500 ms end 2 s", (0.5, 2.0)),
    ],
)
def test_labelled_option_reads_labels_with_clocks_and_units(
    text: str, span: tuple[float, float]
) -> None:
    assert tuple(parse_spans(text, options=ParseOptions(labelled=True)).spans[0]) == (
        pytest.approx(span)
    )


def test_round_swap_and_clip_options_post_process_every_span() -> None:
    options = ParseOptions(round_to_seconds=True)
    # ties to even, as Python rounds and the TimeLens evaluation does
    assert parse_spans("4.5 - 9.49 and 1.4 - 2.6", options=options).spans == (
        (4.0, 9.0),
        (1.0, 3.0),
    )
    options = ParseOptions(swap_reversed=True)
    parsed = parse_spans("9 - 4 and 1 - 2", options=options)
    assert parsed.spans == ((4.0, 9.0), (1.0, 2.0)) and parsed.status is ParseStatus.OK
    options = ParseOptions(clip_to_duration=True)
    parsed = parse_spans("5 - 80 and 90 - 95", duration=60.0, options=options)
    assert parsed.spans == ((5.0, 60.0), (60.0, 60.0)) and parsed.status is ParseStatus.OK
    assert parse_spans("5 - 80", options=options).spans == ((5.0, 80.0),)  # no duration


def test_statuses_and_the_duration_boundary() -> None:
    assert parse_spans(None).status is ParseStatus.NO_SPAN
    assert parse_spans("").status is ParseStatus.NO_SPAN
    assert parse_spans("no time here").status is ParseStatus.NO_SPAN
    assert parse_spans("9 - 4").status is ParseStatus.REVERSED
    assert parse_spans("4 - 4").status is ParseStatus.REVERSED
    assert parse_spans("5 - 60", duration=60.0).status is ParseStatus.OK  # ends at the duration
    assert parse_spans("5 - 60.5", duration=60.0).status is ParseStatus.OUT_OF_RANGE
    assert parse_spans("5 - 60.5", duration=60.0, out_of_range_tolerance=1.0).status is (
        ParseStatus.OK
    )
    assert parse_spans("5 - 60.5").status is ParseStatus.OK  # no duration, no check
    assert parse_spans("1 - 2 3 - 4 5 - 6", max_spans=2).spans == ((1.0, 2.0), (3.0, 4.0))


def _file(tmp_path: Path, values: dict) -> Path:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(values))
    return path


def test_out_of_range_and_duration_boundary_on_both_scoring_paths(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        {
            "a.mp4>>>q1>>>[10, 60]": {"answers": "10 - 60", "duration": 60},  # in range
            "b.mp4>>>q2>>>[10, 60]": {"answers": "10 - 61", "duration": 60},  # out of range
            "c.mp4>>>q3>>>[10, 60]": {"timestamps": [[10, 61]], "duration": 60},
            "d.mp4>>>q4>>>[10, 60]": {"answers": "60 - 10", "duration": 60},
            "e.mp4>>>q5>>>[10, 60]": {"answers": "none", "duration": 60},
        },
    )
    fast = score_file(path, bootstrap=0)
    slow = score_predictions(read_predictions(path), bootstrap=0)
    for result in (fast, slow):
        assert result.statuses == ["ok", "out_of_range", "out_of_range", "reversed", "no_span"]
        assert result.summary.out_of_range == 2 and result.summary.reversed == 1
        np.testing.assert_allclose(result.ious, [1.0, 50 / 51, 50 / 51, 0.0, 0.0])


def test_parse_options_reach_the_scores_of_raw_and_parsed_answers(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        {
            "a.mp4>>>q1>>>[60, 120]": {"answers": "1 - 2 min"},
            "b.mp4>>>q2>>>[10, 20]": {"timestamps": [[20, 10]], "duration": 60},
            "c.mp4>>>q3>>>[50, 60]": {"timestamps": [[50, 70]], "duration": 60},
        },
    )
    default = score_file(path, bootstrap=0)
    np.testing.assert_allclose(default.ious, [0.0, 0.0, 10 / 20])
    custom = Protocol(parse=ParseOptions(units=True, swap_reversed=True, clip_to_duration=True))
    result = score_file(path, protocol=custom, bootstrap=0)
    np.testing.assert_allclose(result.ious, [1.0, 1.0, 1.0])
    assert result.statuses == ["ok", "ok", "ok"]


def test_edges_of_options_and_statuses() -> None:
    labelled = ParseOptions(labelled=True)
    assert parse_spans("start 2 end 3 min", options=labelled).spans[0] == (120.0, 180.0)
    clip = ParseOptions(clip_to_duration=True)
    assert parse_spans("0.5 - 80", duration=60.0, options=clip).spans[0] == (0.5, 60.0)
    assert parse_spans("0 - 10", duration=60.0).status is ParseStatus.OK  # starts at 0
    assert parse_spans("0.5 - 10", duration=60.0).status is ParseStatus.OK
    assert parse_spans("-0 - 10", duration=60.0).status is ParseStatus.OK
    from timelens_eval.parsing import first_span

    assert first_span(None) is None and first_span("") is None


_MASKED = (ParseStatus.NO_SPAN, ParseStatus.REVERSED, ParseStatus.OUT_OF_RANGE)


def test_status_masks_agree_with_span_status_on_every_edge() -> None:
    # Spans around every edge of the rule (a start at 0, an end at the duration or within
    # the tolerance, reversed spans that also leave the range) and no span (NaN), each with
    # a known and an unknown (NaN) duration.
    values = [-5.0, 0.0, 0.5, 58.0, 60.0, 60.5, 70.0]
    spans = [(np.nan, np.nan), *((s, e) for s in values for e in values)]
    rows = [(s, e, d) for s, e in spans for d in (60.0, np.nan)]
    start, end, duration = (np.array(column) for column in zip(*rows, strict=True))
    for tolerance in (0.0, 5.0):
        masks = status_masks(start, end, duration, tolerance)
        for i, (s, e, d) in enumerate(rows):
            known = None if np.isnan(d) else d
            expected = (
                ParseStatus.NO_SPAN if np.isnan(s) else span_status(Span(s, e), known, tolerance)
            )
            got = [bool(mask[i]) for mask in masks]
            assert got == [expected is status for status in _MASKED], (s, e, d, tolerance)


def test_span_status_and_status_masks_have_no_tolerance_by_default() -> None:
    assert span_status(Span(5.0, 60.5), 60.0) is ParseStatus.OUT_OF_RANGE
    _, _, outside = status_masks(np.array([5.0]), np.array([60.5]), np.array([60.0]))
    assert outside.tolist() == [True]
