"""Parser tables of answers in the forms real VTG models write, and TimeChat's 500 answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from repo_paths import SHARED_DATA as DATA
from repo_paths import needs_data

from timelens_eval.benchmarks.base import load_benchmark
from timelens_eval.cli import main
from timelens_eval.parsing import ParseStatus, parse_spans
from timelens_eval.protocol import ParseOptions

# (answer as a model writes it, spans the documented default rules give)
REAL_STYLE = [
    # TimeChat's answer template
    ("The given query happens in 20.8 - 30.0 seconds.", [(20.8, 30.0)]),
    # TimeLens / Qwen-VL grounding prompt
    ("The event happens in 4.2 - 9.9 seconds.", [(4.2, 9.9)]),
    # R1-style reasoning models: a range inside an answer tag
    (
        "<think>The person opens the door early on.</think><answer>12.54 to 17.83</answer>",
        [(12.54, 17.83)],
    ),
    # Gemini / GPT style clock times
    ("The event occurs from 00:12 to 00:18.", [(12.0, 18.0)]),
    ("00:00:05 - 00:00:12", [(5.0, 12.0)]),
    ("The event occurs between 1:05.5 and 1:12.", [(65.5, 72.0)]),
    # VTimeLLM-style two-digit frames/seconds
    ("From 05 to 12.", [(5.0, 12.0)]),
    # prose with units: rule 3 pairs the numbers
    ("The event happens from 3.5 seconds to 8.2 seconds.", [(3.5, 8.2)]),
    ("Starting time: 0.8 seconds. Ending time: 1.1 seconds.", [(0.8, 1.1)]),
    ("The start time for this event is 0 seconds, and the end time is 12 seconds.", [(0.0, 12.0)]),
    # several candidates: all kept, the first is scored
    ("It happens in 10 - 15 seconds and again in 30 - 34 seconds.", [(10.0, 15.0), (30.0, 34.0)]),
    # refusals
    ("I'm sorry, I cannot determine when this happens in the video.", []),
    ("The person never opens the door.", []),
    # glued unit: word boundaries drop the decimals (TimeLens behaviour)
    ("Start: 4.2s, End: 9.9s", [(4.0, 9.0)]),
]


@pytest.mark.parametrize(("text", "expected"), REAL_STYLE)
def test_default_parser_on_real_style_answers(text: str, expected: list) -> None:
    parsed = parse_spans(text)
    flat = [x for span in parsed.spans for x in span]
    assert flat == pytest.approx([x for span in expected for x in span])
    assert (parsed.status is ParseStatus.NO_SPAN) == (not expected)


LABELLED = [
    ("Start: 4.2s, End: 9.9s", (4.2, 9.9)),
    ("starting time: 1:05.5, ending time: 1:12", (65.5, 72.0)),
    ("The event begins at 3.5 s and ends at 8 s.", (3.5, 8.0)),
]


@pytest.mark.parametrize(("text", "expected"), LABELLED)
def test_labelled_option(text: str, expected: tuple) -> None:
    top = parse_spans(text, options=ParseOptions(labelled=True)).top
    assert tuple(top) == pytest.approx(expected)


def _timechat_answer(spans: list) -> str:
    """TimeChat's own answer sentence for its extracted span (or a refusal)."""
    if not spans:
        return "I am not able to find this moment in the video."
    start, end = spans[0]
    return f"The given query happens in {start} - {end} seconds."


@needs_data
def test_timechat_sample500_round_trip_and_score(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = json.loads((DATA / "predictions/charades_timechat_sample500.json").read_text())
    assert len(raw) == 500
    bench = load_benchmark("charades-sta", DATA / "charades_sta/charades_sta_test.txt")
    by_line = {s.meta["line"]: s for s in bench.samples}
    lines, hits, total_iou, empty = [], {0.3: 0, 0.5: 0, 0.7: 0}, 0.0, 0
    for qid, item in raw.items():
        sample = by_line[int(qid) + 1]  # ids are 0-based lines of the test file
        assert sample.video_id == item["vid"].removesuffix(".mp4")
        assert sample.query == " ".join(item["query"].split())
        text = _timechat_answer(item["timestamp"])
        parsed = parse_spans(text)
        if not item["timestamp"]:
            empty += 1
            assert parsed.status is ParseStatus.NO_SPAN
        else:
            assert list(parsed.top) == pytest.approx(item["timestamp"][0])
            # IoU written out independently of the library
            (p0, p1), (g0, g1) = item["timestamp"][0], sample.gt[0]
            inter = max(0.0, min(p1, g1) - max(p0, g0))
            iou = inter / (max(p1, g1) - min(p0, g0)) if p0 < p1 else 0.0
            total_iou += iou
            for t in hits:
                hits[t] += iou >= t
        lines.append(json.dumps({"sample_id": sample.sample_id, "answer": text}))
    assert empty == 280
    preds = tmp_path / "timechat.jsonl"
    preds.write_text("\n".join(lines) + "\n")
    argv = [
        "score",
        str(preds),
        "-b",
        "charades-sta",
        "-a",
        str(DATA / "charades_sta/charades_sta_test.txt"),
        "--json",
        "--bootstrap",
        "0",
    ]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    n = len(bench)  # the other 3,220 samples have no prediction: IoU 0
    assert result["n"] == n and result["coverage"]["missing"] == n - 500
    assert result["parse_failures"] == 280
    assert result["mIoU"] == pytest.approx(100 * total_iou / n)
    for t in hits:
        assert result[f"R1@{t}"] == pytest.approx(100 * hits[t] / n)
