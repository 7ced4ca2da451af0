"""Score a prediction file: match predictions to samples, parse, IoU, metrics with CIs.

Rules (see ``docs/protocol.md``):

* Already-parsed spans (TimeLens ``timestamps``, moment_detr windows, ``spans``) are
  used as they are under the default protocol, as TimeLens' script does. With a
  non-default parse option and a raw answer at hand, the answer is parsed again.
* The first span is scored, against the GT window it overlaps best.
* With a benchmark, every benchmark sample is scored: a sample without a prediction
  counts as IoU 0 (status ``error``) and is reported as missing; predictions for no
  sample are reported as extra and not scored; a prediction given twice keeps its
  last value. ``strict=True`` turns any of the three into an error;
  ``matched_only=True`` scores the samples that have a prediction alone (recorded in
  the result), e.g. a tool's published subset.
* Predictions find their samples by id (``jsonl``, ``moment-detr``), by position in the
  annotation order checked against video and query (``timechat``), or by video and
  query, the ground truth settling ties (``timelens``, ``lmms-eval``, ``csv``).
* Without a benchmark (TimeLens and lmms-eval files, whose keys carry the GT), the GT
  comes from each key and the denominator is the number of distinct keys, exactly as
  in TimeLens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from timelens_eval.benchmarks._io import timelens_query
from timelens_eval.benchmarks.base import Benchmark
from timelens_eval.errors import ConfigError, InputError
from timelens_eval.metrics import (
    ERROR_STATUS,
    STATUS_VALUES,
    CIMethod,
    summarize,
    video_clusters,
)
from timelens_eval.parsing import (
    ParseStatus,
    apply_span_options,
    first_span,
    parse_spans,
    status_masks,
)
from timelens_eval.predictions import (
    PredictionSet,
    TimelensColumns,
    read_predictions,
    read_timelens_columns,
)
from timelens_eval.protocol import TIMELENS_PROTOCOL, ParseOptions, Protocol
from timelens_eval.spans import Span, best_window_iou, iou_arrays
from timelens_eval.store import MetricsSummary

__all__ = [
    "Coverage",
    "ScoreResult",
    "score_predictions",
    "score_timelens_columns",
    "score_file",
]

_CODE = {value: code for code, value in enumerate(STATUS_VALUES)}
_KEYED_GT = ("timelens", "lmms-eval")
"""Formats whose records carry the ground truth (TimeLens-style keys)."""
_DEFAULT_PARSE = ParseOptions()
_SHOWN = 20


@dataclass
class Coverage:
    """How the predictions cover the benchmark."""

    expected: int | None
    """Benchmark samples (None without a benchmark)."""
    matched: int
    missing: list[str] = field(default_factory=list)
    """Sample ids with no prediction."""
    extra: list[str] = field(default_factory=list)
    """Prediction references that match no sample."""
    duplicates: list[str] = field(default_factory=list)
    """References given more than once (last kept)."""

    @property
    def complete(self) -> bool:
        """No missing, extra or duplicate predictions."""
        return not (self.missing or self.extra or self.duplicates)

    def to_dict(self) -> dict[str, Any]:
        """Counts plus the first few ids of each kind."""
        return {
            "expected": self.expected,
            "matched": self.matched,
            "missing": len(self.missing),
            "extra": len(self.extra),
            "duplicates": len(self.duplicates),
            "missing_ids": self.missing[:_SHOWN],
            "extra_ids": self.extra[:_SHOWN],
            "duplicate_ids": self.duplicates[:_SHOWN],
        }


@dataclass
class ScoreResult:
    """Metrics of one prediction file, the coverage and the per-sample outcome."""

    summary: MetricsSummary
    coverage: Coverage
    protocol: Protocol
    predictions: str
    format: str
    benchmark: str | None = None
    benchmark_hash: str | None = None
    sample_ids: Sequence[str] = field(default_factory=list)
    ious: np.ndarray = field(default_factory=lambda: np.zeros(0))
    status_codes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    """Per-sample status as an index into :data:`~timelens_eval.metrics.STATUS_VALUES`."""

    @property
    def statuses(self) -> list[str]:
        """Per-sample status: a :class:`ParseStatus` value or ``"error"``."""
        return np.array(STATUS_VALUES)[self.status_codes].tolist()

    matched_only: bool = False
    """Only the samples with a prediction were scored (missing ones are not in ``n``)."""
    format_detected: bool | None = None
    """True when the format was detected from the file, False when given (None: unknown)."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` object: metrics in percent, CIs, counts, coverage, protocol."""
        metrics = self.summary.metrics
        out: dict[str, Any] = {name: metrics[name].value for name in metrics}
        out["n"] = self.summary.n
        out["n_videos"] = self.summary.n_videos
        out["parse_failures"] = self.summary.parse_failures
        out["reversed"] = self.summary.reversed
        out["out_of_range"] = self.summary.out_of_range
        out["missing_scored_zero"] = self.summary.errors
        out["ci"] = {
            name: None if m.ci_low is None else [m.ci_low, m.ci_high] for name, m in metrics.items()
        }
        out["ci_level"] = self.summary.ci_level
        out["ci_method"] = self.summary.ci_method
        out["bootstrap"] = self.summary.bootstrap_samples
        out["seed"] = self.summary.bootstrap_seed
        out["coverage"] = self.coverage.to_dict()
        out["predictions"] = self.predictions
        out["format"] = self.format
        out["format_detected"] = self.format_detected
        out["matched_only"] = self.matched_only
        out["benchmark"] = self.benchmark
        out["benchmark_hash"] = self.benchmark_hash
        out["protocol"] = self.protocol.model_dump(mode="json")
        return out


@dataclass
class _Rows:
    """Aligned columns of what is scored."""

    sample_ids: list[str] = field(default_factory=list)
    video_ids: list[str] = field(default_factory=list)
    gt: list[tuple[Span, ...]] = field(default_factory=list)
    durations: list[float | None] = field(default_factory=list)
    pred: list[int | None] = field(default_factory=list)
    """Index into the PredictionSet, or None for a missing prediction."""


def _sample_key(video: str, query: str) -> tuple[str, str]:
    return Path(video).stem, timelens_query(query)


def _match_timelens(preds: PredictionSet, bench: Benchmark) -> dict[int, int]:
    """Prediction index -> sample index, by (video stem, cleaned query), then by GT."""
    index: dict[tuple[str, str], list[int]] = {}
    for i, sample in enumerate(bench.samples):
        for video in {sample.video_id, sample.video or sample.video_id}:
            index.setdefault(_sample_key(video, sample.query), []).append(i)
    taken: set[int] = set()
    out: dict[int, int] = {}
    for p, (pred_video, query) in enumerate(zip(preds.videos, preds.queries, strict=True)):
        candidates = index.get(_sample_key(pred_video or "", query or ""), [])
        candidates = [c for c in dict.fromkeys(candidates) if c not in taken]
        windows = preds.gt[p]
        if len(candidates) > 1 and windows:
            gt = windows[0]
            close = [
                c
                for c in candidates
                if abs(bench.samples[c].gt[0].start - gt.start) < 1e-3
                and abs(bench.samples[c].gt[0].end - gt.end) < 1e-3
            ]
            candidates = close or candidates
        if candidates:
            out[p] = candidates[0]
            taken.add(candidates[0])
    return out


def _match_positions(preds: PredictionSet, bench: Benchmark) -> dict[int, int]:
    """TimeChat-style ids: the sample at that position of the annotation order, when its
    video and query agree; a record whose id does not fit is matched by video and query."""
    out: dict[int, int] = {}
    taken: set[int] = set()
    keys = [
        {_sample_key(v, s.query) for v in (s.video_id, s.video or s.video_id)}
        for s in bench.samples
    ]
    rest = []
    for p, ref in enumerate(preds.refs):
        key = _sample_key(preds.videos[p] or "", preds.queries[p] or "")
        i = int(ref) if ref.isdigit() else None
        if i is not None and i < len(keys) and i not in taken and key in keys[i]:
            out[p] = i
            taken.add(i)
        else:
            rest.append((p, key))
    index: dict[tuple[str, str], list[int]] = {}
    for i, sample_keys in enumerate(keys):
        for key in sample_keys:
            index.setdefault(key, []).append(i)
    for p, key in rest:
        free = [i for i in index.get(key, []) if i not in taken]
        if free:
            out[p] = free[0]
            taken.add(free[0])
    return out


def _match_ids(preds: PredictionSet, bench: Benchmark) -> dict[int, int]:
    by_id = {s.sample_id: i for i, s in enumerate(bench.samples)}
    out = {p: by_id[ref] for p, ref in enumerate(preds.refs) if ref in by_id}
    if not out and preds.format == "moment-detr":  # no qid in the benchmark: (vid, query)
        by_query = {_sample_key(s.video_id, s.query): i for i, s in enumerate(bench.samples)}
        for p, (video, query) in enumerate(zip(preds.videos, preds.queries, strict=True)):
            hit = by_query.get(_sample_key(video or "", query or ""))
            if hit is not None:
                out[p] = hit
    return out


def _match(preds: PredictionSet, bench: Benchmark) -> dict[int, int]:
    """Prediction index -> sample index, the way ``preds.format`` identifies samples."""
    if preds.format in ("timelens", "lmms-eval", "csv"):
        return _match_timelens(preds, bench)
    if preds.format == "timechat":
        return _match_positions(preds, bench)
    return _match_ids(preds, bench)


def _rows_with_benchmark(
    preds: PredictionSet, bench: Benchmark, matched_only: bool
) -> tuple[_Rows, Coverage]:
    matched = _match(preds, bench)
    by_sample = {s: p for p, s in matched.items()}
    rows = _Rows()
    missing = []
    for i, sample in enumerate(bench.samples):
        if matched_only and i not in by_sample:
            missing.append(sample.sample_id)
            continue
        rows.sample_ids.append(sample.sample_id)
        rows.video_ids.append(sample.video_id)
        rows.gt.append(sample.gt)
        rows.durations.append(sample.duration)
        p = by_sample.get(i)
        rows.pred.append(p)
        if p is None:
            missing.append(sample.sample_id)
    extra = [preds.refs[p] for p in range(len(preds)) if p not in matched]
    coverage = Coverage(
        expected=len(bench.samples),
        matched=len(matched),
        missing=missing,
        extra=extra,
        duplicates=list(preds.duplicates),
    )
    return rows, coverage


def _rows_from_keys(preds: PredictionSet) -> tuple[_Rows, Coverage]:
    if preds.format not in _KEYED_GT:
        raise ConfigError(
            f"{preds.format} predictions carry no ground truth; pass --benchmark NAME "
            "--annotations FILE"
        )
    rows = _Rows()
    for p, ref in enumerate(preds.refs):
        gt = preds.gt[p]
        for window in gt or ():
            if window.start < 0 or window.start > window.end:
                raise InputError(
                    f"ground truth {window} must have 0 <= start <= end",
                    path=preds.path,
                    line=preds.lines[p],
                    sample=ref,
                )
        rows.sample_ids.append(ref)
        rows.video_ids.append(preds.videos[p] or "")
        rows.gt.append(gt or ())
        rows.durations.append(preds.durations[p])
        rows.pred.append(p)
    coverage = Coverage(expected=None, matched=len(rows.pred), duplicates=list(preds.duplicates))
    return rows, coverage


def _top_spans(
    preds: PredictionSet, rows: _Rows, protocol: Protocol
) -> tuple[np.ndarray, np.ndarray]:
    """First span of each row (NaN when there is none)."""
    n = len(rows.pred)
    start = np.full(n, np.nan)
    end = np.full(n, np.nan)
    options = protocol.parse
    default = options == _DEFAULT_PARSE
    for r, p in enumerate(rows.pred):
        if p is None:
            continue
        spans = preds.spans[p]
        answer = preds.answers[p]
        if spans is None and default:
            top = first_span(answer)
            spans = () if top is None else (top,)
        elif spans is None or (not default and answer):
            spans = parse_spans(
                answer,
                duration=rows.durations[r],
                options=options,
                max_spans=1,  # only the first span is scored; the status is set below
            ).spans
        elif not default:
            spans = tuple(apply_span_options(spans, rows.durations[r], options))
        if spans:
            start[r], end[r] = spans[0]
    return start, end


def _statuses(rows: _Rows, start: np.ndarray, end: np.ndarray, protocol: Protocol) -> np.ndarray:
    """The parser's status of every row (``parsing.status_masks``), ``error`` where the
    sample has no prediction."""
    duration = np.array(rows.durations, dtype=np.float64)  # None (unknown) becomes NaN
    no_span, reversed_, outside = status_masks(
        start, end, duration, protocol.out_of_range_tolerance
    )
    status = np.full(len(start), ParseStatus.OK.value, dtype=object)
    status[no_span] = ParseStatus.NO_SPAN.value
    status[reversed_] = ParseStatus.REVERSED.value
    status[outside] = ParseStatus.OUT_OF_RANGE.value
    missing = np.array([p is None for p in rows.pred])
    status[missing] = ERROR_STATUS
    return status


def _ious(rows: _Rows, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """IoU of each row's scored span against its GT, the window it overlaps best where
    there are several. No span (NaN) and a reversed span score 0: ``spans.iou_arrays`` and
    ``spans.temporal_iou`` return 0 unless start < end and the spans overlap, and their
    result is finite for any finite GT."""
    single = np.array([len(g) == 1 for g in rows.gt])
    gs = np.array([g[0].start if len(g) == 1 else np.nan for g in rows.gt])
    ge = np.array([g[0].end if len(g) == 1 else np.nan for g in rows.gt])
    ious = iou_arrays(start, end, gs, ge)
    for r in np.flatnonzero(~single):
        ious[r] = best_window_iou((start[r], end[r]), rows.gt[r])
    return ious


def score_predictions(
    preds: PredictionSet,
    benchmark: Benchmark | None = None,
    protocol: Protocol = TIMELENS_PROTOCOL,
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    strict: bool = False,
    ci: CIMethod = "auto",
    matched_only: bool = False,
) -> ScoreResult:
    """Score ``preds`` against ``benchmark`` (or the GT in TimeLens keys).

    ``matched_only`` scores the samples that have a prediction alone (needs a benchmark).
    """
    if benchmark is None:
        if matched_only:
            raise ConfigError("--matched-only needs --benchmark NAME")
        rows, coverage = _rows_from_keys(preds)
    else:
        rows, coverage = _rows_with_benchmark(preds, benchmark, matched_only)
    if strict and not coverage.complete:
        parts = []
        for label, ids in (
            ("missing", coverage.missing),
            ("extra", coverage.extra),
            ("duplicate", coverage.duplicates),
        ):
            if ids:
                parts.append(f"{len(ids)} {label} (first: {ids[0]!r})")
        raise InputError(
            "incomplete predictions under --strict: " + ", ".join(parts), path=preds.path
        )
    if not rows.pred:
        raise InputError("nothing to score", path=preds.path)
    start, end = _top_spans(preds, rows, protocol)
    status = _statuses(rows, start, end, protocol)
    ious = _ious(rows, start, end)
    summary = summarize(
        ious, status, rows.video_ids, protocol, bootstrap=bootstrap, seed=seed, ci=ci
    )
    return ScoreResult(
        summary=summary,
        coverage=coverage,
        protocol=protocol,
        predictions=preds.path,
        format=preds.format,
        benchmark=benchmark.name if benchmark is not None else None,
        benchmark_hash=benchmark.content_hash if benchmark is not None else None,
        sample_ids=rows.sample_ids,
        ious=ious,
        status_codes=np.fromiter(map(_CODE.__getitem__, status), np.int8, len(status)),
        matched_only=matched_only,
    )


def score_timelens_columns(
    cols: TimelensColumns,
    protocol: Protocol = TIMELENS_PROTOCOL,
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    ci: CIMethod = "auto",
) -> ScoreResult:
    """Score a TimeLens file read by :func:`read_timelens_columns` (GT from the keys).

    Vectorised: the same rules as :func:`score_predictions` with the default parse
    options (the reader has parsed the answers without ``timestamps`` with
    :func:`~timelens_eval.parsing_batch.first_spans`).
    """
    if protocol.parse != _DEFAULT_PARSE:
        raise ConfigError("the column path only serves the default parse options")
    start = cols.pred_start
    end = cols.pred_end
    no_span, reversed_, outside = status_masks(
        start, end, cols.durations, protocol.out_of_range_tolerance
    )
    ious = iou_arrays(start, end, cols.gt_start, cols.gt_end)  # 0 for no span or reversed
    status = np.zeros(len(start), dtype=np.int8)  # codes into STATUS_VALUES
    status[no_span] = STATUS_VALUES.index(ParseStatus.NO_SPAN.value)
    status[reversed_] = STATUS_VALUES.index(ParseStatus.REVERSED.value)
    status[outside] = STATUS_VALUES.index(ParseStatus.OUT_OF_RANGE.value)
    summary = summarize(
        ious,
        status,
        cols.videos,
        protocol,
        bootstrap=bootstrap,
        seed=seed,
        ci=ci,
        clusters=cols.clusters if cols.clusters is not None else video_clusters(cols.videos),
    )
    return ScoreResult(
        summary=summary,
        coverage=Coverage(expected=None, matched=len(cols.keys)),
        protocol=protocol,
        predictions=cols.path,
        format="timelens",
        sample_ids=cols.keys,
        ious=ious,
        status_codes=status,
    )


def score_file(
    path: str | Path,
    benchmark: Benchmark | None = None,
    protocol: Protocol = TIMELENS_PROTOCOL,
    *,
    format: str | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    strict: bool = False,
    ci: CIMethod = "auto",
    matched_only: bool = False,
) -> ScoreResult:
    """Read and score a prediction file; large TimeLens files take the column path.

    ``format`` None detects it; the result says which format was read and whether it
    was detected.
    """
    if (
        benchmark is None
        and format in (None, "timelens")
        and protocol.parse == _DEFAULT_PARSE
        and Path(path).suffix == ".json"
    ):
        cols = read_timelens_columns(path)
        if cols is not None:
            result = score_timelens_columns(cols, protocol, bootstrap=bootstrap, seed=seed, ci=ci)
            result.format_detected = format is None
            return result
    preds = read_predictions(path, format)
    result = score_predictions(
        preds,
        benchmark,
        protocol,
        bootstrap=bootstrap,
        seed=seed,
        strict=strict,
        matched_only=matched_only,
        ci=ci,
    )
    result.format_detected = format is None
    return result
