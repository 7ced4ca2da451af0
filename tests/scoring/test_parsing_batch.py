"""``first_spans`` (all answers at once) gives each answer the span TimeLens scores.

Checked against the per-answer parser on the corpus and the shapes of the raw-text
benchmark, on generated text (hypothesis) built from the characters the rules look at,
and, when ``TIMELENS_REPO`` points at a TimeLens checkout or bare git dir, against
TimeLens' own ``extract_time`` on the same generated text.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import timelens_reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st
from repo_paths import ROOT

from timelens_eval.parsing import extract_spans, first_span
from timelens_eval.parsing_batch import first_spans

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_score  # noqa: E402

CORPUS = json.loads(ref.CORPUS.read_text(encoding="utf-8"))
# Examples per property (scripts/mutation.py lowers it: every mutant reruns these tests).
EXAMPLES = int(os.environ.get("TIMELENS_PROPERTY_EXAMPLES", "300"))

# Pieces the rules react to: digits, separators, whitespace \s knows, letters of "to",
# word characters, Unicode digits and case changes, the batch separator.
PIECES = [
    *"0123456789",
    ":",
    ".",
    "-",
    " ",
    "to",
    "TO",
    "t",
    "o",
    "s",
    "_",
    "a",
    "  ",
    "\t",
    "\n",
    "\x1c",
    "\x0b",
    "\u2003",
    "\x00",
    "1:23",
    "12:34:56",
    "1.5",
    " - ",
    " to ",
    "9" * 20,
    "0" * 8 + "1",
    "１",
    "٣",
    "İ",
    "é",
    "Σ",
]
texts = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


def _batch(answers: list[str]) -> list[tuple[float, float] | None]:
    start, end = first_spans(answers)
    return [None if math.isnan(s) else (s, e) for s, e in zip(start, end, strict=True)]


def test_corpus_and_benchmark_shapes_match_the_per_answer_parser() -> None:
    rng = random.Random(0)
    answers = [v["answers"] for v in CORPUS.values()]
    answers += [
        bench_score.raw_answer(rng, rng.uniform(0, 90), rng.uniform(0, 120)) for _ in range(3000)
    ]
    assert _batch(answers) == [first_span(a) for a in answers]


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(texts, min_size=1, max_size=40))
def test_generated_answers_match_the_per_answer_parser(answers: list[str]) -> None:
    assert _batch(answers) == [first_span(a) for a in answers]


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(texts.filter(str.isascii), min_size=1, max_size=40))
def test_generated_ascii_answers_take_the_vector_path(answers: list[str]) -> None:
    assert _batch(answers) == [first_span(a) for a in answers]


@pytest.fixture(scope="module")
def extract_time(tmp_path_factory: pytest.TempPathFactory):
    repo = os.environ.get("TIMELENS_REPO")
    if not repo:
        pytest.skip("TIMELENS_REPO is not set")
    return ref.load_extract_time(Path(repo), tmp_path_factory.mktemp("timelens"))


@settings(max_examples=EXAMPLES + EXAMPLES // 2, deadline=None)
@given(text=texts)
def test_generated_answers_match_live_extract_time(extract_time, text: str) -> None:
    theirs = [tuple(map(float, pair)) for pair in extract_time(text)]
    assert [tuple(s) for s in extract_spans(text)] == theirs
    assert first_span(text) == (theirs[0] if theirs else None)
    assert _batch([text, "1 - 2"])[0] == (theirs[0] if theirs else None)


def test_huge_answer_costs_one_scan_and_no_copies_per_span() -> None:
    text = "1 " * 25_000_000  # 50 MB, 25 million numbers: only the first two are read
    tracemalloc.start()
    try:
        began = time.process_time()
        assert first_span(text) == (1.0, 1.0)
        assert _batch(["3 - 4", text]) == [(3.0, 4.0), (1.0, 1.0)]
        took = time.process_time() - began
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert took < 2.0
    assert peak < 3 * len(text)  # the lower-cased copy, never a list of 25 million spans


def test_empty_and_separator_only_answers() -> None:
    answers = ["", "\x00", "1 - 2\x003 - 4", "\x00\x00", "5 to 6"]
    assert _batch(answers) == [first_span(a) for a in answers]
    assert _batch([]) == []
    assert np.isnan(first_spans(["no span here"])[0]).all()


@pytest.mark.parametrize(
    "answers",
    [
        ["123:45 - 1:00 and 2:00"],  # a run of three digits never starts a clock time
        ["1:02.03:04 5:06"],  # the fraction run is part of the first clock, not a new one
        ["0:01:02.5:07 then 0:09"],
        ["a1 - 2", "b3 to 4"],  # a range that starts at the chunk's first run
        ["9 then 1  -   2"],  # a gap of six characters
        ["9 then 1 .        2"],  # a long gap of gap characters that is no range
        ["9 then 1 -        2", "8 then 3       to        4"],  # longer gaps
        ["a9", "8 x 1 - 2"],  # the first run of the chunk is not followed by a gap opener
        ["7 and 5.  -  6", "7 and 5. to  6"],  # a dot, then a range gap
    ],
)
def test_shapes_at_the_edges_of_the_vector_rules(answers: list[str]) -> None:
    assert _batch(answers) == [first_span(a) for a in answers]


def test_gap_keys_pack_length_then_bytes() -> None:
    from timelens_eval.parsing_batch import _gap_key

    assert _gap_key(b" - ") == 3 | ord(" ") << 8 | ord("-") << 16 | ord(" ") << 24
    assert _gap_key(b"-") == 1 | ord("-") << 8
    assert _gap_key(b"") == 0


def _in_place(pieces: list[bytes | str], escape: bool) -> tuple[list, list]:
    """``first_spans_in`` and ``first_span`` on the answers of a JSON text.

    ``pieces``: text between answers (bytes) and answers (str, written as JSON strings,
    with ``\\u`` escapes for non-ASCII characters where ``escape``, else as UTF-8).
    """
    from timelens_eval.parsing_batch import first_spans_in

    data, starts, ends, answers = b"", [], [], []
    for piece in pieces:
        if isinstance(piece, str):
            quoted = json.dumps(piece, ensure_ascii=escape).encode()
            starts.append(len(data) + 1)
            ends.append(len(data) + len(quoted) - 1)
            answers.append(piece)
            piece = quoted
        data += piece
    start, end = first_spans_in(data, np.array(starts), np.array(ends))
    got = [None if math.isnan(s) else (s, e) for s, e in zip(start, end, strict=True)]
    return got, [first_span(a) for a in answers]


LONG_ANSWER = "1 " * 10_001 + "- 2"  # over the 20,000 bytes the chunks take


@pytest.mark.parametrize("escape", [True, False])
@pytest.mark.parametrize(
    "pieces",
    [
        ["1 - 2"],  # the text is one string: its answer starts at the first byte but one
        ["5é - 6"],  # one answer, and it is set apart
        [b"[", "5é - 6", b"]"],
        [b'{"a":', "5é - 6", b',"b":', "3 to 4", b"}"],  # no space before a quote
        [b"[", "0", b", ", "é5 and 9", b"]"],  # a non-ASCII first byte, next to a digit
        [b"[", LONG_ANSWER, b",", "é3 - 4", b",", "1 - 2", b",", "7 - 8", b"]"],
        [b"[", "1 - 2", b", 7, ", "none", b", ", "3 - 4", b"]"],  # digits between answers
        [b"[", "", b",", "", b",", "12:00 - 12:30", b", 5,", "", b"]"],
    ],
)
def test_spans_read_in_place_equal_the_per_answer_parser(
    pieces: list[bytes | str], escape: bool
) -> None:
    got, expected = _in_place(pieces, escape)
    assert got == expected
