"""What ``leaderboard validate`` recomputes from a result's per-sample records.

Nothing a reader of the leaderboard sees is taken from a submission on trust:

* every record's ``sample_hash`` is recomputed from its own id, video, query, duration
  and GT (so a GT edited with the hash kept shows), and, with the benchmark loaded, those
  fields are compared with the benchmark's sample;
* every ``answer`` is parsed again with the project's parser under the recorded
  protocol (in the parse process, :mod:`timelens_eval.runner.parse_worker`, under a time cap):
  the status, the spans and the IoU against the GT must be what the record says;
* the summary is computed again from the records, in benchmark order, with the header's
  own bootstrap settings: every metric (only those the protocol defines), every CI,
  ``n``, ``n_videos`` and the parse counts must match.

Each function appends reasons (one line each) to a list and returns nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from timelens_eval.benchmarks.base import Benchmark, Sample
from timelens_eval.protocol import Protocol
from timelens_eval.spans import Span
from timelens_eval.store import MetricsSummary, RunResult, SampleRecord

__all__ = [
    "MAX_BOOTSTRAP",
    "protocol_metric_names",
    "check_metric_names",
    "check_record_fields",
    "check_answers",
    "check_summary",
]

MAX_BOOTSTRAP = 100_000
"""Most bootstrap draws the validator recomputes (a header may not ask for more)."""

_IOU_TOLERANCE = 1e-6
_SHOWN = 3


def _examples(ids: Sequence[str]) -> str:
    return ", ".join(sorted(ids)[:_SHOWN])


def _count(reasons: list[str], ids: list[str], what: str) -> None:
    if ids:
        records = "record" if len(ids) == 1 else "records"
        reasons.append(f"{what}: {len(ids)} {records} (e.g. {_examples(ids)})")


def protocol_metric_names(protocol: Protocol) -> list[str]:
    """Names of the metrics ``protocol`` defines (R1 at each threshold, then mIoU)."""
    from timelens_eval.metrics import protocol_metrics

    return [m.name for m in protocol_metrics(protocol)]


def check_metric_names(result: RunResult, reasons: list[str]) -> None:
    """Every metric in the header must be one the recorded protocol defines."""
    known = protocol_metric_names(result.spec.protocol)
    for name in result.summary.metrics:
        if name not in known:
            reasons.append(
                f"metric {name[:40]!r} is not defined by the protocol ({', '.join(known)})"
            )


def _sample_of(record: SampleRecord) -> Sample:
    gt = tuple(Span(float(a), float(b)) for a, b in record.gt)
    return Sample(record.sample_id, record.video_id, record.query, record.duration, gt)


def check_record_fields(
    records: Sequence[SampleRecord], bench: Benchmark | None, reasons: list[str]
) -> None:
    """Each record's hash against its own fields, and its fields against the benchmark."""
    _count(
        reasons,
        [r.sample_id for r in records if _sample_of(r).content_hash() != r.sample_hash],
        "sample_hash not given by the record's own id, video, query, duration and GT",
    )
    if bench is None:
        return
    expected = bench.by_id()
    differ: dict[str, list[str]] = {"GT": [], "duration": [], "query": [], "video": []}
    for record in records:
        sample = expected.get(record.sample_id)
        if sample is None:
            continue
        if [tuple(map(float, w)) for w in record.gt] != [tuple(map(float, w)) for w in sample.gt]:
            differ["GT"].append(record.sample_id)
        if float(record.duration) != float(sample.duration):
            differ["duration"].append(record.sample_id)
        if record.query != sample.query:
            differ["query"].append(record.sample_id)
        if record.video_id != sample.video_id:
            differ["video"].append(record.sample_id)
    for what, ids in differ.items():
        _count(reasons, ids, f"{what} differs from the benchmark")


def _same_spans(stored: Sequence[Sequence[float]], parsed: Sequence[Span]) -> bool:
    """The stored spans equal the parsed ones (all of them; or, should the parser give
    only the first, that one leads the stored list)."""
    got = [(float(a), float(b)) for a, b in stored]
    want = [(float(s.start), float(s.end)) for s in parsed]
    return got == want or (0 < len(want) < len(got) and got[: len(want)] == want)


def check_answers(
    records: Sequence[SampleRecord],
    protocol: Protocol,
    reasons: list[str],
    *,
    timeout: float,
) -> None:
    """Parse every answer again; status, spans and IoU must be what each record says.

    A failed request (status ``error``) must have IoU 0 and no spans. An answer that
    cannot be parsed within ``timeout`` seconds rejects the file (and stops the check).
    """
    from timelens_eval.metrics import score_parsed
    from timelens_eval.runner.parse_worker import ParserError, parse_answers

    bad_error = [r.sample_id for r in records if r.status == "error" and (r.iou or r.spans)]
    _count(reasons, bad_error, "a failed request (status error) with an IoU or spans")
    scored = [r for r in records if r.status != "error"]
    _count(reasons, [r.sample_id for r in scored if r.answer is None], "no answer to parse")
    scored = [r for r in scored if r.answer is not None]
    items = [(str(r.answer), float(r.duration)) for r in scored]
    try:
        parsed = parse_answers(items, protocol.parse, protocol.out_of_range_tolerance, timeout)
    except ParserError as exc:
        reasons.append(f"the answers could not be parsed again: {exc}")
        return
    status, spans, ious = [], [], []
    for record, answer in zip(scored, parsed, strict=True):
        if answer is None:
            reasons.append(
                f"the answer of {record.sample_id} could not be parsed again within {timeout:g} s"
            )
            return
        if record.status != answer.status.value:
            status.append(record.sample_id)
        if not _same_spans(record.spans, answer.spans):
            spans.append(record.sample_id)
        iou = score_parsed(answer, [tuple(w) for w in record.gt], protocol)
        if not abs(iou - record.iou) <= _IOU_TOLERANCE:
            ious.append(record.sample_id)
    _count(reasons, status, "status not given by the answer parsed again")
    _count(reasons, spans, "spans not given by the answer parsed again")
    _count(reasons, ious, "IoU not given by the answer and GT")


def _in_order(records: Sequence[SampleRecord], bench: Benchmark | None) -> list[SampleRecord]:
    """Records in benchmark order (as the runner summarises them)."""
    if bench is not None:
        position = {s.sample_id: i for i, s in enumerate(bench.samples)}
        last = len(position)
        return sorted(records, key=lambda r: (position.get(r.sample_id, last), r.sample_id))
    return sorted(records, key=lambda r: (r.meta.get("index", 0), r.sample_id))


def _differs(a: float | None, b: float | None, tolerance: float) -> bool:
    if a is None or b is None:
        return a is not b
    if math.isnan(a) or math.isnan(b):
        return not (math.isnan(a) and math.isnan(b))
    return abs(a - b) > tolerance


def _bootstrap_settings(summary: MetricsSummary, reasons: list[str]) -> tuple[int, int] | None:
    has_ci = any(m.ci_low is not None or m.ci_high is not None for m in summary.metrics.values())
    draws = summary.bootstrap_samples or 0
    if has_ci and draws <= 0:
        reasons.append("the metrics have CIs but summary.bootstrap_samples does not say how many")
        return None
    if draws > MAX_BOOTSTRAP:
        reasons.append(
            f"summary.bootstrap_samples = {draws} is more than the validator recomputes "
            f"({MAX_BOOTSTRAP})"
        )
        return None
    return draws, summary.bootstrap_seed or 0


def check_summary(
    result: RunResult,
    records: Sequence[SampleRecord],
    bench: Benchmark | None,
    tolerance: float,
    reasons: list[str],
) -> None:
    """The header's summary against the one its records give (same bootstrap settings)."""
    from timelens_eval.metrics import summarize

    header = result.summary
    settings = _bootstrap_settings(header, reasons)
    if settings is None:
        return
    draws, seed = settings
    ordered = _in_order(records, bench)
    level = header.ci_level if header.ci_level is not None else 0.95
    if not 0 < level < 1:
        reasons.append(f"summary.ci_level = {level} is not a level in (0, 1)")
        return
    try:
        again = summarize(
            [r.iou for r in ordered],
            [r.status for r in ordered],
            [r.video_id for r in ordered],
            result.spec.protocol,
            bootstrap=draws,
            seed=seed,
            ci_level=level,
        )
    except ValueError as exc:
        reasons.append(f"per-sample results cannot be aggregated: {exc}")
        return
    _compare_counts(header, again, reasons)
    for name, stated in header.metrics.items():
        if name not in again.metrics:
            continue  # reported by check_metric_names
        real = again.metrics[name]
        if _differs(stated.value, real.value, tolerance):
            reasons.append(
                f"tampered aggregate: {name} = {stated.value:.4g} but the per-sample results "
                f"give {real.value:.4g}"
            )
        for bound in ("ci_low", "ci_high"):
            given, wanted = getattr(stated, bound), getattr(real, bound)
            if given is not None and _differs(given, wanted, tolerance):
                reasons.append(
                    f"{name}.{bound} = {given:.4g} but the per-sample results give "
                    f"{_shown(wanted)} ({draws} bootstrap draws, seed {seed})"
                )
        if stated.params != real.params:
            reasons.append(f"{name}.params = {stated.params} but the protocol gives {real.params}")


def _shown(value: float | None) -> str:
    return "none" if value is None else f"{value:.4g}"


def _compare_counts(header: MetricsSummary, again: MetricsSummary, reasons: list[str]) -> None:
    if header.n != again.n:
        reasons.append(f"summary.n = {header.n} but the per-sample file gives {again.n}")
    fields: tuple[str, ...] = ("n_videos", "parse_failures", "reversed", "out_of_range", "errors")
    for field in fields:
        stated: Any = getattr(header, field)
        if stated is not None and stated != getattr(again, field):
            reasons.append(
                f"summary.{field} = {stated} but the per-sample file gives {getattr(again, field)}"
            )
    if header.ci_method is not None and header.ci_method != again.ci_method:
        reasons.append(
            f"summary.ci_method {header.ci_method[:60]!r} is not how the CIs were computed "
            f"({again.ci_method!r})"
        )
