"""The column reader of plain TimeLens ``.json`` files: :func:`read_timelens_columns`.

A file in the plain shape (keys ``video>>>query>>>[s, e]`` with a JSON pair, values with
``timestamps`` pairs and/or ``answers``, finite numbers) is read straight into arrays.
:mod:`._bytes` finds keys, GT and answers in the file's bytes and parses the answers where
they lie; what it declines (escaped keys, duplicate keys, Python-tuple GT, ...) goes to
:mod:`._msgspec` (one small struct per value), and what that declines to the general
reader of :mod:`timelens_eval.predictions`, which reports any error with its file and
sample.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from timelens_eval.errors import InputError
from timelens_eval.predictions_columns import _bytes
from timelens_eval.predictions_columns._bytes import _CLOSE, _OPEN, _ends, _read_bytes
from timelens_eval.predictions_columns._msgspec import _Part, _read_part
from timelens_eval.predictions_columns._pieces import (
    PROCESSES_ENV,
    Failed,
    cut_points,
    pieces_for,
    read_in_pieces,
)

__all__ = ["TimelensColumns", "read_timelens_columns"]


@dataclass
class TimelensColumns:
    """A TimeLens-format JSON file as arrays (the fast path of :func:`read_timelens_columns`).

    ``pred_start``/``pred_end`` hold each row's first span: the first ``timestamps`` pair,
    or for the rows without ``timestamps`` (``answer_rows``) the first span of the answer;
    NaN where there is none.
    """

    path: str
    keys: Sequence[str]
    videos: Sequence[str]
    gt_start: Any
    gt_end: Any
    pred_start: Any
    pred_end: Any
    durations: Any
    answer_rows: Any
    clusters: tuple[Any, int] | None = None
    """Each row's video code in first-seen order and the number of videos (None: not
    computed)."""


def read_timelens_columns(path: str | Path) -> TimelensColumns | None:
    """Read a TimeLens ``.json`` file straight into arrays, or None to use the full reader.

    Returns None whenever the file is not the plain shape (keys ``video>>>query>>>[s, e]``
    with a JSON pair, values with ``timestamps`` pairs and/or ``answers``, finite
    numbers): :func:`~timelens_eval.predictions.read_predictions` then reads it and
    reports any error with its file and sample. The answers without ``timestamps`` are
    parsed here, all at once.
    """
    from timelens_eval.json_limits import read_limits, read_regular_file

    path = Path(path)
    if path.suffix != ".json":
        return None
    enabled = gc.isenabled()
    gc.disable()
    huge_pages = _set_huge_pages(False)
    try:
        try:
            raw = read_regular_file(path, read_limits().file_bytes, what="the file", env="")
        except InputError:
            return None  # the full reader reports what is wrong
        part = _read_plain(raw)
        del raw
        return None if part is None else _columns(str(path), part)
    finally:
        _set_huge_pages(huge_pages)
        if enabled:
            gc.enable()


def _set_huge_pages(enabled: bool) -> bool:
    """Whether numpy asks the kernel for huge pages for large arrays; returns the
    previous setting.

    The reader's arrays live for a moment each. Where transparent huge pages are given
    on request (``madvise``, a common default), each first touch of a huge page may make
    the kernel compact memory first, and on a 133 MB file that cost more system time
    (0.4-0.8 s against 0.4-0.5 s, wall 1.8-2.2 s against 1.7-1.9 s) than the huge pages
    saved. (Not every numpy has the switch: then nothing changes.)
    """
    core = getattr(np, "_core", None) or getattr(np, "core", None)  # numpy 2 / numpy 1
    switch = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    return bool(switch(enabled)) if switch is not None else enabled


def _read_plain(raw: bytes) -> _Part | None:
    """The columns of ``raw`` from the byte reader (in pieces when the file is large and
    the compiled scanner is not there), else from the msgspec reader; None when neither
    reads it."""
    # The compiled scanner reads a large file in one process faster than the forks cost
    # (docs/performance.md); TIMELENS_EVAL_READ_PROCESSES still asks for pieces.
    if _bytes._scanner() is None or PROCESSES_ENV in os.environ:
        pieces = pieces_for(len(raw))
    else:
        pieces = 1
    if pieces > 1:
        buf = np.frombuffer(raw, dtype=np.uint8)
        head, end = _ends(buf)
        is_object = head < end and buf[head] == _OPEN and buf[end] == _CLOSE
        cuts = cut_points(raw, buf, head, end, pieces) if is_object else []
        if cuts:
            try:
                got = read_in_pieces(raw, head, end, cuts, _is_json_object)
            except Failed:
                pass  # read again below, in this process
            else:
                return got if isinstance(got, _Part) else _read_part(raw)
    part = _read_bytes(raw) if _is_json_object(raw) else None
    return _read_part(raw) if part is None else part


def _is_json_object(raw: bytes) -> bool:
    """Whether ``raw`` is valid JSON whose top level is an object (nothing is built)."""
    import msgspec

    try:
        msgspec.json.decode(raw, type=_Nothing())
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return False  # (skipping a deeply nested value recurses)
    return True


@cache
def _Nothing() -> Any:
    import msgspec

    return msgspec.defstruct("Nothing", [])


def _columns(path: str, p: _Part) -> TimelensColumns:
    return TimelensColumns(
        path=path,
        keys=p.keys,
        videos=p.videos,
        gt_start=p.gt[:, 0],
        gt_end=p.gt[:, 1],
        pred_start=p.pred[:, 0],
        pred_end=p.pred[:, 1],
        durations=p.durations,
        answer_rows=p.answer_rows,
        clusters=p.clusters,
    )
