"""The byte reader of plain TimeLens files: keys, GT and answers found in the file's bytes,
with no Python string per entry; any shape it does not read is left to :mod:`._msgspec`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from timelens_eval.errors import ConfigError
from timelens_eval.predictions_columns._msgspec import _decoders, _Part, _value_columns

_BLOCK = 1 << 20  # bytes per block of the scans over the whole file
_WS = np.zeros(256, dtype=bool)  # JSON whitespace
_WS[list(b" \t\n\r")] = True
_DEPTH = np.zeros(256, dtype=np.int8)  # +1 for an opening bracket, -1 for a closing one
_DEPTH[list(b"{[")] = 1
_DEPTH[list(b"}]")] = -1
_QUOTE, _BACKSLASH, _GT = ord('"'), ord("\\"), ord(">")
_COLON, _COMMA, _OPEN, _CLOSE = ord(":"), ord(","), ord("{"), ord("}")
_ANSWERS = np.frombuffer(b'"answers"', dtype=np.uint8)


class Utf8Slices(Sequence[str]):
    """The strings ``raw[starts[i] : ends[i]]`` (UTF-8, no escapes), decoded when first read."""

    def __init__(self, raw: bytes, starts: np.ndarray, ends: np.ndarray) -> None:
        self._raw: bytes | None = raw
        self._starts = starts
        self._ends = ends
        self._items: list[str] | None = None

    def _list(self) -> list[str]:
        if self._items is None:
            raw = self._raw
            assert raw is not None
            self._items = [item.decode() for item in _slices(raw, self._starts, self._ends)]
            self._raw = None
        return self._items

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        return self._list()[i]

    def __iter__(self) -> Iterator[str]:
        return iter(self._list())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return self._list() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Utf8Slices({self._list()!r})"


def _slices(raw: bytes, start: np.ndarray, end: np.ndarray) -> list[bytes]:
    """``raw[start[i] : end[i]]`` for each ``i``."""
    return [raw[a:b] for a, b in zip(start.tolist(), end.tolist(), strict=True)]


def _position_type(buf: np.ndarray) -> type[np.signedinteger]:
    """The integer type of positions in ``buf``: 32 bits below 2 GiB (half the memory)."""
    return np.int32 if len(buf) < 2**31 - _BLOCK else np.int64


def _positions(buf: np.ndarray, byte: int) -> np.ndarray:
    """Where ``buf`` holds ``byte``, block by block (the arrays of a block stay in cache)."""
    kind = _position_type(buf)
    found = [
        np.flatnonzero(buf[lo : lo + _BLOCK] == byte).astype(kind) + kind(lo)
        for lo in range(0, len(buf), _BLOCK)
    ]
    return np.concatenate(found) if found else np.zeros(0, dtype=kind)


def _separators(buf: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Start of each ``>>>`` in ``buf[lo:hi]`` (overlapping: ``>>>>`` gives two)."""
    found = []
    for a in range(lo, hi, _BLOCK):
        gt = buf[a : min(a + _BLOCK, hi) + 2] == _GT
        found.append(np.flatnonzero(gt[:-2] & gt[1:-1] & gt[2:]) + a)
    return np.concatenate(found) if found else np.zeros(0, dtype=np.intp)


def _escaped(buf: np.ndarray, quotes: np.ndarray) -> np.ndarray:
    """Which of the quotes at ``quotes`` are escaped (an odd run of backslashes before)."""
    cand = np.flatnonzero(buf[np.maximum(quotes - 1, 0)] == _BACKSLASH)
    run = np.ones(len(cand), dtype=np.int64)
    live = np.arange(len(cand))
    while len(live):
        back = quotes[cand[live]] - 1 - run[live]
        more = (back >= 0) & (buf[np.maximum(back, 0)] == _BACKSLASH)
        live = live[more]
        run[live] += 1
    escaped = np.zeros(len(quotes), dtype=bool)
    escaped[cand[run % 2 == 1]] = True
    return escaped


def _string_bounds(raw: bytes, buf: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Opening and closing quote of each string of the (valid) JSON text ``buf[lo:hi]``,
    which starts and ends outside any string."""
    quotes = _positions(buf[lo:hi], _QUOTE) + lo
    if raw.find(b"\\", lo, hi) >= 0:
        quotes = quotes[~_escaped(buf, quotes)]
    return quotes[0::2], quotes[1::2]


def _skip_blanks(buf: np.ndarray, pos: np.ndarray, step: int) -> np.ndarray:
    """From each position, the first (``step`` 1) or last (-1) non-blank byte's position."""
    top = len(buf) - 1
    pos = np.clip(pos, 0, top)
    live = np.flatnonzero(_WS[buf[pos]])
    while len(live):
        moved = pos[live] + step
        inside = (moved >= 0) & (moved <= top)  # else it stays on a blank at an end
        live = live[inside]
        pos[live] = moved[inside]
        live = live[_WS[buf[pos[live]]]]
    return pos


_STRINGS_PER_CHUNK = 1 << 16  # strings whose surroundings are read at once


def _string_kinds(
    buf: np.ndarray, opens: np.ndarray, closes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What follows each string, read chunk by chunk.

    Returns each string's kind (:data:`_KEY`: followed by exactly ``:`` and ``{``, then
    the next string; :data:`_BAD_KEY`: followed by ``:`` and ``{`` and something else;
    :data:`_NAME`: followed by ``:`` and the next string; :data:`_LAST`: followed by
    ``}`` and ``,``, then the next string), the position of the first non-blank byte after
    it and that of the second.
    """
    s = len(opens) - 1
    kind = np.zeros(s, dtype=np.int8)
    first = np.empty(s, dtype=opens.dtype)
    second = np.empty(s, dtype=opens.dtype)
    for a in range(0, s, _STRINGS_PER_CHUNK):
        b = min(s, a + _STRINGS_PER_CHUNK)
        p1 = _skip_blanks(buf, closes[a:b] + 1, 1)
        c1 = buf[p1]
        p2 = _skip_blanks(buf, p1 + 1, 1)  # (the last string's may be the last byte)
        c2 = buf[p2]
        nxt = opens[a + 1 : b + 1]
        colon = c1 == _COLON
        opening = colon & (c2 == _OPEN)
        ending = (c1 == _CLOSE) & (c2 == _COMMA)
        third = np.flatnonzero(opening | ending)
        to_next = np.zeros(b - a, dtype=bool)
        to_next[third] = _skip_blanks(buf, p2[third] + 1, 1) == nxt[third]
        k = kind[a:b]
        k[colon & (p2 == nxt)] = _NAME
        k[ending & to_next] = _LAST
        k[opening] = _BAD_KEY
        k[opening & to_next] = _KEY
        first[a:b] = p1
        second[a:b] = p2
    return kind, first, second


_NAME, _LAST, _KEY, _BAD_KEY = 1, 2, 3, 4


_HASHED_BYTES = 32  # bytes of each video name that are hashed
_MULTIPLIERS = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93],
    dtype=np.uint64,
)


def _all_distinct(buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> bool:
    """True when the byte strings ``buf[start[i] : end[i]]`` are all different.

    Each string (up to 32 bytes) is read as four 64-bit words, zero past its end, and
    hashed with its length: different hashes prove different strings. False when two
    hashes are equal or a string is longer (the caller then compares the strings).
    """
    length = end - start
    window = np.lib.stride_tricks.sliding_window_view(buf, _HASHED_BYTES)
    if len(start) == 0 or (length > _HASHED_BYTES).any() or start[-1] >= len(window):
        return len(start) == 0
    words = window[start].view("<u8")  # n x 4, a copy
    digest = length.astype(np.uint64)
    for j in range(_HASHED_BYTES // 8):
        kept = np.clip(length - 8 * j, 0, 8).astype(np.uint64) * np.uint64(8)
        mask = np.where(kept == 64, np.uint64(2**64 - 1), (np.uint64(1) << kept) - np.uint64(1))
        digest ^= (words[:, j] & mask) * _MULTIPLIERS[j]
        digest = (digest << np.uint64(29)) | (digest >> np.uint64(35))
    digest.sort()
    return not (digest[1:] == digest[:-1]).any()


@dataclass
class _Piece:
    """The columns of a run of entries, read by :func:`_read_piece` (positions in the file)."""

    key_start: np.ndarray
    key_end: np.ndarray
    video_end: np.ndarray
    gt: np.ndarray
    pred: np.ndarray
    durations: np.ndarray
    answer_rows: np.ndarray


def _read_bytes(raw: bytes) -> _Part | None:
    """The columns of a plain file read from its bytes, or None (then msgspec reads it).

    ``raw`` must be valid JSON whose top level is an object: see :func:`_read_piece`.
    """
    buf = np.frombuffer(raw, dtype=np.uint8)
    head, end = _ends(buf)
    if head >= end:
        return None
    piece = _read_piece(raw, buf, head, end)
    return None if piece is None else _join(raw, buf, [piece])


def _ends(buf: np.ndarray) -> tuple[int, int]:
    """The first and the last non-blank byte of ``buf`` (``(0, 0)`` if it is all blank)."""
    if len(buf) == 0:
        return 0, 0
    head = int(_skip_blanks(buf, np.zeros(1, dtype=np.int64), 1)[0])
    end = int(_skip_blanks(buf, np.array([len(buf) - 1]), -1)[0])
    return head, end


def _read_piece(raw: bytes, buf: np.ndarray, lo: int, hi: int) -> _Piece | None:
    """The entries between ``buf[lo]`` and ``buf[hi]``, or None (then msgspec reads the file).

    The compiled scanner (:func:`_scanner`) reads the entries in the common shape; any
    run it does not read, and every run where it was not built, goes to
    :func:`_read_piece_numpy`, whose result it equals wherever it reads one.
    """
    scan = _scanner()
    if scan is not None:
        piece = _read_piece_compiled(raw, buf, lo, hi, scan)
        if piece is not None:
            return piece
    return _read_piece_numpy(raw, buf, lo, hi)


COMPILED_ENV = "TIMELENS_EVAL_COMPILED"


def _scanner() -> Callable[[bytes, int, int], tuple[bytearray, ...] | None] | None:
    """``scan`` of the compiled scanner (``_cscan.c``), or None where it was not built
    (the package installs without it where there is no C compiler) or where
    ``TIMELENS_EVAL_COMPILED=0`` turns it off (then the numpy reader reads every file)."""
    setting = os.environ.get(COMPILED_ENV, "").strip()
    if setting not in ("", "0", "1"):
        raise ConfigError(f"{COMPILED_ENV}={setting!r}: expected 0 (off) or 1 (on, the default)")
    if setting == "0":
        return None
    try:
        from timelens_eval.predictions_columns._cscan import scan
    except ImportError:
        return None
    return scan


# The kinds of value the scanner gives (``_cscan.c``).
_PLAIN_PARSED, _PLAIN_LEFT, _OTHER_VALUE, _STAMPED = 0, 1, 2, 3


def _read_piece_compiled(
    raw: bytes,
    buf: np.ndarray,
    lo: int,
    hi: int,
    scan: Callable[[bytes, int, int], tuple[bytearray, ...] | None],
) -> _Piece | None:
    """The entries between ``buf[lo]`` and ``buf[hi]`` as the compiled scanner reads them,
    or None where it does not (then :func:`_read_piece_numpy` decides, declines included).

    The scanner gives each entry's key, video end, the GT where it is a plain pair (the
    others are decoded here, by :func:`_read_gt`), and the value's first span and
    duration where its members are ``timestamps``, ``answers`` and ``duration`` in plain
    forms: the first ``timestamps`` pair, else the first span of an ASCII answer (the
    other answers: :func:`~timelens_eval.parsing_batch.decoded_first_spans`). Every other
    value is given by its bounds and decoded here, all at once, by msgspec.
    """
    from timelens_eval.parsing_batch import decoded_first_spans

    got = scan(raw, lo, hi)
    if got is None:
        return None
    ints = [np.frombuffer(c, dtype=np.int64) for c in got[:4]]
    key_start, key_end, video_end, gt_start = ints
    gt = np.frombuffer(got[4], dtype=np.float64).reshape(-1, 2)
    gt_read = np.frombuffer(got[5], dtype=np.int8)
    kind = np.frombuffer(got[6], dtype=np.int8)
    pred = np.frombuffer(got[7], dtype=np.float64).reshape(-1, 2)
    bounds = np.frombuffer(got[8], dtype=np.int64).reshape(-1, 2)
    unread = np.flatnonzero(gt_read == 0)
    if len(unread):
        rest = _read_gt(raw, buf, gt_start[unread], key_end[unread])
        if rest is None:
            return None
        gt[unread] = rest
    if not np.isfinite(gt).all() or (gt[:, 0] < 0).any() or (gt[:, 0] > gt[:, 1]).any():
        return None
    left = np.flatnonzero(kind == _PLAIN_LEFT)
    if len(left):
        pred[left, 0], pred[left, 1] = decoded_first_spans(raw, bounds[left, 0], bounds[left, 1])
    durations = np.frombuffer(got[9], dtype=np.float64)
    answer_rows = [np.flatnonzero(kind <= _PLAIN_LEFT)]
    other = np.flatnonzero(kind == _OTHER_VALUE)
    if not _add_values(
        raw, other, bounds[other, 0], bounds[other, 1], pred, durations, answer_rows
    ):
        return None
    return _Piece(
        key_start, key_end, video_end, gt, pred, durations, np.sort(np.concatenate(answer_rows))
    )


def _add_values(
    raw: bytes,
    rows: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    pred: np.ndarray,
    durations: np.ndarray,
    answer_rows: list[np.ndarray],
) -> bool:
    """Decode the values ``raw[start[i] : end[i]]`` of ``rows`` (msgspec, all at once) into
    ``pred`` and ``durations``, adding the rows whose span came from the answer to
    ``answer_rows``; False where msgspec refuses one."""
    if len(rows) == 0:
        return True
    part = _read_values(raw, start, end)
    if part is None:
        return False
    p_pred, p_dur, p_rows = part
    pred[rows] = p_pred
    durations[rows] = p_dur
    answer_rows.append(rows[p_rows])
    return True


def _read_piece_numpy(raw: bytes, buf: np.ndarray, lo: int, hi: int) -> _Piece | None:
    """The entries between ``buf[lo]`` and ``buf[hi]``, or None (then msgspec reads the file).

    ``raw`` must be valid JSON whose top level is an object; ``buf[lo]`` is its ``{`` or
    the comma before an entry, ``buf[hi]`` its last ``}`` or the comma after an entry,
    both outside any string. The strings are found from the quotes, and the bytes around
    them give the structure: the keys are the strings followed by exactly ``:`` and ``{``
    (blanks aside), the first one right after ``buf[lo]``, each other one right after
    ``},``, and the last value's ``}`` comes right before ``buf[hi]``. (A string inside a
    value followed by ``:{`` cannot pass: the first such string would follow a ``{`` or a
    member that does not end with ``}``.) An entry ``"KEY": {"answers": "..."}`` is read
    in place; any other value (``timestamps``, ``duration``, other fields) is decoded by
    msgspec, all such values at once. Returns None for a key with an escape, a key not of
    three ``>>>`` parts, or a value that is not a non-empty object.
    """
    from timelens_eval.parsing_batch import first_spans_in

    if buf[lo] not in (_OPEN, _COMMA) or buf[hi] not in (_CLOSE, _COMMA):
        return None
    opens, closes = _string_bounds(raw, buf, lo + 1, hi)
    s = len(opens)
    if s < 2:
        return None
    opens = np.append(opens, -1)  # the next string of the last one: none
    kind, first, second = _string_kinds(buf, opens, closes)
    keys = np.flatnonzero(kind >= _KEY)
    n = len(keys)
    if n == 0 or keys[0] != 0 or (kind[keys] == _BAD_KEY).any():
        return None  # a value "{}" or one that does not start with a string
    if _skip_blanks(buf, np.array([lo + 1]), 1)[0] != opens[0]:
        return None
    brace = second[keys]  # each value's "{"
    # Each value's "}": right after its last string, or found back from the next key.
    nxt = np.empty(n, dtype=np.int64)
    nxt[:-1] = keys[1:]
    nxt[-1] = s
    close = first[nxt - 1]
    back = np.flatnonzero(kind[nxt[:-1] - 1] != _LAST)
    if len(back):  # values that do not end with a string: "}" and "," before the key
        comma = _skip_blanks(buf, opens[nxt[back]] - 1, -1)
        close[back] = _skip_blanks(buf, comma - 1, -1)
        if not (buf[comma] == _COMMA).all() or not (buf[close[back]] == _CLOSE).all():
            return None
    # The last value's "}", right before buf[hi].
    close[-1] = _skip_blanks(buf, np.array([hi - 1]), -1)[0]
    if buf[close[-1]] != _CLOSE:
        return None
    # The plain entry: key, "answers", ":", the answer, then the "}".
    simple = nxt - keys == 3
    simple[simple] = kind[keys[simple] + 1] == _NAME
    name = keys[simple] + 1
    window = np.lib.stride_tricks.sliding_window_view(buf, len(_ANSWERS))
    same = closes[name] - opens[name] == len(_ANSWERS) - 1
    same &= (window[opens[name]] == _ANSWERS).all(axis=1)
    same &= first[name + 1] == close[simple]
    simple[simple] = same
    rows = np.flatnonzero(simple)
    complex_rows = np.flatnonzero(~simple)

    key_start = opens[keys] + 1
    key_end = closes[keys]
    if raw.find(b"\\", lo, hi) >= 0:
        backslashes = _positions(buf[lo:hi], _BACKSLASH) + lo
        k = np.searchsorted(key_start, backslashes, side="right") - 1
        if ((k >= 0) & (backslashes < key_end[np.maximum(k, 0)])).any():
            return None  # a key with an escape: msgspec decodes it
    # Exactly two ">>>" in each key, apart (a ">>>>" gives two that overlap).
    seps = _separators(buf, lo, hi)
    k = np.searchsorted(key_start, seps, side="right") - 1
    inside = (k >= 0) & (seps < key_end[np.maximum(k, 0)])
    seps, k = seps[inside], k[inside]
    every = np.arange(n)
    if (
        len(seps) != 2 * n
        or not (k[0::2] == every).all()
        or not (k[1::2] == every).all()
        or not (seps[1::2] >= seps[0::2] + 3).all()
    ):
        return None
    video_end = seps[0::2]
    gt_start = seps[1::2] + 3
    gt = _read_gt(raw, buf, gt_start, key_end)
    if gt is None:
        return None
    if not np.isfinite(gt).all() or (gt[:, 0] < 0).any() or (gt[:, 0] > gt[:, 1]).any():
        return None

    pred = np.full((n, 2), np.nan)
    durations = np.full(n, np.nan)
    answer_rows = [rows]
    if len(rows):
        answer = keys[rows] + 2
        pred[rows, 0], pred[rows, 1] = first_spans_in(raw, opens[answer] + 1, closes[answer])
    value_start, value_end = brace[complex_rows], close[complex_rows] + 1
    if not _add_values(raw, complex_rows, value_start, value_end, pred, durations, answer_rows):
        return None
    return _Piece(
        key_start, key_end, video_end, gt, pred, durations, np.sort(np.concatenate(answer_rows))
    )


def _join(raw: bytes, buf: np.ndarray, pieces: Sequence[_Piece]) -> _Part | None:
    """The file's columns from its pieces in order, with each row's video; None when a
    key is repeated (the full reader names it). The videos are numbered in the order
    they are first seen, by the compiled scanner's hash table where it was built."""
    offsets = np.cumsum([0] + [len(p.key_start) for p in pieces])
    key_start = np.concatenate([p.key_start for p in pieces])
    key_end = np.concatenate([p.key_end for p in pieces])
    video_end = np.concatenate([p.video_end for p in pieces])
    n = len(key_start)
    if _scanner() is not None:
        from timelens_eval.predictions_columns._cscan import group

        starts = np.ascontiguousarray(key_start, dtype=np.int64)
        codes, count = group(raw, starts, np.ascontiguousarray(video_end, dtype=np.int64))
        if count < n and group(raw, starts, np.ascontiguousarray(key_end, dtype=np.int64))[1] < n:
            return None  # a repeated key: the full reader names it
        clusters = (np.frombuffer(codes, dtype=np.int64).astype(np.intp, copy=False), count)
    elif _all_distinct(buf, key_start, video_end):
        clusters = (np.arange(n, dtype=np.intp), n)
    else:
        video_bytes = _slices(raw, key_start, video_end)
        distinct = set(video_bytes)
        key_bytes = _slices(raw, key_start, key_end)
        if len(set(key_bytes)) != n:
            return None  # a repeated key: the full reader names it
        del key_bytes
        codes = dict(zip(dict.fromkeys(video_bytes), range(len(distinct)), strict=True))
        inverse = np.fromiter(map(codes.__getitem__, video_bytes), dtype=np.intp, count=n)
        clusters = (inverse, len(codes))
        del video_bytes, distinct
    return _Part(
        Utf8Slices(raw, key_start, key_end),
        Utf8Slices(raw, key_start, video_end),
        np.concatenate([p.gt for p in pieces]),
        np.concatenate([p.pred for p in pieces]),
        np.concatenate([p.durations for p in pieces]),
        np.concatenate([p.answer_rows + off for p, off in zip(pieces, offsets, strict=False)]),
        clusters,
    )


_GT_ROWS = 1 << 16  # GT parts decoded at once
_GT_WIDTH = 16  # bytes of a key's GT part read at once (longer ones: one by one)
_LBRACKET, _RBRACKET, _SPACE = ord("["), ord("]"), ord(" ")


def _read_gt(raw: bytes, buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray | None:
    """The ``[s, e]`` of each key (``raw[start[i] : end[i]]``) as msgspec decodes it.

    Each part is read as 16 bytes (two 64-bit words) from its ``[``: its brackets and
    the bytes past its ``]`` become blanks and its last byte a comma, so that the parts,
    one after the other, are the inside of a JSON list of numbers. Decoded (a block of
    parts at a time), it gives every pair when each part holds one comma (anything else
    in a part, brackets included, fails the decode). Longer parts are decoded one by one.
    Returns None for a part that is not a bracketed pair of numbers.
    """
    import msgspec

    if not ((buf[start] == _LBRACKET) & (buf[end - 1] == _RBRACKET)).all():
        return None  # Python tuples, blanks around: msgspec (or the full reader) decides
    n = len(start)
    length = end - start
    window = np.lib.stride_tricks.sliding_window_view(buf, _GT_WIDTH)
    fit = (length < _GT_WIDTH) & (start < len(window))
    rows = np.flatnonzero(fit)
    m = len(rows)
    text = np.empty(_GT_WIDTH * m, dtype=np.uint8)
    words = text.view("<u8").reshape(m, 2)
    text.reshape(m, _GT_WIDTH)[:] = window[start[rows]]
    kept = length[rows] - 1  # bytes before the "]"
    commas = np.zeros(m, dtype=np.uint64)
    for j in range(2):
        word = words[:, j]
        used = (np.clip(kept - 8 * j, 0, 8) * 8).astype(np.uint64)
        mask = np.where(used == 64, _ALL, (np.uint64(1) << used) - np.uint64(1))
        word &= mask
        word |= _SPACES & ~mask
        if j == 0:  # the "[" becomes a blank
            word &= ~np.uint64(0xFF)
            word |= np.uint64(_SPACE)
        commas += np.bitwise_count(_zero_bytes(word ^ _COMMAS))
    if not (commas == 1).all():
        return None
    words[:, 1] &= np.uint64(0x00FFFFFFFFFFFFFF)  # the last byte (a blank): a comma
    words[:, 1] |= np.uint64(_COMMA) << np.uint64(56)
    gt = np.empty((n, 2))
    flat = np.empty(2 * m)
    try:
        # Rows a:b are one list once row a's first byte (a blank) is "[" and row b - 1's
        # last (a comma) is "]"; a block at a time, so that the floats' memory is reused.
        for a in range(0, m, _GT_ROWS):
            b = min(m, a + _GT_ROWS)
            text[_GT_WIDTH * a] = _LBRACKET
            text[_GT_WIDTH * b - 1] = _RBRACKET
            block = text[_GT_WIDTH * a : _GT_WIDTH * b].data
            values = msgspec.json.decode(block, type=list[float])
            if len(values) != 2 * (b - a):
                return None
            flat[2 * a : 2 * b] = values
            del values
        rest = np.flatnonzero(~fit)
        if len(rest):
            parts = _slices(raw, start[rest], end[rest])
            pairs = msgspec.json.decode(
                b"[" + b",".join(parts) + b"]", type=list[tuple[float, float]]
            )
            gt[rest] = np.array(pairs, dtype=np.float64).reshape(-1, 2)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    gt[rows] = flat.reshape(-1, 2)
    return gt


_ALL = np.uint64(2**64 - 1)
_SPACES = np.uint64(0x2020202020202020)
_COMMAS = np.uint64(0x2C2C2C2C2C2C2C2C)
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)


def _zero_bytes(word: np.ndarray) -> np.ndarray:
    """The high bit of each zero byte of each word (exactly those)."""
    return ~(((word & _LOW7) + _LOW7) | word | _LOW7)


def _read_values(
    raw: bytes, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The values ``raw[start[i] : end[i]]`` decoded by msgspec: see :func:`_value_columns`."""
    import msgspec

    decoder = _decoders()[2]
    parts = _slices(raw, start, end)
    try:
        values = decoder.decode(b"[" + b",".join(parts) + b"]")
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return _value_columns(values)
