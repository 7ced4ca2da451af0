"""The column reader of plain TimeLens ``.json`` files: :func:`read_timelens_columns`.

A file in the plain shape (keys ``video>>>query>>>[s, e]`` with a JSON pair, values with
``timestamps`` pairs and/or ``answers``, finite numbers) is read straight into arrays:
msgspec decodes it into one small struct per value, the keys are split all at once, and
the answers without ``timestamps`` are parsed together by
:func:`~timelens_eval.parsing_batch.first_spans`.
"""

from __future__ import annotations

import gc
import operator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from timelens_eval.errors import InputError

__all__ = ["TimelensColumns", "read_timelens_columns"]


@dataclass
class TimelensColumns:
    """A TimeLens-format JSON file as arrays (the fast path of :func:`read_timelens_columns`).

    ``pred_start``/``pred_end`` hold each row's first span: the first ``timestamps`` pair,
    or for the rows without ``timestamps`` (``answer_rows``) the first span of the answer;
    NaN where there is none.
    """

    path: str
    keys: list[str]
    videos: list[str]
    gt_start: Any
    gt_end: Any
    pred_start: Any
    pred_end: Any
    durations: Any
    answer_rows: Any


@dataclass
class _Part:
    """The columns of one part of a file."""

    keys: list[str]
    videos: list[str]
    gt: np.ndarray
    pred: np.ndarray
    durations: np.ndarray
    answer_rows: np.ndarray


def _decoders() -> tuple[Any, Any]:
    import msgspec

    value_type = msgspec.defstruct(
        "TimelensValue",
        [
            ("timestamps", list[tuple[float, float]] | None, None),
            ("answers", str | None, None),
            ("duration", float, float("nan")),
        ],
        gc=False,
    )
    return (
        msgspec.json.Decoder(dict[str, value_type]),  # type: ignore[valid-type]
        msgspec.json.Decoder(list[tuple[float, float]]),
    )


_has_three_parts = operator.methodcaller("count", ">>>")


def _read_part(raw: bytes) -> _Part | None:
    """The columns of a JSON object of TimeLens entries, or None if it is not plain."""
    import msgspec

    from timelens_eval.parsing_batch import first_spans

    decoder, pairs_decoder = _decoders()
    try:
        data = decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None  # the full reader reports what is wrong
    n = len(data)
    if n == 0 or raw.count(b">>>") > 2 * n:
        return None  # a key may be repeated: the full reader names duplicates
    keys = list(data)
    # One split of all keys gives each key's parts when no key has more or fewer than
    # two separators and no ">" touches a separator (which could shift a split).
    joined = ">>>".join(keys)
    if ">>>>" in joined or list(map(_has_three_parts, keys)).count(2) != n:
        return None
    parts = joined.split(">>>")
    del joined
    try:
        gt_list = pairs_decoder.decode("[" + ",".join(parts[2::3]) + "]")
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None  # Python literals such as (1.0, 7.5): the full reader handles them
    if len(gt_list) != n:
        return None
    gt = np.fromiter(chain.from_iterable(gt_list), np.float64, 2 * n).reshape(n, 2)
    del gt_list
    if not np.isfinite(gt).all() or (gt[:, 0] < 0).any() or (gt[:, 0] > gt[:, 1]).any():
        return None
    values = list(data.values())
    del data
    stamps = list(map(operator.attrgetter("timestamps"), values))
    answer_rows = [i for i, s in enumerate(stamps) if s is None]
    answers = [values[i].answers for i in answer_rows]
    if None in answers:
        return None
    pred = np.full((n, 2), np.nan)
    spanned = [i for i, s in enumerate(stamps) if s]
    if spanned:
        firsts = chain.from_iterable(stamps[i][0] for i in spanned)
        pred[spanned] = np.fromiter(firsts, np.float64, 2 * len(spanned)).reshape(-1, 2)
        if not np.isfinite(pred[spanned]).all():
            return None
    for i in spanned:  # rare: several spans, each must be finite
        if len(stamps[i]) > 1 and not np.isfinite(stamps[i]).all():
            return None
    durations = np.fromiter(map(operator.attrgetter("duration"), values), np.float64, n)
    if np.isinf(durations).any():
        return None
    rows = np.array(answer_rows, dtype=np.intp)
    if len(rows):
        pred[rows, 0], pred[rows, 1] = first_spans(answers)
    return _Part(keys, parts[0::3], gt, pred, durations, rows)


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
    try:
        try:
            raw = read_regular_file(path, read_limits().file_bytes, what="the file", env="")
        except InputError:
            return None  # the full reader reports what is wrong
        part = _read_part(raw)
        del raw
        return None if part is None else _columns(str(path), part)
    finally:
        if enabled:
            gc.enable()


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
    )
