"""The default protocol equals TimeLens' compute_metrics.py on a corpus of tricky answers.

(b) always: against the numbers and per-answer spans TimeLens' code printed, recorded in
``tests/fixtures/timelens_tricky_expected.json`` with the command that produced them
(``tests/support/timelens_reference.py``).
(a) when ``TIMELENS_REPO`` points at a TimeLens checkout (or bare git dir): run the real
script now and compare.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import timelens_reference as ref

from timelens_eval.cli import main
from timelens_eval.parsing import ParseStatus, parse_spans
from timelens_eval.predictions import read_predictions
from timelens_eval.protocol import ParseOptions
from timelens_eval.scoring import score_predictions

EXPECTED = json.loads(ref.EXPECTED.read_text(encoding="utf-8"))
CORPUS = json.loads(ref.CORPUS.read_text(encoding="utf-8"))
KEYS = ("R1@0.3", "R1@0.5", "R1@0.7", "mIoU")


def _ours_cli(path: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["score", str(path), "--json", "--bootstrap", "0"]) == 0
    return json.loads(capsys.readouterr().out)


def test_recorded_fixture_names_its_command() -> None:
    assert "compute_metrics.py" in EXPECTED["command"]
    assert len(EXPECTED["timelens_commit"]) == 40
    assert set(EXPECTED["numbers"]) == set(KEYS)


def test_four_numbers_match_recorded_timelens_output(capsys: pytest.CaptureFixture[str]) -> None:
    ours = _ours_cli(ref.CORPUS, capsys)
    for key in KEYS:
        assert ours[key] == pytest.approx(EXPECTED["numbers"][key], abs=1e-6), key
    assert ours["n"] == len(CORPUS)


@pytest.mark.parametrize("key", sorted(EXPECTED["extract_time"]))
def test_spans_match_extract_time(key: str) -> None:
    ours = [list(span) for span in parse_spans(CORPUS[key]["answers"]).spans]
    theirs = EXPECTED["extract_time"][key]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a == pytest.approx(b) or (math.isinf(a[0]) or math.isinf(a[1])) and a == b


def test_corpus_covers_the_hard_cases() -> None:
    statuses = {parse_spans(v["answers"]).status for v in CORPUS.values() if "timestamps" not in v}
    assert {ParseStatus.OK, ParseStatus.NO_SPAN, ParseStatus.REVERSED} <= statuses
    texts = [v["answers"] for v in CORPUS.values()]
    assert any(":" in t and "." in t for t in texts)  # mm:ss.f
    assert any(" to " in t for t in texts)
    assert any(len(t) > 300 for t in texts)  # huge numbers
    assert any(not t.isascii() for t in texts)


def test_labelled_option_reads_decimals_the_default_truncates() -> None:
    text = "Start: 4.2s, End: 9.9s"
    assert parse_spans(text).spans[0] == (4.0, 9.0)  # word boundaries, as TimeLens
    assert parse_spans(text, options=ParseOptions(labelled=True)).spans[0] == (4.2, 9.9)


def test_zero_length_gt_meeting_identical_prediction_scores_zero(tmp_path: Path) -> None:
    # TimeLens' iou() divides by zero here; we score 0 and go on.
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"v.mp4>>>q>>>[5.0, 5.0]": {"timestamps": [[5.0, 5.0]]}}))
    result = score_predictions(read_predictions(path), bootstrap=0)
    assert result.summary.value("mIoU") == 0.0
    assert result.summary.reversed == 1


@pytest.mark.skipif(not os.environ.get("TIMELENS_REPO"), reason="TIMELENS_REPO is not set")
def test_against_live_timelens_script(capsys: pytest.CaptureFixture[str]) -> None:
    live = ref.run_reference(Path(os.environ["TIMELENS_REPO"]), ref.CORPUS)
    ours = _ours_cli(ref.CORPUS, capsys)
    for key in KEYS:
        assert ours[key] == pytest.approx(live["numbers"][key], abs=1e-6), key
    for key, spans in live["extract_time"].items():
        assert [list(s) for s in parse_spans(CORPUS[key]["answers"]).spans] == spans
