"""The msgspec reader of plain TimeLens files: one small struct per value, the keys split
all at once. :mod:`._bytes` reads most plain files faster; this one takes the rest of the
plain shape."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import chain
from typing import Any

import numpy as np


@dataclass
class _Part:
    """The columns of one part of a file."""

    keys: Sequence[str]
    videos: Sequence[str]
    gt: np.ndarray
    pred: np.ndarray
    durations: np.ndarray
    answer_rows: np.ndarray
    clusters: tuple[np.ndarray, int] | None = None


@cache
def _decoders() -> tuple[Any, Any, Any]:
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
        msgspec.json.Decoder(list[value_type]),  # type: ignore[valid-type]
    )


_has_three_parts = operator.methodcaller("count", ">>>")


def _read_part(raw: bytes) -> _Part | None:
    """The columns of a JSON object of TimeLens entries, or None if it is not plain."""
    import msgspec

    decoder, pairs_decoder, _ = _decoders()
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
    columns = _value_columns(values)
    if columns is None:
        return None
    pred, durations, rows = columns
    return _Part(keys, parts[0::3], gt, pred, durations, rows)


def _value_columns(values: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Each value's first span, duration, and the rows whose span came from the answer.

    None when a value has neither ``timestamps`` nor ``answers`` or holds a number that
    is not finite.
    """
    from timelens_eval.parsing_batch import first_spans

    n = len(values)
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
    return pred, durations, rows
