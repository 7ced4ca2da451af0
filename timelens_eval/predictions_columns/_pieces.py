"""A large plain file read in pieces, one process per piece: :func:`read_in_pieces`.

The file is cut at commas between top-level entries, and each piece is read by
:func:`._bytes._read_piece` in a process of its own (forked, so the file's bytes are
shared and nothing is sent to it), the first one in this process while it also checks
that the file is valid JSON. The pieces' columns come back through pipes and are joined
in order, so the result is the one :func:`._bytes._read_bytes` gives for the whole file.
Where a piece is declined, the file goes to the msgspec reader, as it would have; where a
process fails, the whole file is read again in this process.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from timelens_eval.errors import ConfigError
from timelens_eval.predictions_columns._bytes import (
    _BACKSLASH,
    _QUOTE,
    _WS,
    _escaped,
    _join,
    _Piece,
    _read_piece,
)
from timelens_eval.predictions_columns._msgspec import _Part

PROCESSES_ENV = "TIMELENS_EVAL_READ_PROCESSES"
MIN_PIECE_BYTES = 16 << 20  # smaller pieces gain less than a process costs
MAX_PIECES = 8
FIRST_PIECE_LESS = 0.02  # of the file: checking that it is JSON costs about that much reading


class Failed(Exception):
    """A piece's process did not deliver its columns (the caller reads the file itself)."""


def pieces_for(size: int, environ: Mapping[str, str] | None = None) -> int:
    """How many pieces a file of ``size`` bytes is read in: one per usable CPU (or
    ``TIMELENS_EVAL_READ_PROCESSES``), at most 8, each at least 16 MiB; 1 but on Linux."""
    env = os.environ if environ is None else environ
    text = env.get(PROCESSES_ENV, "").strip()
    if text:
        try:
            wanted = int(text)
        except ValueError:
            wanted = 0
        if wanted < 1:
            raise ConfigError(f"{PROCESSES_ENV}={text!r}: expected a whole number of at least 1")
    else:
        wanted = _usable_cpus()
    if not sys.platform.startswith("linux"):  # forking a process that uses numpy: Linux only
        return 1
    return max(1, min(wanted, MAX_PIECES, size // MIN_PIECE_BYTES))


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def cut_points(raw: bytes, buf: np.ndarray, head: int, end: int, pieces: int) -> list[int]:
    """Commas between top-level entries that split ``buf[head : end + 1]`` into up to
    ``pieces`` parts of about the same size (fewer where no such comma is found).

    A cut is a ``}`` and a ``,`` outside any string (an even number of unescaped quotes
    before it), followed (blanks aside) by the quote of the next key. Such a comma is
    between two members of some object; if that object is not the top level, the piece
    readers decline (a value holding an object is not the plain shape).
    """
    cuts: list[int] = []
    counted = head  # unescaped quotes in buf[head:counted] ...
    quotes = 0  # ... are this many
    escapes = raw.find(b"\\", head, end) >= 0
    # The first piece is read by the process that also checks the whole file's JSON.
    span = end - head
    first = max(span // pieces - int(span * FIRST_PIECE_LESS), 0)
    for i in range(1, pieces):
        target = head + first + (span - first) * (i - 1) // (pieces - 1)
        pos = max(target, cuts[-1] + 1 if cuts else head)
        while True:
            pos = raw.find(b"},", pos, end)
            if pos < 0:
                return cuts
            quotes += _unescaped_quotes(buf, counted, pos, escapes)
            counted = pos
            after = pos + 2
            while after < end and _WS[buf[after]]:
                after += 1
            if quotes % 2 == 0 and buf[after] == _QUOTE:
                cuts.append(pos + 1)
                break
            pos += 1
    return cuts


def _unescaped_quotes(buf: np.ndarray, lo: int, hi: int, escapes: bool) -> int:
    """The number of quotes in ``buf[lo:hi]`` that are not escaped."""
    part = buf[lo:hi]
    quotes = int(np.count_nonzero(part == _QUOTE))
    if escapes and hi > lo:
        # Escaped quotes follow a backslash: only those quotes are looked at.
        after = np.flatnonzero(part == _BACKSLASH) + (lo + 1)
        after = after[after < hi]
        after = after[buf[after] == _QUOTE]
        quotes -= int(np.count_nonzero(_escaped(buf, after)))
    return quotes


def read_in_pieces(
    raw: bytes, head: int, end: int, cuts: Sequence[int], is_json: Callable[[bytes], bool]
) -> _Part | None | bool:
    """The columns of the plain file ``raw`` read in pieces (``buf[head]`` its ``{``,
    ``buf[end]`` its ``}``, ``cuts`` from :func:`cut_points`).

    Returns the columns; None where a piece is declined (the msgspec reader takes the
    file); False where ``is_json(raw)`` says the file is not a JSON object. Raises
    :class:`Failed` where a process fails.
    """
    buf = np.frombuffer(raw, dtype=np.uint8)
    bounds = [head, *cuts, end]
    children: list[tuple[int, int]] = []  # (pid, read end of its pipe)
    try:
        for lo, hi in zip(bounds[1:-1], bounds[2:], strict=True):
            children.append(_start(raw, buf, lo, hi))
        if not is_json(raw):
            return False
        first = _read_piece(raw, buf, bounds[0], bounds[1])
        results: list[_Piece | None] = []
        while children:
            results.append(_collect(children.pop(0)))
    finally:
        for pid, fd in children:  # only when this process stops early
            _stop(pid, fd)
    if first is None or any(piece is None for piece in results):
        return None
    return _join(raw, buf, [first, *results])  # type: ignore[list-item]  # (no None left)


def _start(raw: bytes, buf: np.ndarray, lo: int, hi: int) -> tuple[int, int]:
    """Fork a process that reads the piece ``lo``-``hi`` and writes its columns to a pipe."""
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError as error:  # no process to be had (memory, limits)
        os.close(read_fd)
        os.close(write_fd)
        raise Failed(f"no reading process: {error}") from error
    if pid == 0:  # the child: never returns
        status = 1
        try:
            os.close(read_fd)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            piece = _read_piece(raw, buf, lo, hi)
            with os.fdopen(write_fd, "wb") as out:
                pickle.dump(piece, out, protocol=pickle.HIGHEST_PROTOCOL)
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    return pid, read_fd


def _collect(child: tuple[int, int]) -> _Piece | None:
    """A child's columns (None: it declined its piece); :class:`Failed` if it failed.
    The child is waited for (or stopped) whatever happens."""
    pid, fd = child
    try:
        with os.fdopen(fd, "rb") as stream:
            data = stream.read()
    except BaseException:
        _stop(pid, None)
        raise
    _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        raise Failed(f"a reading process ended with status {status}")
    try:
        piece = pickle.loads(data)  # noqa: S301 (written by our own fork, never read from disk)
    except (pickle.UnpicklingError, EOFError, ValueError) as error:
        raise Failed(f"a reading process sent a broken reply: {error}") from error
    if piece is not None and not isinstance(piece, _Piece):
        raise Failed("a reading process sent something else")
    return piece


def _stop(pid: int, fd: int | None) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if fd is not None:
        os.close(fd)
    os.waitpid(pid, 0)
