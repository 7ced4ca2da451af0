"""The compiled scanner of plain TimeLens files (``predictions_columns/_cscan.c``).

Wherever it reads a run of entries, its columns equal the numpy reader's
(``_read_piece_numpy``) exactly; where it does not, the numpy reader decides. Its answer
rules equal :func:`timelens_eval.parsing.first_span` (so TimeLens' ``extract_time``) on
every ASCII answer. Checked on every byte-reader case, on generated files of every value
shape it reads or hands on, on the benchmark corpora, and on generated answers.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import timelens_reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st
from repo_paths import ROOT
from test_byte_reader import CASES

from timelens_eval.parsing import first_span
from timelens_eval.predictions_columns import _bytes, _is_json_object, read_timelens_columns
from timelens_eval.predictions_columns._bytes import (
    _ends,
    _read_piece,
    _read_piece_compiled,
    _read_piece_numpy,
)
from timelens_eval.scoring import score_file

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_score  # noqa: E402

EXAMPLES = int(os.environ.get("TIMELENS_PROPERTY_EXAMPLES", "300"))


def _compiler() -> bool:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    include = Path(sysconfig.get_paths()["include"]) / "Python.h"
    return shutil.which(cc) is not None and include.exists()


def _scan():
    scan = _bytes._scanner()
    if scan is None:
        if _compiler():
            pytest.fail("a C compiler and Python.h are here, but the scanner was not built")
        pytest.skip("no C compiler here: the package installs without the scanner")
    return scan


def test_the_scanner_is_built_where_a_compiler_is() -> None:
    _scan()


def test_without_the_scanner_the_numpy_reader_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "timelens_eval.predictions_columns._cscan", None)
    assert _bytes._scanner() is None
    raw = CASES["plain"][0].encode()
    buf = np.frombuffer(raw, dtype=np.uint8)
    lo, hi = _ends(buf)
    _same(_read_piece(raw, buf, lo, hi), _read_piece_numpy(raw, buf, lo, hi))


def _same(a: _bytes._Piece | None, b: _bytes._Piece | None) -> None:
    assert (a is None) == (b is None)
    if a is None or b is None:
        return
    for field in ("key_start", "key_end", "video_end", "gt", "pred", "durations", "answer_rows"):
        x, y = getattr(a, field), getattr(b, field)
        np.testing.assert_array_equal(x, y, err_msg=field)


def _both(raw: bytes, lo: int | None = None, hi: int | None = None) -> _bytes._Piece | None:
    """The compiled reading of a run, checked against the numpy one; returns it (None
    where the scanner hands the run on)."""
    scan = _scan()
    assert _is_json_object(raw)
    buf = np.frombuffer(raw, dtype=np.uint8)
    head, end = _ends(buf)
    lo = head if lo is None else lo
    hi = end if hi is None else hi
    compiled = _read_piece_compiled(raw, buf, lo, hi, scan)
    numpy_piece = _read_piece_numpy(raw, buf, lo, hi)
    if compiled is not None:
        _same(compiled, numpy_piece)
    _same(_read_piece(raw, buf, lo, hi), numpy_piece)
    return compiled


# Cases the numpy reader reads and the scanner hands on to it.
HANDED_ON: set[str] = set()


@pytest.mark.parametrize("name", list(CASES))
def test_every_byte_reader_case(name: str) -> None:
    text, read, _ = CASES[name]
    raw = text.encode()
    if not _is_json_object(raw):
        return
    compiled = _both(raw)
    if read and name not in HANDED_ON:
        assert compiled is not None, "the scanner hands on a shape the numpy reader reads"


def _entry(rng: random.Random, i: int) -> tuple[str, object]:
    """One entry of a random shape: mostly the value shapes the scanner reads, sometimes
    one it hands on or one no reader takes (nulls, exponents, long numbers, repeated or
    unknown members, nested objects, ...)."""

    def pick(good: list, bad: list) -> object:
        return rng.choice(bad if rng.random() < 0.08 else good)

    gt = pick(
        ["[1.5, 7.25]", "[0, 3]", "[ 2 , 4 ]", "[1,2]", "[1, 2.50]", "[0.1234567890123, 2]"],
        [
            "[1e0, 2]",
            "[0.1234567890123456, 2]",
            "[3, 2]",
            "[-1, 2]",
            "[01, 2]",
            "(1, 2)",
            "[1.0000000000000002, 3]",
            "[1.0, 2.]",
        ],
    )
    key = f"v{i % 13}.mp4>>>q{i}>>>{gt}"

    def number() -> object:
        return pick([1, 2.5, 0, -3, 0.1, 100.25, 7], [-0.0, 1e-7, 12345678901234567, 1.5e300])

    members: dict[str, object] = {}
    names = ["timestamps", "answers", "duration"] + (["other"] if rng.random() < 0.1 else [])
    for name in rng.sample(names, rng.randint(1, len(names))):
        if name == "timestamps":
            members[name] = pick(
                [[], [[number(), number()]], [[number(), number()], [number(), number()]]],
                [None, [[1, 2, 3]], [["1", 2]], "1 - 2"],
            )
        elif name == "answers":
            members[name] = pick(
                [
                    "",
                    "1 - 2",
                    "From 00:01 to 00:03.5",
                    "about 3.5s to 9 s",
                    "Ⅻ 1 to 2",
                    'quoted "3 - 4"',
                    "1\n2",
                    "\\ 7 - 8",
                    "x" * 20001 + " 1 - 2",
                    "9" * 30 + " - 1",
                ],
                [None, 5],
            )
        elif name == "duration":
            members[name] = pick([30, 12.5, -1.0, 0], [None, "30", [1]])
        else:
            members[rng.choice(["meta", "tags", "answer", "Answers"])] = rng.choice(
                [[1, "a"], "x", 3, None, True, {"k": 1}, [{"a": [1]}], []]
            )
    return key, members


def _file(rng: random.Random, n: int, indent: int | None) -> bytes:
    parts = [_entry(rng, i) for i in range(n)]
    body = ", ".join(
        json.dumps(k) + ": " + json.dumps(v, indent=indent, ensure_ascii=rng.random() < 0.5)
        for k, v in parts
    )
    return ("{" + body + "}").encode()


@pytest.mark.parametrize("seed", range(40))
def test_generated_files_of_every_value_shape(seed: int) -> None:
    rng = random.Random(seed)
    read = 0
    for _ in range(25):
        raw = _file(rng, rng.randint(1, 4), rng.choice([None, 1]))
        read += _both(raw) is not None
    assert read  # (each seed reads some of its files)


@pytest.mark.parametrize(
    "value",
    [
        '{"answers": "1 - 2", "answers": "3 - 4"}',
        '{"timestamps": [[1, 2]], "timestamps": [[3, 4]]}',
        '{"duration": 3, "answers": "1 - 2", "duration": 4}',
        '{"answ\\u0065rs": "1 - 2"}',
        '{"answers": "1 - 2", "timestamps": [[1, 2]], "x": {"y": 1}}',
        '{"timestamps": [[1, 2]], "timestamps": null, "answers": "5 - 6"}',
    ],
)
def test_repeated_and_escaped_members(value: str) -> None:
    raw = (
        '{"v.mp4>>>q>>>[1, 2]": ' + value + ', "w.mp4>>>q>>>[0, 9]": {"answers": "3 to 4"}}'
    ).encode()
    _both(raw)


@pytest.mark.parametrize(
    "key",
    ["v>>>>[1, 2]", "v>>>q>>>r>>>[1, 2]", "v>>q>>>[1, 2]", "v>>>q>>>>[1, 2]", "v>>>>>>[1, 2]"],
)
def test_keys_without_exactly_two_separators(key: str) -> None:
    raw = json.dumps({"w.mp4>>>q>>>[0, 9]": {"answers": "3 to 4"}, key: {"answers": "1"}})
    assert _both(raw.encode()) is None


def test_plain_files_are_read_by_the_scanner() -> None:
    rng = random.Random(5)
    for _ in range(50):
        entries = {}
        for i in range(rng.randint(1, 8)):
            value: dict[str, object] = {"answers": bench_score.raw_answer(rng, 3.0, 9.5)}
            if rng.random() < 0.5:
                value = {"timestamps": [[rng.uniform(0, 9), rng.uniform(9, 99)]], **value}
            if rng.random() < 0.5:
                value["duration"] = rng.choice([30, 45.5])
            entries[f"v{i % 3}.mp4>>>q {i}>>>[{i}, {i + 2.5}]"] = value
        assert _both(json.dumps(entries).encode()) is not None


def test_pieces_cut_anywhere_between_entries() -> None:
    rng = random.Random(3)
    raw = _file(rng, 40, None)
    buf = np.frombuffer(raw, dtype=np.uint8)
    head, end = _ends(buf)
    cuts = [m.start() + 1 for m in __import__("re").finditer(rb"\}, \"v", raw)]
    for lo, hi in zip([head, *cuts], [*cuts, end], strict=True):
        _both(raw, lo, hi)


@pytest.mark.parametrize("corpus", ["raw", "parsed"])
def test_benchmark_corpora(tmp_path: Path, corpus: str) -> None:
    path = tmp_path / f"{corpus}.json"
    generate = bench_score.generate_raw if corpus == "raw" else bench_score.generate
    generate(path, 6000, seed=7)
    assert _both(path.read_bytes()) is not None


def test_score_is_the_same_with_and_without_the_scanner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scan()
    path = tmp_path / "raw.json"
    bench_score.generate_raw(path, 4000, seed=2)
    with_scanner = score_file(path, bootstrap=0)
    monkeypatch.setattr(_bytes, "_scanner", lambda: None)
    without = score_file(path, bootstrap=0)
    assert with_scanner.summary == without.summary
    np.testing.assert_array_equal(with_scanner.ious, without.ious)
    assert read_timelens_columns(path) is not None


def test_a_bad_range_is_a_value_error() -> None:
    scan = _scan()
    with pytest.raises(ValueError, match="lo <= hi"):
        scan(b"{}", 1, 5)


# The answer rules.


def _c_first_span(text: str) -> tuple[float, float] | None:
    from timelens_eval.predictions_columns._cscan import first_span as compiled

    return compiled(text.encode("ascii"))


def _py_first_span(text: str) -> tuple[float, float] | None:
    span = first_span(text)
    return None if span is None else (span.start, span.end)


def test_corpus_and_benchmark_answers() -> None:
    _scan()
    rng = random.Random(1)
    answers = [v["answers"] for v in json.loads(ref.CORPUS.read_text("utf-8")).values()]
    answers += [
        bench_score.raw_answer(rng, rng.uniform(0, 90), rng.uniform(0, 120)) for _ in range(5000)
    ]
    ascii_answers = [a for a in answers if a.isascii()]
    assert len(ascii_answers) > 4000
    for a in ascii_answers:
        assert _c_first_span(a) == _py_first_span(a), a


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
    "X",
    ",",
    "[",
    "]",
    '"',
    "1:23",
    "12:34:56",
    "1.5",
    " - ",
    " to ",
    "9" * 20,
    "0" * 8 + "1",
    "\x1c",
]


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_generated_answers(text: str) -> None:
    _scan()
    assert _c_first_span(text) == _py_first_span(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1",
        "1 2",
        "1:2",
        "1:23",
        "1:23 1:24",
        "1:23:45 and 0:00:01.5x",
        "123:45 1:00 2:00",
        "a1:00 2:00 3:00",
        "1:23:456 1:00",
        "1:23:4x 2:00",
        "1:23.5 2:00.25",
        "1:23.5x 2:00",
        "12.5.6 - 7",
        "5. - 6",
        "5.5.-6",
        "1.2.3 4",
        "1.2x 3 4",
        "3 TO 4",
        "3 tO\t4",
        "3to 4",
        "1" * 16 + " - 2",
        "0" * 30 + "1.5 to 2",
        "9" * 400 + " 1",
        "1.5e3 - 2",
        "_1 2 3",
        "1:00\x1c-\x1c2",
        "x-1 - -2",
        "1 -",
        "- 1 - 2",
        "1.2.3.4 5.6",
    ],
)
def test_edges_of_the_rules(text: str) -> None:
    _scan()
    assert _c_first_span(text) == _py_first_span(text)


def test_huge_numbers_are_converted_as_float_does() -> None:
    _scan()
    for text in ["9" * 400 + " 1", "1" + "0" * 308 + " 2", "0." + "0" * 400 + "1 - 1"]:
        got = _c_first_span(text)
        assert got == _py_first_span(text)
        assert got is not None and not any(math.isnan(v) for v in got)


def test_one_process_with_the_scanner_unless_pieces_are_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import timelens_eval.predictions_columns as columns
    from timelens_eval.predictions_columns import _pieces

    _scan()
    calls: list[int] = []

    def recorded(*args: object) -> object:
        calls.append(1)
        raise _pieces.Failed("recorded")

    monkeypatch.setattr(columns, "read_in_pieces", recorded)
    monkeypatch.setattr(_pieces, "MIN_PIECE_BYTES", 1)
    monkeypatch.setattr(_pieces, "_usable_cpus", lambda: 4)
    monkeypatch.delenv(_pieces.PROCESSES_ENV, raising=False)
    raw = json.dumps({f"v{i}.mp4>>>q>>>[1, 2]": {"answers": "1 - 2"} for i in range(30)}).encode()
    assert columns._read_plain(raw) is not None
    assert calls == []
    monkeypatch.setenv(_pieces.PROCESSES_ENV, "3")
    assert columns._read_plain(raw) is not None
    assert calls == [1]
    monkeypatch.setattr(_bytes, "_scanner", lambda: None)
    monkeypatch.delenv(_pieces.PROCESSES_ENV)
    assert columns._read_plain(raw) is not None
    assert calls == [1, 1]


@pytest.mark.parametrize("seed", range(5))
def test_group_numbers_strings_in_first_seen_order(seed: int) -> None:
    _scan()
    from timelens_eval.predictions_columns._cscan import group

    rng = random.Random(seed)
    pool = [
        bytes(rng.choice(b"ab>\x00") for _ in range(rng.randint(0, 3 + 10 * (i % 4))))
        for i in range(rng.choice([5, 50, 3000]))
    ]
    strings = [rng.choice(pool) for _ in range(rng.randint(0, 5000))]
    raw = b"".join(strings)
    ends = np.cumsum([len(s) for s in strings], dtype=np.int64)
    starts = ends - np.array([len(s) for s in strings], dtype=np.int64)
    order = rng.sample(range(len(strings)), len(strings))  # rows need not be in file order
    starts, ends = starts[order], ends[order]
    rows = [raw[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
    seen = dict.fromkeys(rows)
    want = dict(zip(seen, range(len(seen)), strict=True))
    codes, count = group(raw, starts, ends)
    assert count == len(seen)
    assert np.frombuffer(codes, dtype=np.int64).tolist() == [want[r] for r in rows]


def test_group_refuses_bad_bounds() -> None:
    _scan()
    from timelens_eval.predictions_columns._cscan import group

    one = np.array([0], dtype=np.int64)
    with pytest.raises(ValueError, match="one length"):
        group(b"abc", one, np.array([1, 2], dtype=np.int64))
    with pytest.raises(ValueError, match="outside"):
        group(b"abc", one, np.array([4], dtype=np.int64))
    with pytest.raises(ValueError, match="outside"):
        group(b"abc", np.array([2], dtype=np.int64), one)


def test_turned_off_by_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    _scan()
    monkeypatch.setenv(_bytes.COMPILED_ENV, "0")
    assert _bytes._scanner() is None
    monkeypatch.setenv(_bytes.COMPILED_ENV, "1")
    assert _bytes._scanner() is not None
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"v.mp4>>>q>>>[1, 2]": {"answers": "1 - 2"}}))
    run = [sys.executable, "-m", "timelens_eval", "score", str(path), "--json"]
    numbers = []
    for setting in ("0", "1", "yes"):
        done = subprocess.run(
            run,
            capture_output=True,
            text=True,
            env={**os.environ, _bytes.COMPILED_ENV: setting},
            timeout=120,
            check=False,
        )
        if setting == "yes":
            assert done.returncode == 2
            assert done.stderr.strip() == (
                f"error: {_bytes.COMPILED_ENV}='yes': expected 0 (off) or 1 (on, the default)"
            )
            assert done.stdout == ""
        else:
            assert done.returncode == 0, done.stderr
            numbers.append(json.loads(done.stdout)["R1@0.5"])
    assert numbers == [100.0, 100.0]
