"""The byte reader of plain TimeLens files: every shape it declines or reads differently.

For each file: the byte reader (``_read_bytes``) either declines or gives the same
columns as the msgspec reader (``_read_part``); ``score_file`` (whichever path it takes)
gives the same per-sample IoUs, statuses and summary as the general reader; and, with
``TIMELENS_REPO`` set, the same four numbers as TimeLens' ``compute_metrics.py`` where
that script runs on the file.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from repo_paths import FIXTURES, ROOT

from timelens_eval.predictions import read_predictions
from timelens_eval.predictions_columns import (
    _is_json_object,
    _read_bytes,
    _read_part,
    read_timelens_columns,
)
from timelens_eval.scoring import score_file, score_predictions

# Every test with the compiled scanner and with the numpy reader alone.
pytestmark = pytest.mark.usefixtures("scanner")

sys.path.insert(0, str(ROOT / "tests" / "support"))

_BASE = {
    "v1.mp4>>>a person opens the door>>>[1.5, 7.25]": {"answers": "From 2 to 7.5 seconds."},
    "v1.mp4>>>the door closes>>>[10, 12]": {
        "timestamps": [[9.5, 12.0]],
        "answers": "9.5 - 12",
        "duration": 30.0,
    },
    "v2.mp4>>>someone laughs>>>[0, 3.5]": {"answers": "00:01 - 00:03"},
    "v3.mp4>>>nothing happens>>>[4, 8]": {"answers": "I cannot tell."},
}


def _text(data: dict, **dump: object) -> str:
    return json.dumps(data, **dump)  # type: ignore[arg-type]


def _with(key: str, value: object) -> str:
    return _text({**_BASE, key: value})


# (file text, whether the byte reader must read it, whether TimeLens' script runs on it)
CASES: dict[str, tuple[str, bool, bool]] = {
    "plain": (_text(_BASE), True, True),
    "compact separators": (_text(_BASE, separators=(",", ":")), True, True),
    "indented": (_text(_BASE, indent=2), True, True),
    "tabs and CRs": (
        "\n\t" + _text(_BASE, separators=(" ,\r\n\t", " :\t ")) + "\r\n",
        True,
        True,
    ),
    "escaped quote in a key": (_with('v"4.mp4>>>q>>>[1, 2]', {"answers": "1 - 2"}), False, True),
    "unicode escape in a key": (
        _text({**_BASE, "vidé.mp4>>>q>>>[1, 2]": {"answers": "1 - 2"}}),
        False,
        True,
    ),
    "non-ASCII key and answer": (
        _text(
            {**_BASE, "vidé.mp4>>>从 1 到 2>>>[1, 2]": {"answers": "事件发生在 1 - 2 秒。"}},
            ensure_ascii=False,
        ),
        True,
        True,
    ),
    "unicode escapes in answers": (
        _with("v4.mp4>>>q>>>[1, 2]", {"answers": "\u0661 - 2, then 1 \u2013 3 or 1 - 2 é"}),
        True,
        True,
    ),
    "escaped digit in an answer": (
        _text(_BASE).replace('"From 2 to', '"From \\u0032 to'),
        True,
        True,
    ),
    "escapes in answers": (
        _with("v4.mp4>>>q>>>[1, 2]", {"answers": 'the "span" is\n1 - 2 \\ 3\t4 / 5'}),
        True,
        True,
    ),
    "backslashes before a closing quote": (
        _with("v4.mp4>>>q>>>[1, 2]", {"answers": "1 - 2 \\"}),
        True,
        True,
    ),
    "backslashes before an escaped quote": (
        _with("v4.mp4>>>q>>>[1, 2]", {"answers": '3 - 4 \\" 1 - 2 \\\\'}),
        True,
        True,
    ),
    "escaped backslash in a key": (
        _with("v\\4.mp4>>>q>>>[1, 2]", {"answers": "1 - 2"}),
        False,
        True,
    ),
    "byte order mark": ("\ufeff" + _text(_BASE), False, False),
    "escaped NUL in an answer": (
        _with("v4.mp4>>>q>>>[1, 2]", {"answers": "1\u0000 - 2"}),
        True,
        True,
    ),
    "empty answer": (_with("v4.mp4>>>q>>>[1, 2]", {"answers": ""}), True, True),
    "answer of separators": (
        _with("v4.mp4>>>q>>>[1, 2]", {"answers": ">>> 1 >>>> 2 >>"}),
        True,
        True,
    ),
    "long answer": (
        _with("v4.mp4>>>q>>>[1, 2]", {"answers": "word " * 5000 + "1 - 2"}),
        True,
        True,
    ),
    "duplicate key": (
        _text(_BASE)[:-1] + ', "v3.mp4>>>nothing happens>>>[4, 8]": {"answers": "4 - 8"}}',
        False,
        True,
    ),
    "GT with exponents": (_with("v4.mp4>>>q>>>[1e0, 2.5E1]", {"answers": "1 - 2"}), True, True),
    "GT negative": (_with("v4.mp4>>>q>>>[-1, 2]", {"answers": "1 - 2"}), False, True),
    "GT with blanks": (_with("v4.mp4>>>q>>>[ 1 ,  2 ]", {"answers": "1 - 2"}), True, True),
    "GT with a tab": (_with("v4.mp4>>>q>>>[1,\t2]", {"answers": "1 - 2"}), False, True),
    "GT compact": (_with("v4.mp4>>>q>>>[1,2]", {"answers": "1 - 2"}), True, True),
    "GT long numbers": (
        _with("v4.mp4>>>q>>>[1.2345678901234567, 20.000000000000001]", {"answers": "1 - 2"}),
        True,
        True,
    ),
    "GT Python tuple": (_with("v4.mp4>>>q>>>(1, 2)", {"answers": "1 - 2"}), False, True),
    "GT three numbers": (_with("v4.mp4>>>q>>>[1, 2, 3]", {"answers": "1 - 2"}), False, False),
    "GT one number": (_with("v4.mp4>>>q>>>[1]", {"answers": "1 - 2"}), False, False),
    "four parts": (_with("v4.mp4>>>q>>>r>>>[1, 2]", {"answers": "1 - 2"}), False, False),
    "four >": (_with("v4.mp4>>>>q>>>[1, 2]", {"answers": "1 - 2"}), False, True),
    "two > in a query": (_with("v4.mp4>>>a >> b>>>[1, 2]", {"answers": "1 - 2"}), True, True),
    "answers null": (_with("v4.mp4>>>q>>>[1, 2]", {"answers": None}), False, False),
    "timestamps null": (
        _with("v4.mp4>>>q>>>[1, 2]", {"timestamps": None, "answers": "1 - 2"}),
        True,
        False,
    ),
    "timestamps empty": (
        _with("v4.mp4>>>q>>>[1, 2]", {"timestamps": [], "answers": "1 - 2"}),
        True,
        True,
    ),
    "duration null": (
        _with("v4.mp4>>>q>>>[1, 2]", {"answers": "1 - 2", "duration": None}),
        False,
        True,
    ),
    "fields reordered": (
        _with("v4.mp4>>>q>>>[1, 2]", {"duration": 9.0, "answers": "1 - 2", "timestamps": [[1, 3]]}),
        True,
        True,
    ),
    "extra fields": (
        _with(
            "v4.mp4>>>q>>>[1, 2]",
            {"answers": "1 - 2", "meta": {"a": {"b": [1, {"c": 2}]}}, "more": "x"},
        ),
        False,  # an object inside a value: the msgspec reader reads the file
        True,
    ),
    "nested object first": (
        _with("v4.mp4>>>q>>>[1, 2]", {"meta": {"a": 1}, "answers": "1 - 2"}),
        False,
        True,
    ),
    "empty value": (_with("v4.mp4>>>q>>>[1, 2]", {}), False, False),
    "value not an object": (_with("v4.mp4>>>q>>>[1, 2]", "1 - 2"), False, False),
    "list inside a value": (
        _with("v4.mp4>>>q>>>[1, 2]", {"answers": "1 - 2", "tags": ["a", "b"], "n": [1]}),
        True,
        True,
    ),
    "several spans": (
        _with("v4.mp4>>>q>>>[1, 2]", {"timestamps": [[1, 2], [3, 4]], "answers": "x"}),
        True,
        True,
    ),
}


def _compare_columns(raw: bytes) -> bool:
    """Whether the byte reader read the file; when it did, it equals the msgspec reader
    (where that one reads it: it declines files with ">>>" outside the keys)."""
    assert _is_json_object(raw)
    fast = _read_bytes(raw)
    if fast is None:
        return False
    slow = _read_part(raw)
    if slow is None:
        return True
    assert list(fast.keys) == list(slow.keys)
    assert list(fast.videos) == list(slow.videos)
    np.testing.assert_array_equal(fast.gt, slow.gt)
    np.testing.assert_array_equal(fast.pred, slow.pred)
    np.testing.assert_array_equal(fast.durations, slow.durations)
    np.testing.assert_array_equal(fast.answer_rows, slow.answer_rows)
    assert fast.clusters is not None
    inverse, k = fast.clusters
    seen = dict.fromkeys(slow.videos)
    codes = dict(zip(seen, range(len(seen)), strict=True))
    assert k == len(codes)
    assert inverse.tolist() == [codes[v] for v in slow.videos]
    return True


def _compare_scores(path: Path) -> dict[str, float] | None:
    """``score_file`` equals the general reader sample by sample; returns its numbers
    (None where the general reader refuses the file: then ``score_file`` does too)."""
    try:
        slow = score_predictions(read_predictions(path), bootstrap=0)
    except Exception as refused:  # noqa: BLE001 - whatever the general reader raises
        with pytest.raises(type(refused)):
            score_file(path, bootstrap=0)
        return None
    fast = score_file(path, bootstrap=0)
    assert list(fast.sample_ids) == list(slow.sample_ids)
    np.testing.assert_array_equal(fast.ious, slow.ious)
    assert fast.statuses == slow.statuses
    assert fast.summary == slow.summary
    return {name: m.value for name, m in fast.summary.metrics.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_byte_reader_equals_the_other_readers(tmp_path: Path, name: str) -> None:
    text, read, _ = CASES[name]
    path = tmp_path / "p.json"
    path.write_text(text, encoding="utf-8")
    raw = path.read_bytes()
    if not _is_json_object(raw):
        assert not read and read_timelens_columns(path) is None
        _compare_scores(path)
        return
    assert _compare_columns(raw) is read
    if read:
        assert read_timelens_columns(path) is not None
    _compare_scores(path)


RECORDED = FIXTURES / "byte_reader_timelens_numbers.json"
"""TimeLens' ``compute_metrics.py`` numbers for every case it runs on, recorded with
``TIMELENS_REPO=... PYTHONPATH=tests/support python tests/scoring/test_byte_reader.py``
(the test below checks the
record against TimeLens itself wherever a checkout is named)."""

TIMELENS_CASES = [n for n, case in CASES.items() if case[2]]


def _timelens_numbers(repo: Path, tmp: Path) -> dict[str, dict[str, float]]:
    import timelens_reference as ref

    numbers = {}
    for name in TIMELENS_CASES:
        path = tmp / f"{name}.json"
        path.write_text(CASES[name][0], encoding="utf-8")
        numbers[name] = ref.run_reference(repo, path)["numbers"]
    return numbers


@pytest.mark.parametrize("name", TIMELENS_CASES)
def test_byte_reader_cases_equal_timelens(tmp_path: Path, name: str) -> None:
    theirs = json.loads(RECORDED.read_text(encoding="utf-8"))["numbers"][name]
    path = tmp_path / "p.json"
    path.write_text(CASES[name][0], encoding="utf-8")
    ours = _compare_scores(path)
    if ours is None:
        return  # the general reader refuses what TimeLens silently accepts
    assert set(theirs) == set(ours)
    for metric, value in theirs.items():
        assert ours[metric] == pytest.approx(value, abs=1e-6), metric


@pytest.mark.skipif(not os.environ.get("TIMELENS_REPO"), reason="TIMELENS_REPO is not set")
def test_recorded_numbers_are_timelens_own(tmp_path: Path) -> None:
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    assert recorded["numbers"] == _timelens_numbers(Path(os.environ["TIMELENS_REPO"]), tmp_path)


def test_many_queries_per_video_and_long_video_names(tmp_path: Path) -> None:
    data = {
        f"{'a-very-long-video-name-' * (i % 3)}v{i % 7}.mp4>>>query {i}>>>[{i % 5}, {i % 5 + 2}]": {
            "answers": f"{i % 5 + 0.5} - {i % 5 + 2}"
        }
        for i in range(200)
    }
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    assert _compare_columns(path.read_bytes())
    _compare_scores(path)


def test_generated_raw_corpus_equal(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_score

    path = tmp_path / "raw.json"
    bench_score.generate_raw(path, 5000, seed=11)
    assert _compare_columns(path.read_bytes())
    _compare_scores(path)


def test_huge_answers_are_not_scanned_with_the_others(tmp_path: Path) -> None:
    import time

    data = dict(_BASE)
    data["v4.mp4>>>q>>>[1, 2]"] = {"answers": "1 " * 5_000_000 + "- 2"}
    data["v5.mp4>>>q>>>[1, 2]"] = {"answers": "0 - 3"}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    start = time.process_time()
    assert _compare_columns(path.read_bytes())
    assert time.process_time() - start < 10.0  # not arrays over every character of it
    _compare_scores(path)


if __name__ == "__main__":  # record the TimeLens numbers of the cases
    import tempfile

    import timelens_reference as ref

    repo = Path(os.environ["TIMELENS_REPO"])
    with tempfile.TemporaryDirectory() as tmp:
        _, commit = ref.export_code(repo, Path(tmp))
        numbers = _timelens_numbers(repo, Path(tmp))
    record = {
        "what": "TimeLens evaluation/compute_metrics.py on each case of test_byte_reader.py "
        "that it runs on",
        "timelens_commit": commit,
        "recorded_with": "TIMELENS_REPO=... PYTHONPATH=tests/support python "
        "tests/scoring/test_byte_reader.py",
        "numbers": numbers,
    }
    RECORDED.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
