"""Readers of other tools' prediction files, read as they are (no conversion step).

* ``timechat``: TimeChat's JSON after its own answer parser (any tool writing that shape),
  ``{id: {"timestamp": [[s, e]] or [], "query": ..., "vid": "X.mp4"}}``. The id is the
  sample's position in the benchmark's annotation order (0-based; for Charades-STA the
  line of ``charades_sta_test.txt``), checked against ``vid`` and ``query``.
* ``lmms-eval``: the ``samples_*.jsonl`` log lmms-eval writes with ``--log_samples``
  for its temporal-grounding tasks (``timelens_*``, ``temporal_grounding_*``). Each line
  holds, under each metric name, ``{"<video>>>><query>>>><gt>": "<answer text>"}`` (what
  the task's ``process_results`` returns); the raw answer is parsed with this project's
  parser, so the numbers follow the TimeLens protocol, not lmms-eval's own aggregate.
* ``csv``: a plain CSV with the header ``video,query,start,end`` (other columns are
  ignored); an empty ``start``/``end`` is an answer without a span.

TimeChat and CSV files carry no ground truth: they are scored against a benchmark and
matched to its samples by video and query. lmms-eval logs carry the ground truth in
their keys, like TimeLens files.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Any

from timelens_eval.benchmarks._io import finite, iter_jsonl, read_json
from timelens_eval.errors import InputError
from timelens_eval.predictions import FORMAT_HELP, PredictionFormat, PredictionSet, parse_gt_literal
from timelens_eval.spans import Span

__all__ = [
    "read_timechat",
    "read_lmms_samples",
    "read_csv_predictions",
    "lmms_entry",
    "detect_json_format",
]

CSV_COLUMNS = ("video", "query", "start", "end")
_FIRST_KEY = re.compile(r'\s*\{\s*"((?:[^"\\]|\\.)*)"')


def detect_json_format(path: Path) -> PredictionFormat:
    """``timelens`` or ``timechat`` from the first key (read from the file's start) or,
    when that key has no ``>>>``, from the first value."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16).decode("utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path=path) from None
    found = _FIRST_KEY.match(head)
    if found is None or ">>>" in found.group(1):
        return "timelens"  # also a list of one-key objects, or not JSON: its reader says why
    data = read_json(path)
    if isinstance(data, dict) and data:
        first = next(iter(data.values()))
        if (
            isinstance(first, dict)
            and "timestamp" in first
            and ("vid" in first or "query" in first)
        ):
            return "timechat"
        if any(">>>" in str(k) for k in data):
            return "timelens"
    raise InputError(
        "cannot tell the prediction format from the first record; " + FORMAT_HELP, path=path
    )


def _spans(value: Any, what: str, path: Path, sample: str) -> tuple[Span, ...]:
    """``[[s, e], ...]`` (extra items ignored) as spans; ``[]`` is no span."""
    if not isinstance(value, list):
        raise InputError(
            f"{what} must be a list of [start, end], got {type(value).__name__}",
            path=path,
            sample=sample,
        )
    out = []
    for item in value:
        if not isinstance(item, (list, tuple)) or len(item) < 2:
            raise InputError(f"{what} must hold [start, end] pairs", path=path, sample=sample)
        start = finite(item[0], f"{what} start", path=path, sample=sample)
        end = finite(item[1], f"{what} end", path=path, sample=sample)
        out.append(Span(start, end))
    return tuple(out)


def read_timechat(path: Path) -> PredictionSet:
    """Read a TimeChat-style ``{id: {timestamp, query, vid}}`` file."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise InputError(
            "expected a JSON object {id: {timestamp, query, vid}}, got " + type(data).__name__,
            path=path,
        )
    out = PredictionSet(path=str(path), format="timechat")  # type: ignore[arg-type]
    for ref, value in data.items():
        if not isinstance(value, dict):
            raise InputError("value must be an object", path=path, sample=ref)
        for key in ("timestamp", "query", "vid"):
            if key not in value:
                raise InputError(f"missing field {key!r}", path=path, sample=ref)
        if not isinstance(value["query"], str) or not isinstance(value["vid"], str):
            raise InputError("'query' and 'vid' must be strings", path=path, sample=ref)
        out.refs.append(ref)
        out.spans.append(_spans(value["timestamp"], "timestamp", path, ref))
        out.answers.append(None)
        out.videos.append(value["vid"])
        out.queries.append(value["query"])
        out.gt.append(None)
        out.durations.append(None)
        out.lines.append(None)
    if not out.refs:
        raise InputError("no predictions in file", path=path)
    return out


def lmms_entry(record: Any) -> tuple[str, str] | None:
    """The ``(key, answer)`` a temporal-grounding task logged in one samples line, or None.

    The task's ``process_results`` stores ``{"<video>>>><query>>>><gt>": answer}`` under
    each of its metric names; every metric holds the same entry.
    """
    if not isinstance(record, dict) or "doc_id" not in record:
        return None
    for name, value in record.items():
        if name in ("doc", "arguments", "target", "resps", "filtered_resps"):
            continue
        if isinstance(value, dict) and len(value) == 1:
            key, answer = next(iter(value.items()))
            if isinstance(key, str) and key.count(">>>") >= 2 and isinstance(answer, str):
                return key, answer
    return None


def read_lmms_samples(path: Path) -> PredictionSet:
    """Read an lmms-eval ``samples_<task>.jsonl`` log of a temporal-grounding task."""
    out = PredictionSet(path=str(path), format="lmms-eval")  # type: ignore[arg-type]
    seen: dict[str, int] = {}
    for line, record in iter_jsonl(path):
        entry = lmms_entry(record)
        if entry is None:
            raise InputError(
                "not an lmms-eval temporal-grounding sample: expected a 'doc_id' and a metric "
                "holding {'<video>>>><query>>>><gt>': answer} (tasks timelens_*, "
                "temporal_grounding_*)",
                path=path,
                line=line,
            )
        key, answer = entry
        video, _, rest = key.partition(">>>")
        query, _, gt_text = rest.rpartition(">>>")
        try:
            gt = parse_gt_literal(gt_text)
        except ValueError as exc:
            raise InputError(str(exc), path=path, line=line, sample=key) from None
        if key in seen:
            out.duplicates.append(key)
            index = seen[key]
            out.answers[index], out.lines[index] = answer, line
            continue
        seen[key] = len(out.refs)
        out.refs.append(key)
        out.answers.append(answer)
        out.spans.append(None)
        out.videos.append(video)
        out.queries.append(query)
        out.gt.append(gt)
        out.durations.append(None)
        out.lines.append(line)
    if not out.refs:
        raise InputError("no predictions in file", path=path)
    return out


def _csv_time(text: str, what: str, path: Path, line: int) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{what} {text!r} is not a number", path=path, line=line) from None
    if not math.isfinite(value):
        raise InputError(f"{what} must be finite, got {text}", path=path, line=line)
    return value


def read_csv_predictions(path: Path) -> PredictionSet:
    """Read a CSV ``video,query,start,end`` (a header line first)."""
    try:
        fh = open(path, encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path=path) from None
    out = PredictionSet(path=str(path), format="csv")  # type: ignore[arg-type]
    with fh:
        reader = csv.DictReader(fh)
        try:
            columns = [c.strip() for c in reader.fieldnames or []]
            if not set(CSV_COLUMNS) <= set(columns):
                raise InputError(
                    f"expected a CSV header with columns {','.join(CSV_COLUMNS)}", path=path, line=1
                )
            reader.fieldnames = columns
            for row in reader:
                line = reader.line_num
                if None in row.values() or None in row:
                    raise InputError("row has a different number of columns", path=path, line=line)
                start = _csv_time(row["start"], "start", path, line)
                end = _csv_time(row["end"], "end", path, line)
                if (start is None) != (end is None):
                    raise InputError("give both start and end, or neither", path=path, line=line)
                out.refs.append(f"line {line}")
                out.answers.append(None)
                out.spans.append(() if start is None else (Span(start, end),))  # type: ignore[arg-type]
                out.videos.append(row["video"])
                out.queries.append(row["query"])
                out.gt.append(None)
                out.durations.append(None)
                out.lines.append(line)
        except csv.Error as exc:
            raise InputError(f"not valid CSV ({exc})", path=path, line=reader.line_num) from None
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text ({exc.reason})", path=path) from None
    if not out.refs:
        raise InputError("no predictions in file", path=path)
    return out
