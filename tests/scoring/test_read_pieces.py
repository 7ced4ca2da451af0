"""A large plain file read in pieces, one process per piece, equals the file read whole.

Every file of the byte reader's cases is cut at every place :func:`cut_points` chooses
for 2 to 6 pieces; the cuts must be commas outside strings, between top-level entries
unless a value holds an object (checked against a plain scanner of the JSON text), and
the columns read in pieces must equal those of the whole file, including which files are
declined. The public reader takes the pieces path
when the pieces may be small (``MIN_PIECE_BYTES`` lowered), and must give the same
columns, fall back when a process fails, and leave no process behind.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest
from repo_paths import ROOT
from test_byte_reader import CASES

from timelens_eval.errors import ConfigError
from timelens_eval.predictions_columns import (
    _is_json_object,
    _read_bytes,
    _read_part,
    _read_plain,
    read_timelens_columns,
)
from timelens_eval.predictions_columns import _pieces as pieces_module
from timelens_eval.predictions_columns._bytes import _ends
from timelens_eval.predictions_columns._msgspec import _Part
from timelens_eval.predictions_columns._pieces import (
    PROCESSES_ENV,
    Failed,
    cut_points,
    pieces_for,
    read_in_pieces,
)

# Every test with the compiled scanner and with the numpy reader alone.
pytestmark = pytest.mark.usefixtures("scanner")


def _commas(raw: bytes) -> tuple[set[int], set[int]]:
    """Positions of the commas outside strings, and of those between members of the
    top-level object (a plain scan)."""
    found = set()
    outside = set()
    depth = 0
    in_string = escaped = False
    for i, byte in enumerate(raw):
        char = chr(byte)
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        elif char == ",":
            outside.add(i)
            if depth == 1:
                found.add(i)
    return outside, found


def _assert_same(got: _Part, want: _Part) -> None:
    assert list(got.keys) == list(want.keys)
    assert list(got.videos) == list(want.videos)
    for name in ("gt", "pred", "durations", "answer_rows"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    if want.clusters is None:  # the msgspec reader leaves them to the scorer
        assert got.clusters is None
    else:
        assert got.clusters is not None
        np.testing.assert_array_equal(got.clusters[0], want.clusters[0])
        assert got.clusters[1] == want.clusters[1]


def _check_every_cut(raw: bytes, most: int = 6) -> int:
    """Read ``raw`` in 2..``most`` pieces; returns how many readings used a cut."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    head, end = _ends(buf)
    outside, top_level = _commas(raw)
    whole: _Part | None | bool = _read_bytes(raw) if _is_json_object(raw) else False
    used = 0
    for k in range(2, most + 1):
        cuts = cut_points(raw, buf, head, end, k)
        assert cuts == sorted(set(cuts)) and len(cuts) < k
        assert set(cuts) <= outside, (k, cuts)
        if not set(cuts) <= top_level:  # a cut inside a value: that value holds an object
            assert whole is None, (k, cuts)
        if not cuts:
            continue
        used += 1
        got = read_in_pieces(raw, head, end, cuts, _is_json_object)
        if isinstance(whole, _Part):
            assert isinstance(got, _Part)
            _assert_same(got, whole)
        else:
            assert got is whole, (k, cuts)
    return used


_FORKED: list[int] = []


@pytest.fixture(autouse=True)
def _record_forks(monkeypatch: pytest.MonkeyPatch) -> None:
    real = pieces_module._start

    def recording(*args: object) -> tuple[int, int]:
        pid, fd = real(*args)  # type: ignore[arg-type]
        _FORKED.append(pid)
        return pid, fd

    monkeypatch.setattr(pieces_module, "_start", recording)


def _no_child_left() -> None:
    """Every reading process started so far has ended and been waited for."""
    while _FORKED:
        with pytest.raises(ChildProcessError):
            os.waitpid(_FORKED.pop(), os.WNOHANG)


@pytest.mark.parametrize("name", list(CASES))
def test_pieces_equal_the_whole_file(name: str) -> None:
    raw = CASES[name][0].encode("utf-8")
    if raw.lstrip().startswith(b"{") and raw.count(b">>>") >= 4:
        _check_every_cut(raw)
    _no_child_left()


def _tricky_entries(n: int) -> dict[str, object]:
    """Entries whose answers hold what a cut looks for: ``},`` right before the closing
    quote, one escaped quote (odd) or two, backslashes before quotes; some values with
    ``timestamps`` and nested lists."""
    shapes = [
        '}}, "v9.mp4>>>q>>>[1, 2]": {{"answers": "0 - 1"}} {a} - {b}',
        'one " quote, {a} - {b} }},',
        'say "}}, " then {a} - {b}}}, ',
        "a backslash \\ before\\",
        '{{"start": {a}, "end": {b}}}',
        "}},{{}},{{ {a} to {b}",
        "",
    ]
    out: dict[str, object] = {}
    for i in range(n):
        key = f'v{i % 17}.mp4>>>query {i} }}, "x>>>[{i % 5}, {i % 5 + 3}]'
        answer = shapes[i % len(shapes)].format(a=i % 4, b=i % 4 + 2)
        if i % 5 == 3:
            out[key] = {"timestamps": [[1.0, 2.5]], "answers": answer, "duration": 40.0}
        else:
            out[key] = {"answers": answer}
    return out


def test_cuts_skip_look_alikes_inside_strings() -> None:
    data = _tricky_entries(300)
    for dump in ({}, {"separators": (",", ":")}, {"indent": 1}, {"ensure_ascii": False}):
        raw = json.dumps(data, **dump).encode("utf-8")  # type: ignore[arg-type]
        # The keys hold a quote: escaped keys are declined, by both readings.
        assert _check_every_cut(raw, most=8) > 0
    plain = {k.replace(' }, "x', ""): v for k, v in data.items()}
    assert sum(v["answers"].rstrip().endswith("},") for v in plain.values()) > 20  # type: ignore[index]
    raw = json.dumps(plain).encode("utf-8")
    assert isinstance(_read_bytes(raw), _Part)
    assert _check_every_cut(raw, most=8) == 7
    _no_child_left()


def test_a_repeated_key_across_pieces_is_declined() -> None:
    entry = '"v1.mp4>>>q>>>[1, 2]": {"answers": "1 - 2"}'
    raw = "{" + ", ".join([entry, '"v2.mp4>>>q>>>[1, 2]": {"answers": "0"}', entry]) + "}"
    raw_bytes = raw.encode()
    assert _read_bytes(raw_bytes) is None
    assert _check_every_cut(raw_bytes) > 0


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pieces_module, "MIN_PIECE_BYTES", 1)
    monkeypatch.setenv(PROCESSES_ENV, "4")


def _generated(tmp_path: Path, n: int) -> Path:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_score

    path = tmp_path / "raw.json"
    bench_score.generate_raw(path, n, seed=5)
    return path


def test_public_reader_in_pieces_equals_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _generated(tmp_path, 4000)
    raw = path.read_bytes()
    monkeypatch.setenv(PROCESSES_ENV, "1")
    assert pieces_for(len(raw)) == 1
    whole = read_timelens_columns(path)
    monkeypatch.setattr(pieces_module, "MIN_PIECE_BYTES", 1)
    for processes in ("2", "3", "8"):
        monkeypatch.setenv(PROCESSES_ENV, processes)
        assert pieces_for(len(raw)) == int(processes)
        calls: list[int] = []
        real = pieces_module.read_in_pieces

        def counted(*args: object, _real: object = real, _calls: list[int] = calls) -> object:
            _calls.append(1)
            return _real(*args)  # type: ignore[operator]

        monkeypatch.setattr("timelens_eval.predictions_columns.read_in_pieces", counted)
        got = read_timelens_columns(path)
        assert calls == [1]
        assert whole is not None and got is not None
        for name in ("gt_start", "gt_end", "pred_start", "pred_end", "durations", "answer_rows"):
            np.testing.assert_array_equal(getattr(got, name), getattr(whole, name))
        assert list(got.keys) == list(whole.keys)
    _no_child_left()


def test_a_failed_process_means_one_process_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_pieces: None
) -> None:
    path = _generated(tmp_path, 600)
    raw = path.read_bytes()
    want = _read_bytes(raw)
    assert want is not None
    parent = os.getpid()
    real = pieces_module._read_piece

    def failing_in_children(*args: object) -> object:
        if os.getpid() != parent:
            raise MemoryError("no memory in this child")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(pieces_module, "_read_piece", failing_in_children)
    buf = np.frombuffer(raw, dtype=np.uint8)
    head, end = _ends(buf)
    with pytest.raises(Failed, match="status"):
        read_in_pieces(raw, head, end, cut_points(raw, buf, head, end, 3), _is_json_object)
    _no_child_left()
    got = _read_plain(raw)
    assert got is not None
    _assert_same(got, want)
    _no_child_left()


def test_invalid_json_stops_the_pieces(tmp_path: Path, small_pieces: None) -> None:
    entries = [f'"v{i}.mp4>>>q>>>[1, 2]": {{"answers": "1 - 2"}}' for i in range(50)]
    path = tmp_path / "p.json"
    path.write_text("{" + ", ".join(entries) + ", }")  # a trailing comma
    assert read_timelens_columns(path) is None
    _no_child_left()
    path.write_text("{" + ", ".join(entries) + "}")
    got = read_timelens_columns(path)
    assert got is not None and len(got.keys) == 50
    _no_child_left()


def test_a_declined_piece_gives_the_msgspec_reading(tmp_path: Path, small_pieces: None) -> None:
    data = {f"v{i}.mp4>>>q {i}>>>[1, 2]": {"answers": f"{i} - {i + 1}"} for i in range(40)}
    data['v99.mp4>>>a \\"quoted\\" query>>>[1, 2]'] = {"answers": "3 - 4"}  # an escaped key
    raw = json.dumps(data).encode()
    assert _read_bytes(raw) is None
    want = _read_part(raw)
    got = _read_plain(raw)
    assert want is not None and got is not None
    _assert_same(got, want)
    _no_child_left()


@pytest.mark.parametrize(
    ("value", "size", "want"),
    [
        ("3", 100 << 20, 3),
        ("64", 1 << 30, 8),
        ("4", 20 << 20, 1),
        ("2", 10, 1),
        (" 2 ", 40 << 20, 2),
    ],
)
def test_pieces_for(value: str, size: int, want: int) -> None:
    assert pieces_for(size, {PROCESSES_ENV: value}) == want


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_pieces_for_refuses_a_bad_setting(value: str) -> None:
    with pytest.raises(ConfigError, match=PROCESSES_ENV):
        pieces_for(100 << 20, {PROCESSES_ENV: value})


def test_a_process_cut_short_is_a_failure(
    monkeypatch: pytest.MonkeyPatch, small_pieces: None
) -> None:
    raw = json.dumps(_tricky_entries(200)).replace(' }, \\"x', "").encode()
    want = _read_bytes(raw)
    assert want is not None
    parent = os.getpid()

    class HalfWritten:
        HIGHEST_PROTOCOL = pickle.HIGHEST_PROTOCOL
        loads = staticmethod(pickle.loads)

        @staticmethod
        def dump(obj: object, out: BinaryIO, protocol: int) -> None:
            data = pickle.dumps(obj, protocol=protocol)
            if os.getpid() == parent:
                out.write(data)
                return
            out.write(data[: len(data) // 2])
            out.flush()
            raise OSError("the disk of the pipe is full")

    monkeypatch.setattr(pieces_module, "pickle", HalfWritten)
    buf = np.frombuffer(raw, dtype=np.uint8)
    head, end = _ends(buf)
    cuts = cut_points(raw, buf, head, end, 2)
    assert len(cuts) == 1
    with pytest.raises(Failed, match="status"):
        read_in_pieces(raw, head, end, cuts, _is_json_object)
    _no_child_left()
    got = _read_plain(raw)
    assert got is not None
    _assert_same(got, want)
    _no_child_left()


def test_huge_pages_are_off_while_reading_and_restored(tmp_path: Path) -> None:
    from timelens_eval.predictions_columns import _set_huge_pages

    seen: list[bool] = []
    real = pieces_module.cut_points

    def looking(*args: object) -> list[int]:
        # _set_huge_pages returns the setting it replaces: read it without changing it.
        seen.append(_set_huge_pages(False))
        return real(*args)  # type: ignore[arg-type]

    path = tmp_path / "p.json"
    path.write_text(json.dumps({f"v{i}.mp4>>>q>>>[1, 2]": {"answers": "1 - 2"} for i in range(9)}))
    for before in (True, False):
        _set_huge_pages(before)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(pieces_module, "MIN_PIECE_BYTES", 1)
            patch.setenv(PROCESSES_ENV, "2")
            patch.setattr("timelens_eval.predictions_columns.cut_points", looking)
            assert read_timelens_columns(path) is not None
        assert _set_huge_pages(True) is before
    assert seen == [False, False]
    _no_child_left()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_invalid_json_is_said_and_no_pipe_is_left_open(small_pieces: None) -> None:
    entries = [f'"v{i}.mp4>>>q>>>[1, 2]": {{"answers": "1 - 2"}}' for i in range(30)]
    raw = ("{" + ", ".join(entries) + ", }").encode()
    buf = np.frombuffer(raw, dtype=np.uint8)
    head, end = _ends(buf)
    cuts = cut_points(raw, buf, head, end, 4)
    assert len(cuts) == 3
    before = _open_fds()
    assert read_in_pieces(raw, head, end, cuts, _is_json_object) is False
    assert _open_fds() == before
    _no_child_left()


def test_no_process_to_be_had_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = json.dumps({f"v{i}.mp4>>>q>>>[1, 2]": {"answers": "1 - 2"} for i in range(30)}).encode()
    buf = np.frombuffer(raw, dtype=np.uint8)
    head, end = _ends(buf)
    cuts = cut_points(raw, buf, head, end, 3)

    def no_fork() -> int:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    before = _open_fds()
    with pytest.raises(Failed, match="no reading process"):
        read_in_pieces(raw, head, end, cuts, _is_json_object)
    assert _open_fds() == before


def test_one_piece_but_on_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert pieces_for(1 << 30, {PROCESSES_ENV: "4"}) == 1
    monkeypatch.setattr(sys, "platform", "linux")
    assert pieces_for(1 << 30, {PROCESSES_ENV: "4"}) == 4


def test_usable_cpus_without_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert pieces_for(1 << 30, {}) == 3
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert pieces_for(1 << 30, {}) == 1


def test_score_names_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    import subprocess

    path = tmp_path / "p.json"
    path.write_text(json.dumps({"v.mp4>>>q>>>[1, 2]": {"answers": "1 - 2"}}))
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from timelens_eval.cli import main; sys.exit(main())",
            "score",
            str(path),
            "--json",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, PROCESSES_ENV: "two"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"error: {PROCESSES_ENV}='two': expected a whole number of at least 1"
    )
    assert done.stdout == ""
