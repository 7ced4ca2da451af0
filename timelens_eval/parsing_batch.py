"""The scored (first) span of many answers at once: :func:`first_spans`.

The result equals :func:`timelens_eval.parsing.first_span` on each answer, and so the
first span TimeLens' ``extract_time`` returns, at a small fraction of the cost per answer:
the answers are joined into one byte string and read as *digit runs* (maximal runs of
``0-9``) with numpy. Every default rule is a statement about digit runs and the few
characters next to them:

* a clock time ``\\b\\d{1,2}(:\\d{2}){1,2}(\\.\\d+)?\\b`` starts at a run of one or two digits
  with no word character before it; each ``:\\d{2}`` is a colon and a run of exactly two
  digits; the fraction is a dot and a run; the word boundary at the end tests the
  character after the last run (backtracking drops the fraction, then the second
  ``:\\d{2}``, when it fails);
* a range ``\\d+\\.?\\d*`` is a run, an optional dot and, when it touches the dot, the next
  run; the whole run is always taken (no shorter choice lets the rest match), so a range
  starts where a run starts and the text between its two numbers is what is tested;
* a number ``\\b(\\d+\\.\\d+|\\d+)\\b`` is a run with no word character on either side,
  extended by ``.run`` when that run also ends before a non-word character.

The text between the two numbers of a range is tested as a whole: gaps of up to five
characters are packed into integers and compared against every gap the pattern accepts,
longer ones (runs of whitespace) are matched one by one. Values are computed as
``digits / 10**decimals``, which is exactly what ``float()`` returns while the digits fit
in 15 decimal places (both numbers are exact doubles and IEEE division rounds once);
longer numbers go through ``float()``. Answers that are not ASCII (Unicode digits, case
and word characters) or that hold the separator take the per-answer parser.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from itertools import product

import numpy as np

from timelens_eval.parsing import first_span

__all__ = ["first_spans", "first_spans_in"]

_SEP = "\x00"
_PAD = 8  # separator bytes after the text, so that reads past a run stay in bounds
_DIGITS_EXACT = 15  # digits below 2**53: their value / 10**k is exactly float()'s
_CHUNK_CHARS = 1 << 20  # characters of text per chunk
_LONG = 20_000  # characters: longer answers take the per-answer parser
_VECTOR_DIGITS = 6  # runs up to this long are read with numpy, longer ones by float()

_DOT, _COLON = ord("."), ord(":")
_WORD = np.zeros(256, dtype=bool)  # \w in ASCII: letters, digits, underscore
_WORD[list(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")] = True
_DIGIT_TABLE = bytes(1 if 48 <= i < 58 else 0 for i in range(256))
_SPACES = b" \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"  # \s in ASCII
# Gap bytes as the range patterns see them: whitespace as a space, letters lower-cased.
_NORMAL = np.arange(256, dtype=np.uint64)
_NORMAL[65:91] += 32
_NORMAL[list(_SPACES)] = ord(" ")
_GAP_OPEN = np.zeros(256, dtype=bool)  # first character of a range gap
_GAP_OPEN[list(_SPACES + b"-.")] = True
_GAP_CHAR = np.zeros(256, dtype=bool)  # any character of a range gap
_GAP_CHAR[list(_SPACES + b"-.toTO")] = True
_GAP_CLOSE = np.zeros(256, dtype=bool)  # last character of a range gap
_GAP_CLOSE[list(_SPACES + b"-")] = True


def first_spans(answers: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of the first span of each answer (NaN where it has none)."""
    n = len(answers)
    start = np.full(n, np.nan)
    end = np.full(n, np.nan)
    # Chunks of about a megabyte of text: every array of a chunk stays in cache, and the
    # allocator reuses the same memory chunk after chunk.
    chunk_start = 0
    while chunk_start < n:
        size = 0
        stop = chunk_start
        while stop < n and size < _CHUNK_CHARS:
            size += len(answers[stop])
            stop += 1
        start[chunk_start:stop], end[chunk_start:stop] = _chunk_first_spans(
            answers[chunk_start:stop]
        )
        chunk_start = stop
    return start, end


def first_spans_in(
    data: bytes, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """First span of each answer ``data[starts[i] : ends[i]]``, read where it lies.

    Each answer is the body of a string of the JSON text ``data`` (``data[starts[i] - 1]``
    and ``data[ends[i]]`` are its quotes), the answers in the order of the text. The
    answers are parsed in place, without making a string of each: chunks of about a
    megabyte of the text go to the same rules as :func:`first_spans`, which skip the
    digit runs outside the answers (a quote ends each answer, as the separator does in
    :func:`first_spans`). Answers with an escape, a byte outside ASCII or more than
    20,000 bytes are decoded as JSON strings and go to :func:`first_spans`.
    """
    n = len(starts)
    start = np.full(n, np.nan)
    end = np.full(n, np.nan)
    # Long answers stay out of the chunks (their bytes are not scanned here at all).
    long = np.flatnonzero(ends - starts > _LONG)
    apart = [long]
    a = 0
    while a < n:
        after = int(np.searchsorted(long, a))
        if after < len(long) and long[after] == a:
            a += 1
            continue
        stop = int(long[after]) if after < len(long) else n
        # At least answer a: every start up to a is below starts[a] + _CHUNK_CHARS.
        b = min(stop, int(np.searchsorted(starts, starts[a] + _CHUNK_CHARS)))
        start[a:b], end[a:b], rows = _chunk_first_spans_in(data, starts[a:b], ends[a:b])
        apart.append(rows + a)
        a = b
    rows = np.sort(np.concatenate(apart))
    if len(rows):
        start[rows], end[rows] = decoded_first_spans(data, starts[rows], ends[rows])
    return start, end


def decoded_first_spans(
    data: bytes, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """First span of each answer ``data[starts[i] : ends[i]]`` (the body of a JSON string
    of ``data``, escapes and all), decoded by msgspec and read by :func:`first_spans`."""
    import msgspec

    quoted = [data[a - 1 : b + 1] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
    texts = msgspec.json.decode(b"[" + b",".join(quoted) + b"]", type=list[str])
    return first_spans(texts)


def _chunk_first_spans_in(
    data: bytes, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First spans of one chunk's answers, and the answers left to the caller."""
    lo = int(starts[0]) - 1
    chunk = data[lo : int(ends[-1]) + 1] + _SEP.encode() * _PAD
    opens = np.empty(len(starts) + 1, dtype=np.int64)
    opens[:-1] = starts - lo
    opens[-1] = len(chunk)
    closes = ends - lo
    apart = np.zeros(len(starts), dtype=bool)
    if not chunk.isascii() or b"\\" in chunk:
        codes = np.frombuffer(chunk, dtype=np.uint8)
        odd = np.flatnonzero((codes >= 128) | (codes == ord("\\")))
        owner = np.searchsorted(opens[:-1], odd, side="right") - 1
        inside = (owner >= 0) & (odd < closes[np.maximum(owner, 0)])
        apart[owner[inside]] = True
    start, end = _ascii_first_spans(chunk, opens, closes, apart)
    return start, end, np.flatnonzero(apart)


def _chunk_first_spans(answers: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    n = len(answers)
    # Answers the per-answer parser reads: not ASCII, holding the separator, or so long
    # that arrays over every character would cost more than the lazy per-answer scan.
    apart = [i for i, a in enumerate(answers) if not a.isascii() or len(a) > _LONG]
    texts = list(answers)
    for i in apart:
        texts[i] = ""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    data = _SEP.join(["", *texts, *[""] * _PAD]).encode("ascii")
    if data.count(b"\x00") != n + _PAD:
        apart = sorted({*apart, *(i for i, a in enumerate(answers) if _SEP in a)})
        for i in apart:
            texts[i] = ""
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
        data = _SEP.join(["", *texts, *[""] * _PAD]).encode("ascii")
    # Answer i fills data[opens[i] : opens[i + 1] - 1]; data[0] is a separator.
    opens = np.empty(n + 1, dtype=np.int64)
    opens[0] = 1
    np.cumsum(lengths + 1, out=opens[1:])
    opens[1:] += 1
    start, end = _ascii_first_spans(data, opens)
    for i in apart:
        top = first_span(answers[i])
        start[i], end[i] = (np.nan, np.nan) if top is None else top
    return start, end


class _Runs:
    """Digit runs of the joined text: positions, lengths and their neighbours.

    With ``closes`` (answer ``i`` is ``data[opens[i] : closes[i]]``, the bytes between
    answers any text that starts and ends with a non-word, non-digit character that no
    gap pattern accepts, such as a quote), the runs outside the answers, and those of the
    answers where ``skip`` is true, are left out.
    """

    def __init__(
        self,
        data: bytes,
        opens: np.ndarray,
        closes: np.ndarray | None = None,
        skip: np.ndarray | None = None,
    ) -> None:
        buf = np.frombuffer(data, dtype=np.uint8)
        self.buf = buf
        self.data = data
        digit = np.frombuffer(data.translate(_DIGIT_TABLE), dtype=np.bool_)
        edges = np.flatnonzero(digit[1:] != digit[:-1])
        edges += 1
        starts, ends = edges[0::2], edges[1::2]
        del edges
        if closes is None:
            answer = np.searchsorted(opens, starts, side="right") - 1
        else:
            # Answer i holds the runs first[i]:last[i] (runs cannot cross a quote).
            first = np.searchsorted(starts, opens[:-1])
            last = np.searchsorted(starts, closes)
            if skip is not None:
                last[skip] = first[skip]
            count = last - first
            some = count > 0  # their first runs differ, and so do their last ones
            marks = np.zeros(len(starts) + 1, dtype=np.int32)
            marks[first[some]] += 1
            marks[last[some]] -= 1
            inside = np.cumsum(marks[:-1]).astype(bool)
            starts, ends = starts[inside], ends[inside]
            answer = np.repeat(np.arange(len(count)), count)
        self.count = len(starts)
        # Three empty runs on the last separator, so k + 3 is always a valid index.
        sentinel = np.full(3, len(buf) - 1, dtype=starts.dtype)
        self.start = np.concatenate([starts, sentinel])
        self.end = np.concatenate([ends, sentinel])
        self.answer = answer
        self.length = self.end - self.start
        self.after = buf[self.end]
        self.word_before = _WORD[buf[self.start - 1]]
        self.word_after = _WORD[self.after]
        touches = np.zeros(len(self.start), dtype=bool)
        touches[:-1] = self.start[1:] == self.end[:-1] + 1
        self.fraction = touches & (self.after == _DOT)  # run "." run
        self.colon = touches & (self.after == _COLON)  # run ":" run
        self._gap_keys: np.ndarray | None = None
        self._gap_runs: np.ndarray | None = None
        self._long_gaps: dict[int, bytes] = {}

    def ints(self, runs: np.ndarray) -> np.ndarray:
        """Integer value of each run (as float; NaN for runs longer than the vector width)."""
        last = self.end[runs] - 1
        length = self.length[runs]
        out = self.buf[last].astype(np.int64) - 48
        for j in range(1, _VECTOR_DIGITS):
            more = np.flatnonzero(length > j)
            if len(more) == 0:
                break
            out[more] += (self.buf[last[more] - j].astype(np.int64) - 48) * 10**j
        value = out.astype(np.float64)
        value[(length > _VECTOR_DIGITS) | (length == 0)] = np.nan
        return value

    def numbers(self, runs: np.ndarray, with_fraction: np.ndarray) -> np.ndarray:
        """``float()`` of run ``k`` or of ``k.(k+1)`` where ``with_fraction``."""
        whole = self.ints(runs)
        frac_runs = runs + 1
        frac_len = np.where(with_fraction, self.length[frac_runs], 0)
        frac = np.where(with_fraction, self.ints(frac_runs), 0.0)
        scale = 10.0 ** frac_len.astype(np.float64)
        value = (whole * scale + frac) / scale
        digits = self.length[runs] + frac_len
        for i in np.flatnonzero(np.isnan(value) | (digits > _DIGITS_EXACT)):
            k = runs[i]
            stop = self.end[k + 1] if with_fraction[i] else self.end[k]
            value[i] = float(self.buf[self.start[k] : stop].tobytes())
        return value

    def gap_is(self, pattern: re.Pattern[bytes]) -> np.ndarray:
        """Whether the text between run ``k`` and run ``k + 1`` fully matches ``pattern``.

        The range patterns need a gap that starts with whitespace, "-" or "." and ends
        with whitespace or "-". Such gaps of one to five characters are packed into one
        integer each (length, then the bytes with whitespace as one space and letters in
        lower case) and compared against every string of that length the pattern
        matches; longer ones (rare: runs of whitespace) are matched one by one.
        """
        keys = self._gap_keys if self._gap_keys is not None else self._pack_gaps()
        out = np.zeros(len(self.start), dtype=bool)
        out[self._gap_runs] = np.isin(keys, _keys_of(pattern))
        for k, gap in self._long_gaps.items():
            out[k] = pattern.fullmatch(gap) is not None
        return out

    def _pack_gaps(self) -> np.ndarray:
        """Pack the gaps once (see :meth:`gap_is`); returns the short gaps' keys."""
        width = self.start[1:] - self.end[:-1]
        opens = _GAP_OPEN[self.after[:-1]] & _GAP_CLOSE[self.buf[self.start[1:] - 1]]
        short = np.flatnonzero(opens & (width <= 5))
        key = width[short].astype(np.uint64)
        for j in range(5):
            pos = np.minimum(self.end[short] + j, len(self.buf) - 1)
            byte = np.where(width[short] > j, _NORMAL[self.buf[pos]], 0)
            key |= byte.astype(np.uint64) << np.uint64(8 * (j + 1))
        self._gap_runs = short
        self._gap_keys = key
        # Longer gaps: only those whose first six characters could belong to a range gap.
        long = np.flatnonzero(opens & (width > 5))
        for j in range(6):
            long = long[_GAP_CHAR[self.buf[self.end[long] + j]]]
        for k in long:
            self._long_gaps[int(k)] = self.data[self.end[k] : self.start[k + 1]]
        return key


def _gap_key(gap: bytes) -> int:
    key = len(gap)
    for j, char in enumerate(gap):
        key |= char << (8 * (j + 1))
    return key


@cache
def _keys_of(pattern: re.Pattern[bytes]) -> np.ndarray:
    """Every gap of one to five characters from " -.to" that ``pattern`` fully matches."""
    found = [
        _gap_key(gap)
        for size in range(1, 6)
        for gap in map(bytes, product(b" -.to", repeat=size))
        if pattern.fullmatch(gap)
    ]
    return np.array(found, dtype=np.uint64)


# The gaps of the range rules, on text whose case is ignored (TimeLens lower-cases it).
# (\s of a bytes pattern lacks \x1c-\x1f, which \s of TimeLens' str patterns has.)
_S = rb"[ \t\n\x0b\x0c\r\x1c-\x1f]"
_GAP_DASH = re.compile(_S + rb"*-" + _S + rb"*")
_GAP_DOT_DASH = re.compile(rb"\." + _S + rb"*-" + _S + rb"*")
_GAP_TO = re.compile(_S + rb"+to" + _S + rb"+", re.IGNORECASE)
_GAP_DOT_TO = re.compile(rb"\." + _S + rb"+to" + _S + rb"+", re.IGNORECASE)


def _firsts(ok: np.ndarray, answer: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Per answer, the first run where ``ok`` holds (-1: none), and all such runs."""
    runs = np.flatnonzero(ok)
    owner = answer[runs]
    first = np.ones(len(runs), dtype=bool)
    first[1:] = owner[1:] != owner[:-1]
    out = np.full(m, -1, dtype=np.int64)
    out[owner[first]] = runs[first]
    return out, runs


def _second(
    first: np.ndarray, runs: np.ndarray, last: np.ndarray, answer: np.ndarray
) -> np.ndarray:
    """Per answer, the next ``runs`` entry after the run ``last[first]`` (-1: none)."""
    out = np.full(len(first), -1, dtype=np.int64)
    has = np.flatnonzero(first >= 0)
    if len(runs) == 0 or len(has) == 0:
        return out
    k = first[has]
    pos = np.searchsorted(runs, last[k], side="right")
    inside = pos < len(runs)
    nxt = runs[np.minimum(pos, len(runs) - 1)]
    same = inside & (answer[nxt] == answer[k])
    out[has[same]] = nxt[same]
    return out


def _range_ends(r: _Runs, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges starting at runs ``k``: the value ``\\d+\\.?\\d*`` and its last run."""
    frac = r.fraction[k]
    return r.numbers(k, frac), k + frac


def _ascii_first_spans(
    data: bytes,
    opens: np.ndarray,
    closes: np.ndarray | None = None,
    skip: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """First spans of the ASCII answers in ``data`` (answer ``i`` starts at ``opens[i]``).

    ``opens`` has one entry more than there are answers; ``closes`` and ``skip``: see
    :class:`_Runs`.
    """
    m = len(opens) - 1
    r = _Runs(data, opens, closes, skip)
    n = r.count
    start = np.full(m, np.nan)
    end = np.full(m, np.nan)
    if n == 0:
        return start, end
    k0, k1, k2, k3 = (slice(i, n + i) for i in range(4))
    idx = np.arange(n)

    # Rule 1: clock times, the first two.
    clock = (
        ~r.word_before[k0]
        & (r.length[k0] <= 2)
        & r.colon[k0]
        & (r.length[k1] == 2)
        & ~r.word_after[k1]
    )
    three = clock & r.colon[k1] & (r.length[k2] == 2) & ~r.word_after[k2]
    frac3 = three & r.fraction[k2] & ~r.word_after[k3]
    frac2 = ~three & r.fraction[k1] & ~r.word_after[k2]
    clock_last = idx + 1 + three + (frac3 | frac2)
    c1, clock_runs = _firsts(clock, r.answer, m)
    c2 = _second(c1, clock_runs, clock_last, r.answer)
    done = c2 >= 0
    if done.any():
        ks = np.concatenate([c1[done], c2[done]])
        seconds = r.numbers(ks + 1 + three[ks], np.where(three[ks], frac3[ks], frac2[ks]))
        head = r.ints(ks)
        mid = r.ints(ks + 1)
        whole = np.where(three[ks], head * 3600.0 + mid * 60.0, head * 60.0)
        values = whole + seconds
        half = int(done.sum())
        start[done], end[done] = values[:half], values[half:]

    # Rule 2: "a - b" ranges, then "a to b"; rule 3: the first two numbers.
    dot = r.after[k0] == _DOT
    frac = r.fraction[k0]
    for plain, dotted in ((_GAP_DASH, _GAP_DOT_DASH), (_GAP_TO, _GAP_DOT_TO)):
        gap = r.gap_is(plain)
        ok = np.where(frac, gap[k1], np.where(dot, r.gap_is(dotted)[k0], gap[k0]))
        first, _ = _firsts(ok, r.answer, m)
        take = (first >= 0) & ~done
        if take.any():
            k = first[take]
            a_value, a_last = _range_ends(r, k)
            b_value, _ = _range_ends(r, a_last + 1)
            start[take], end[take] = a_value, b_value
            done |= take

    number = ~r.word_before[k0] & ~r.word_after[k0]
    num_frac = r.fraction[k0] & ~r.word_after[k1]
    n1, number_runs = _firsts(number, r.answer, m)
    n2 = _second(n1, number_runs, idx + num_frac, r.answer)
    take = (n2 >= 0) & ~done
    if take.any():
        ks = np.concatenate([n1[take], n2[take]])
        values = r.numbers(ks, num_frac[ks])
        half = int(take.sum())
        start[take], end[take] = values[:half], values[half:]
    return start, end
