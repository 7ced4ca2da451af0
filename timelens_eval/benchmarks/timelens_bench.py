"""TimeLens-Bench (refined benchmarks) and TimeLens-100K (training data).

* TimeLens-Bench JSON: ``{vid: {duration, spans: [[s, e], ...], queries: [...]}}``,
  one span per query. Sample ids are ``VID#k``.
* TimeLens-100K JSONL: one video a line, ``{video_path, duration, source,
  events: [{query, span}]}``; ``span`` is ``[s, e]`` or a list of such windows.
  Sample ids are ``VIDEO_PATH#k`` (k counts the video's events in file order, dropped
  ones included, so ids do not shift).

  Like TimeLens' training loader, which keeps an event only when one of its windows
  satisfies ``0 <= start <= end <= duration``, this loader drops what cannot be
  trained or scored on instead of refusing the file: a reversed window (start after
  end) or an empty one (start equal to end) is dropped, and an event left with no
  window (or given none) is dropped. ``notes`` counts each (``spans_reversed``,
  ``spans_empty``, ``events_dropped``), ``benchmarks info`` shows them, and
  ``strict=True`` (``--strict``) refuses the file at the first one instead. Unlike
  TimeLens, windows that end after the video are kept (counted in
  ``gt_beyond_duration``, as for every benchmark) and zero-length windows are dropped.

Queries are cleaned exactly as TimeLens cleans them (collapse whitespace, strip,
strip trailing and leading periods, strip), so that TimeLens-format prediction keys
match the samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from timelens_eval.benchmarks._io import (
    beyond as is_beyond,
)
from timelens_eval.benchmarks._io import (
    iter_jsonl,
    number,
    paired_items,
    positive_field,
    read_json,
    require,
    require_path,
    timelens_query,
    windows,
)
from timelens_eval.benchmarks.base import Benchmark, BenchmarkSpec, Sample
from timelens_eval.errors import InputError
from timelens_eval.spans import Span

__all__ = ["load_timelens_bench", "load_timelens_100k"]


def load_timelens_bench(spec: BenchmarkSpec, path: Path | None, **_: Any) -> Benchmark:
    """Load one TimeLens-Bench JSON file (Charades-, ActivityNet- or QVHighlights-TimeLens)."""
    path = require_path(path, f"{spec.title} annotation file")
    data = read_json(path)
    if not isinstance(data, dict):
        raise InputError("expected a JSON object {video_id: {...}}", path=path)
    samples: list[Sample] = []
    beyond = 0
    for vid, record in data.items():
        duration = positive_field(record, "duration", path=path, sample=vid)
        for sample_id, span, query in paired_items(
            record, "spans", "queries", "query", path=path, video=vid
        ):
            gt = windows(span, path=path, sample=sample_id)
            beyond += any(is_beyond(w.end, duration) for w in gt)
            samples.append(
                Sample(
                    sample_id=sample_id,
                    video_id=vid,
                    query=timelens_query(query),
                    duration=duration,
                    gt=gt,
                    video=f"{vid}.mp4",
                )
            )
    if not samples:
        raise InputError("no samples in file", path=path)
    return Benchmark.from_files(
        spec,
        samples,
        path,
        gt_beyond_duration=beyond,
        multi_window=sum(len(s.gt) > 1 for s in samples),
    )


def _event_windows(
    value: Any, *, path: Path, line: int, sample: str, strict: bool
) -> tuple[list[Span], int, int]:
    """An event's kept windows and how many were reversed and empty (module doc)."""
    if not isinstance(value, list):
        raise InputError(
            f"field 'span' must be [start, end] or a list of them, got {type(value).__name__}",
            path=path,
            line=line,
            sample=sample,
        )
    items = value if value and isinstance(value[0], (list, tuple)) else [value] if value else []
    kept: list[Span] = []
    reversed_ = empty = 0
    for item in items:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise InputError(
                f"a window must be [start, end], got {item!r}"[:120],
                path=path,
                line=line,
                sample=sample,
            )
        start = number(item[0], "start", path=path, line=line, sample=sample)
        end = number(item[1], "end", path=path, line=line, sample=sample)
        if start < end:
            kept.append(Span(start, end))
            continue
        what = "reversed (start after end)" if start > end else "empty (start equals end)"
        if strict:
            raise InputError(
                f"window [{start:g}, {end:g}] is {what}; without --strict it is dropped, "
                "as TimeLens' training loader drops it",
                path=path,
                line=line,
                sample=sample,
            )
        reversed_ += start > end
        empty += start == end
    if not items and strict:
        raise InputError("event has no window", path=path, line=line, sample=sample)
    return kept, reversed_, empty


def load_timelens_100k(
    spec: BenchmarkSpec, path: Path | None, *, strict: bool = False, **_: Any
) -> Benchmark:
    """Load the TimeLens-100K training JSONL (reversed and empty windows: module doc)."""
    path = require_path(path, "TimeLens-100K annotation file")
    samples: list[Sample] = []
    per_video: dict[str, int] = {}
    beyond = 0
    sources: dict[str, int] = {}
    dropped = {"spans_reversed": 0, "spans_empty": 0, "events_dropped": 0}
    for line, record in iter_jsonl(path):
        video_path = require(record, "video_path", str, path=path, line=line)
        duration = positive_field(record, "duration", path=path, line=line, sample=video_path)
        source = record.get("source")
        if source is not None and not isinstance(source, str):
            raise InputError("field 'source' must be str", path=path, line=line)
        events = require(record, "events", list, path=path, line=line, sample=video_path)
        for event in events:
            k = per_video.get(video_path, 0)
            per_video[video_path] = k + 1
            sample_id = f"{video_path}#{k}"
            query = require(event, "query", str, path=path, line=line, sample=sample_id)
            span = require(event, "span", list, path=path, line=line, sample=sample_id)
            gt, reversed_, empty = _event_windows(
                span, path=path, line=line, sample=sample_id, strict=strict
            )
            dropped["spans_reversed"] += reversed_
            dropped["spans_empty"] += empty
            if not gt:
                dropped["events_dropped"] += 1
                continue
            beyond += any(is_beyond(w.end, duration) for w in gt)
            sources[source or "unknown"] = sources.get(source or "unknown", 0) + 1
            samples.append(
                Sample(
                    sample_id=sample_id,
                    video_id=video_path,
                    query=timelens_query(query),
                    duration=duration,
                    gt=tuple(gt),
                    video=video_path,
                    meta={"source": source, "line": line},
                )
            )
    if not samples:
        raise InputError("no samples in file", path=path)
    return Benchmark.from_files(
        spec,
        samples,
        path,
        gt_beyond_duration=beyond,
        sources=sources,
        **dropped,  # type: ignore[arg-type]
    )
