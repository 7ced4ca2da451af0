"""Readers of prediction files, into one columnar :class:`PredictionSet`.

Formats:

* ``timelens``: TimeLens' JSON (one object) or JSONL (one object a line, merged),
  keyed ``"video>>>query>>>[start, end]"`` with values ``{"timestamps": [[s, e], ...]}``
  (already-parsed spans, used as they are, as TimeLens does) or ``{"answers": "..."}``
  (raw text, parsed). The ground truth is read from the key by a small parser of the
  shapes ``[s, e]``, ``(s, e)`` and ``[[s, e], ...]``: nothing in a file is ever executed
  or evaluated, and anything else is refused. A key seen twice keeps its last value (as
  TimeLens' ``dict.update`` does) and is reported as a duplicate.
* ``moment-detr``: JSONL ``{"qid", "vid", "query", "pred_relevant_windows": [[s, e,
  score], ...]}``; the first window (the top-1) is scored.
* ``jsonl``: the project's own JSONL, ``{"sample_id": ..., "answer": "..."}`` or
  ``{"sample_id": ..., "spans": [[s, e], ...]}``.
* ``timechat``, ``lmms-eval``, ``csv``: other tools' files, read by
  :mod:`timelens_eval.predictions_tools`.
"""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from timelens_eval.benchmarks._io import finite
from timelens_eval.errors import ConfigError, InputError
from timelens_eval.predictions_columns import TimelensColumns, read_timelens_columns
from timelens_eval.spans import Span

__all__ = [
    "PredictionFormat",
    "PredictionSet",
    "FORMATS",
    "FORMAT_HELP",
    "detect_format",
    "read_predictions",
    "parse_gt_literal",
    "TimelensColumns",
    "read_timelens_columns",
]

PredictionFormat = Literal["timelens", "moment-detr", "jsonl", "timechat", "lmms-eval", "csv"]
FORMATS: tuple[str, ...] = ("timelens", "timechat", "lmms-eval", "moment-detr", "jsonl", "csv")

FORMAT_HELP = (
    "score reads timelens ({'video>>>query>>>[s, e]': {'timestamps'|'answers'}}), "
    "timechat ({id: {'timestamp', 'query', 'vid'}}), lmms-eval (samples_*.jsonl of the "
    "timelens_* and temporal_grounding_* tasks), moment-detr (JSONL with 'qid' and "
    "'pred_relevant_windows'), jsonl (JSONL with 'sample_id' and 'answer' or 'spans') and "
    "csv (header video,query,start,end); pass --format " + "|".join(FORMATS)
)
"""One line naming every format ``score`` reads and the ``--format`` names."""

# Ground truth in a TimeLens key: a Python/JSON literal of plain numbers.
_GT_NUM = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_WS = r"[ \t\n\r\f\v]*"
_GT_PAIR = re.compile(
    rf"{_WS}(?:\[{_WS}({_GT_NUM}){_WS},{_WS}({_GT_NUM}){_WS},?{_WS}\]"
    rf"|\({_WS}({_GT_NUM}){_WS},{_WS}({_GT_NUM}){_WS},?{_WS}\)){_WS}"
)
_GT_TOKEN = re.compile(rf"{_WS}(?:([\[\](),])|({_GT_NUM}))")
_GT_MAX_CHARS = 10_000
_GT_MAX_NUMBER = 40  # characters in one number


@dataclass
class PredictionSet:
    """Predictions of one file, column by column (index ``i`` is one prediction).

    ``spans[i]`` holds already-parsed spans (TimeLens ``timestamps``, moment_detr
    windows, ``spans``) or None; ``answers[i]`` the raw text or None. ``gt``,
    ``videos``, ``queries`` and ``durations`` are filled where the format carries them.
    """

    path: str
    format: PredictionFormat
    refs: list[str] = field(default_factory=list)
    """Sample reference: the sample id (jsonl), the qid (moment-detr) or the key (timelens)."""
    answers: list[str | None] = field(default_factory=list)
    spans: list[tuple[Span, ...] | None] = field(default_factory=list)
    videos: list[str | None] = field(default_factory=list)
    queries: list[str | None] = field(default_factory=list)
    gt: list[tuple[Span, ...] | None] = field(default_factory=list)
    durations: list[float | None] = field(default_factory=list)
    lines: list[int | None] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    """References seen more than once (the last one is kept)."""

    def __len__(self) -> int:
        return len(self.refs)


def key_label(key: str) -> str:
    """A key as it is named in an error: itself, or its shortened repr when it is long or
    not printable on one line."""
    return key if len(key) <= 200 and key.isprintable() else _short(key)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _span_list(
    value: Any, what: str, path: str, line: int | None, sample: str | None, min_len: int = 2
) -> tuple[Span, ...]:
    """A list of ``[s, e, ...]`` items (extra items, e.g. scores, are ignored)."""
    if not isinstance(value, list):
        raise InputError(
            f"{what} must be a list of [start, end], got {type(value).__name__}",
            path=path,
            line=line,
            sample=sample,
        )
    out = []
    for item in value:
        if not isinstance(item, (list, tuple)) or len(item) < min_len:
            raise InputError(
                f"{what} must hold [start, end] pairs, got {_short(item)}",
                path=path,
                line=line,
                sample=sample,
            )
        out.append(
            Span(
                finite(item[0], f"{what} start", path=path, line=line, sample=sample),
                finite(item[1], f"{what} end", path=path, line=line, sample=sample),
            )
        )
    return tuple(out)


def _gt_number(text: str, literal: str) -> float:
    if len(text) > _GT_MAX_NUMBER:
        raise ValueError(f"ground truth {_short(literal)} holds a number of {len(text)} characters")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"ground truth {_short(literal)} must hold finite numbers")
    return value


def parse_gt_literal(text: str) -> tuple[Span, ...]:
    """Ground truth written as a literal: ``[s, e]``, ``(s, e)`` or ``[[s, e], ...]``.

    Numbers are plain decimal literals (optional sign, fraction and exponent). Anything
    else (a scalar, a dict, a set, a string, a window of three numbers, an empty list,
    more than 10,000 characters or a number of more than 40) raises ``ValueError``; no
    text is ever evaluated.
    """
    if len(text) > _GT_MAX_CHARS:
        raise ValueError(f"ground truth of {len(text)} characters is too long")
    found = _GT_PAIR.fullmatch(text)
    if found:
        first, second = found.group(1, 2) if found.group(1) is not None else found.group(3, 4)
        return (Span(_gt_number(first, text), _gt_number(second, text)),)
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        token = _GT_TOKEN.match(text, pos)
        if token is None:
            if text[pos:].strip():
                raise ValueError(f"ground truth {_short(text)} is not a literal [start, end]")
            break
        tokens.append(token.group(1) or token.group(2))
        pos = token.end()
    spans = _gt_windows(tokens, text)
    if spans is None:
        raise ValueError(f"ground truth {_short(text)} is not [start, end] or [[start, end], ...]")
    return spans


_CLOSE = {"[": "]", "(": ")"}


def _is_number(token: str) -> bool:
    return token not in "[](),"


def _gt_pair(tokens: list[str], pos: int, text: str) -> tuple[Span, int] | None:
    """``OPEN num , num [,] CLOSE`` at ``pos``: the window and the position after it."""
    window = tokens[pos : pos + 6]
    if len(window) < 5 or window[0] not in _CLOSE or window[2] != ",":
        return None
    if not (_is_number(window[1]) and _is_number(window[3])):
        return None
    close = 4 if window[4] != "," else 5
    if close >= len(window) or window[close] != _CLOSE[window[0]]:
        return None
    return Span(_gt_number(window[1], text), _gt_number(window[3], text)), pos + close + 1


def _gt_windows(tokens: list[str], text: str) -> tuple[Span, ...] | None:
    """``OPEN pair (, pair)* [,] CLOSE`` over ``tokens``, or None for any other shape."""
    if len(tokens) < 2 or tokens[0] not in _CLOSE or tokens[-1] != _CLOSE[tokens[0]]:
        return None
    last = len(tokens) - 1
    windows = []
    pos = 1
    while True:
        found = _gt_pair(tokens, pos, text)
        if found is None:
            return None
        window, pos = found
        windows.append(window)
        if pos < last and tokens[pos] == ",":
            pos += 1
        if pos == last:
            return tuple(windows)
        if tokens[pos - 1] != ",":
            return None


def _load_json(path: Path, duplicates: list[str] | None = None) -> Any:
    """A whole JSON file within the reader limits (:mod:`timelens_eval.json_limits`);
    NaN/Infinity rejected. Keys given twice in the top-level object are appended to
    ``duplicates`` (a TimeLens key is ``video>>>query>>>gt``: more ``>>>`` than two per
    key means a key may repeat, and only then is the file parsed a second time to name
    them)."""
    from timelens_eval.json_limits import (
        decode_utf8,
        loads,
        read_limits,
        read_regular_file,
    )

    limits = read_limits()
    raw = read_regular_file(
        path, limits.file_bytes, what="the file", env="TIMELENS_EVAL_MAX_FILE_MB"
    )
    text = decode_utf8(raw, path=path)
    del raw
    checks: dict[str, Any] = {"limits": limits, "check_depth": False, "check_numbers": False}
    data = loads(text, path=path, check_keys=False, **checks)
    if duplicates is not None and isinstance(data, dict) and text.count(">>>") > 2 * len(data):
        found: list[str] = []
        loads(text, path=path, duplicates=found, **checks)
        duplicates.extend(k for k in found if k in data)
    return data


def _iter_jsonl(path: Path, duplicates: list[str] | None = None) -> Iterator[tuple[int, Any]]:
    """Each line within the reader limits; a key twice in one object is an error, or
    is appended to ``duplicates`` when a list is passed."""
    from timelens_eval.json_limits import iter_jsonl

    return iter_jsonl(path, duplicates=duplicates)


def detect_format(path: str | Path) -> PredictionFormat:
    """Guess the format from the extension and the first record."""
    from timelens_eval.json_limits import decode_utf8, iter_jsonl_lines, loads

    path = Path(path)
    if path.suffix == ".json":
        from timelens_eval.predictions_tools import detect_json_format

        return detect_json_format(path)
    if path.suffix == ".csv":
        return "csv"
    number, first = 1, ""
    for number, raw in iter_jsonl_lines(path):
        first = decode_utf8(raw, path=path, line=number)
        if first.strip():
            break
    if not first.strip():
        raise InputError("empty prediction file", path=path)
    header = [c.strip() for c in first.split(",")]
    if {"video", "query", "start", "end"} <= set(header):
        return "csv"
    record = loads(first, path=path, line=number)
    if isinstance(record, dict):
        from timelens_eval.predictions_tools import lmms_entry

        if "sample_id" in record:
            return "jsonl"
        if "pred_relevant_windows" in record:
            return "moment-detr"
        if lmms_entry(record) is not None:
            return "lmms-eval"
        if any(">>>" in str(k) for k in record):
            return "timelens"
    raise InputError(
        "cannot tell the prediction format from the first record; " + FORMAT_HELP,
        path=path,
        line=number,
    )


def read_predictions(path: str | Path, format: str | None = None) -> PredictionSet:
    """Read a prediction file of ``format`` (detected when None)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("prediction file not found", path=path)
    from timelens_eval import predictions_tools as tools

    fmt = format or detect_format(path)
    readers = {
        "timelens": _read_timelens,
        "moment-detr": _read_moment_detr,
        "jsonl": _read_own_jsonl,
        "timechat": tools.read_timechat,
        "lmms-eval": tools.read_lmms_samples,
        "csv": tools.read_csv_predictions,
    }
    if fmt not in readers:
        raise ConfigError(f"unknown prediction format {fmt!r}; use one of {', '.join(FORMATS)}")
    # Millions of small containers: the cyclic GC would rescan them over and over.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return readers[fmt](path)
    finally:
        if enabled:
            gc.enable()


def _timelens_entries(path: Path) -> tuple[dict[str, Any], dict[str, int], list[str]]:
    """Merged ``{key: value}``, the line of each key (JSONL only) and duplicate keys."""
    lines: dict[str, int] = {}
    duplicates: list[str] = []
    if path.suffix == ".jsonl":
        merged: dict[str, Any] = {}
        for number, record in _iter_jsonl(path, duplicates):
            if not isinstance(record, dict):
                raise InputError(
                    f"each line must be a JSON object, got {type(record).__name__}",
                    path=path,
                    line=number,
                )
            for key, value in record.items():
                if key in merged:
                    duplicates.append(key)
                merged[key] = value
                lines[key] = number
        return merged, lines, duplicates
    data = _load_json(path, duplicates)
    if isinstance(data, list):  # a list of one-key objects (nncore's dump of a list)
        merged = {}
        for index, record in enumerate(data):
            if not isinstance(record, dict):
                raise InputError(
                    f"item {index} must be a JSON object, got {type(record).__name__}", path=path
                )
            for key, value in record.items():
                if key in merged:
                    duplicates.append(key)
                merged[key] = value
        return merged, lines, duplicates
    if not isinstance(data, dict):
        raise InputError(
            f"expected a JSON object of 'video>>>query>>>[s, e]' keys, got {type(data).__name__}",
            path=path,
        )
    return data, lines, duplicates


def _read_timelens(path: Path) -> PredictionSet:
    entries, key_lines, duplicates = _timelens_entries(path)
    out = PredictionSet(path=str(path), format="timelens", duplicates=duplicates)
    spath = str(path)
    for key, value in entries.items():
        line = key_lines.get(key)
        parts = key.split(">>>")
        if len(parts) != 3:
            raise InputError(
                "key must be 'video>>>query>>>[start, end]'",
                path=spath,
                line=line,
                sample=key_label(key),
            )
        video, query, gt_text = parts
        try:
            gt = parse_gt_literal(gt_text)
        except ValueError as exc:
            raise InputError(str(exc), path=spath, line=line, sample=key_label(key)) from None
        if type(value) is not dict:
            raise InputError(
                f"value must be an object with 'timestamps' or 'answers', got "
                f"{type(value).__name__}",
                path=spath,
                line=line,
                sample=key,
            )
        stamps = value.get("timestamps")
        answer = value.get("answers")
        if answer is not None and not isinstance(answer, str):
            raise InputError("'answers' must be a string", path=spath, line=line, sample=key)
        if stamps is not None:
            # Fast path for the usual single [s, e] pair of plain numbers.
            if (
                type(stamps) is list
                and len(stamps) == 1
                and type(stamps[0]) is list
                and len(stamps[0]) == 2
                and type(stamps[0][0]) in (int, float)
                and type(stamps[0][1]) in (int, float)
                and math.isfinite(stamps[0][0])
                and math.isfinite(stamps[0][1])
            ):
                spans: tuple[Span, ...] | None = (Span(float(stamps[0][0]), float(stamps[0][1])),)
            else:
                spans = _span_list(stamps, "timestamps", spath, line, key)
        elif answer is None:
            raise InputError(
                "value has neither 'timestamps' nor 'answers'", path=spath, line=line, sample=key
            )
        else:
            spans = None
        duration = value.get("duration")
        if duration is not None:
            duration = finite(duration, "duration", path=spath, line=line, sample=key)
        out.refs.append(key)
        out.answers.append(answer)
        out.spans.append(spans)
        out.videos.append(video)
        out.queries.append(query)
        out.gt.append(gt)
        out.durations.append(duration)
        out.lines.append(line)
    return out


def _add_unique(out: PredictionSet, seen: dict[str, int], ref: str) -> int | None:
    """Index of an earlier prediction with ``ref`` (to overwrite), else None."""
    if ref in seen:
        out.duplicates.append(ref)
        return seen[ref]
    seen[ref] = len(out.refs)
    return None


def _store(out: PredictionSet, index: int | None, values: dict[str, Any]) -> None:
    columns = ("refs", "answers", "spans", "videos", "queries", "gt", "durations", "lines")
    for column in columns:
        target = getattr(out, column)
        if index is None:
            target.append(values.get(column))
        else:
            target[index] = values.get(column)


def _read_moment_detr(path: Path) -> PredictionSet:
    out = PredictionSet(path=str(path), format="moment-detr")
    seen: dict[str, int] = {}
    spath = str(path)
    for line, record in _iter_jsonl(path):
        if not isinstance(record, dict):
            raise InputError("each line must be a JSON object", path=spath, line=line)
        if "qid" not in record:
            raise InputError("missing field 'qid'", path=spath, line=line)
        qid = record["qid"]
        if isinstance(qid, bool) or not isinstance(qid, (int, str)):
            raise InputError("field 'qid' must be int or str", path=spath, line=line)
        ref = str(qid)
        if "pred_relevant_windows" not in record:
            raise InputError(
                "missing field 'pred_relevant_windows'", path=spath, line=line, sample=ref
            )
        spans = _span_list(
            record["pred_relevant_windows"], "pred_relevant_windows", spath, line, ref
        )
        vid, query = record.get("vid"), record.get("query")
        index = _add_unique(out, seen, ref)
        _store(
            out,
            index,
            {
                "refs": ref,
                "spans": spans,
                "lines": line,
                "videos": vid if isinstance(vid, str) else None,
                "queries": query if isinstance(query, str) else None,
            },
        )
    if not out.refs:
        raise InputError("no predictions in file", path=path)
    return out


def _read_own_jsonl(path: Path) -> PredictionSet:
    out = PredictionSet(path=str(path), format="jsonl")
    seen: dict[str, int] = {}
    spath = str(path)
    for line, record in _iter_jsonl(path):
        if not isinstance(record, dict):
            raise InputError("each line must be a JSON object", path=spath, line=line)
        sample_id = record.get("sample_id")
        if isinstance(sample_id, bool) or not isinstance(sample_id, (str, int)):
            raise InputError("field 'sample_id' must be a string", path=spath, line=line)
        ref = str(sample_id)
        answer, spans = record.get("answer"), None
        if "spans" in record and record["spans"] is not None:
            spans = _span_list(record["spans"], "spans", spath, line, ref)
        elif "answer" not in record:
            raise InputError("need 'answer' or 'spans'", path=spath, line=line, sample=ref)
        if answer is not None and not isinstance(answer, str):
            raise InputError("'answer' must be a string or null", path=spath, line=line, sample=ref)
        index = _add_unique(out, seen, ref)
        _store(out, index, {"refs": ref, "answers": answer, "spans": spans, "lines": line})
    if not out.refs:
        raise InputError("no predictions in file", path=path)
    return out
