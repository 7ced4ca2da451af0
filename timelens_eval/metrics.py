"""Metrics (in percent) with confidence intervals, and a paired test of two prediction sets.

* ``R1@t``: share of samples whose scored span has IoU >= t (inclusive threshold).
* ``mIoU``: mean IoU; unparsed answers count as 0 under the default protocol.

Confidence intervals come from a percentile bootstrap that resamples **videos**, not
queries: queries of one video are correlated, and resampling them independently
gives intervals that are too narrow. Every bootstrap is seeded and reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from timelens_eval.parsing import ParsedAnswer, ParseStatus, parse_spans
from timelens_eval.protocol import TIMELENS_PROTOCOL, Protocol
from timelens_eval.spans import Span, best_window_iou
from timelens_eval.store import MetricsSummary, MetricValue

__all__ = [
    "Metric",
    "recall_at_iou",
    "mean_iou",
    "protocol_metrics",
    "score_parsed",
    "score_answer",
    "summarize",
    "cluster_bootstrap",
    "PairedTest",
    "paired_test",
    "ERROR_STATUS",
]

ERROR_STATUS = "error"
"""Status of a sample whose request failed for good (scored as IoU 0, counted apart)."""

_UNPARSED = {ParseStatus.NO_SPAN.value, ERROR_STATUS}

# Replicates x clusters processed at once by the bootstrap (bounds its memory).
_BOOTSTRAP_BLOCK_CELLS = 4_000_000


@dataclass(frozen=True)
class Metric:
    """A metric: a name, the arguments it was made with, and a per-sample contribution.

    The metric's value is ``100 * mean(contribution(ious))``.
    """

    name: str
    params: dict[str, float] = field(default_factory=dict)
    contribution: Callable[[np.ndarray], np.ndarray] = field(default=lambda x: x, repr=False)

    def __call__(self, ious: np.ndarray) -> float:
        ious = np.asarray(ious, dtype=np.float64)
        if ious.size == 0:
            return float("nan")
        return float(np.mean(self.contribution(ious)) * 100.0)


def recall_at_iou(threshold: float) -> Metric:
    """``R1@threshold``: a hit when the top-1 span's IoU >= threshold."""
    t = float(threshold)
    return Metric(f"R1@{t:g}", {"threshold": t}, lambda ious: (ious >= t).astype(np.float64))


def mean_iou() -> Metric:
    """``mIoU``: the mean IoU of the top-1 spans."""
    return Metric("mIoU", {}, lambda ious: ious)


def protocol_metrics(protocol: Protocol = TIMELENS_PROTOCOL) -> list[Metric]:
    """R1 at each of the protocol's thresholds, then mIoU."""
    return [recall_at_iou(t) for t in protocol.thresholds] + [mean_iou()]


def score_parsed(
    parsed: ParsedAnswer,
    gt: Sequence[Sequence[float]],
    protocol: Protocol = TIMELENS_PROTOCOL,
) -> float:
    """IoU of the scored span against the best-matching GT window; 0 if none or reversed."""
    top = parsed.top
    if top is None or parsed.status is ParseStatus.REVERSED:
        return 0.0
    return best_window_iou(top, gt)


class ScoredAnswer(NamedTuple):
    parsed: ParsedAnswer
    iou: float


def score_answer(
    text: str | None,
    gt: Sequence[Sequence[float]],
    duration: float | None = None,
    protocol: Protocol = TIMELENS_PROTOCOL,
) -> ScoredAnswer:
    """Parse ``text`` under ``protocol`` and score it against ``gt``."""
    parsed = parse_spans(
        text,
        duration=duration,
        options=protocol.parse,
        out_of_range_tolerance=protocol.out_of_range_tolerance,
    )
    return ScoredAnswer(parsed, score_parsed(parsed, gt, protocol))


def _status_values(statuses: Iterable[Any]) -> np.ndarray:
    # ParseStatus is a str enum, so its members compare equal to their values.
    if isinstance(statuses, np.ndarray):
        return statuses.astype(object, copy=False)
    return np.array(list(statuses), dtype=object)


def _clusters(video_ids: Sequence[str]) -> tuple[np.ndarray, int]:
    """Integer code of each sample's video (first-seen order) and the number of videos."""
    codes: dict[str, int] = {}
    inverse = np.fromiter(
        (codes.setdefault(v, len(codes)) for v in video_ids), dtype=np.intp, count=len(video_ids)
    )
    return inverse, len(codes)


def cluster_bootstrap(
    contributions: np.ndarray,
    video_ids: Sequence[str],
    *,
    replicates: int = 1000,
    seed: int = 0,
) -> np.ndarray:
    """Bootstrap replicates of ``100 * mean`` for each column, resampling videos.

    ``contributions`` is ``n_samples x n_metrics``; returns ``replicates x n_metrics``.
    Each replicate draws as many videos as there are, with replacement, and takes all
    their samples.
    """
    contributions = np.asarray(contributions, dtype=np.float64)
    if contributions.ndim == 1:
        contributions = contributions[:, None]
    inverse, k = _clusters(video_ids)
    if k == 0:
        return np.full((replicates, contributions.shape[1]), np.nan)
    sums = np.stack(
        [np.bincount(inverse, weights=col, minlength=k) for col in contributions.T], axis=1
    )
    counts = np.bincount(inverse, minlength=k).astype(np.float64)
    rng = np.random.default_rng(seed)
    out = np.empty((replicates, contributions.shape[1]))
    block = max(1, _BOOTSTRAP_BLOCK_CELLS // k)
    for start in range(0, replicates, block):
        stop = min(replicates, start + block)
        idx = rng.integers(0, k, size=(stop - start, k))
        # Sum of sampled clusters' sums over sum of their sizes, via per-replicate weights.
        rows = stop - start
        flat = (np.arange(rows)[:, None] * k + idx).reshape(-1)
        weights = np.bincount(flat, minlength=rows * k).reshape(rows, k).astype(np.float64)
        out[start:stop] = (weights @ sums) / (weights @ counts)[:, None] * 100.0
    return out


def summarize(
    ious: Sequence[float] | np.ndarray,
    statuses: Sequence[Any],
    video_ids: Sequence[str],
    protocol: Protocol = TIMELENS_PROTOCOL,
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> MetricsSummary:
    """Aggregate per-sample IoUs into the protocol's metrics with bootstrap CIs.

    ``statuses`` are :class:`ParseStatus` values (or their strings) or ``"error"``.
    ``bootstrap=0`` skips the confidence intervals.
    """
    ious = np.asarray(ious, dtype=np.float64)
    status = _status_values(statuses)
    vids = np.asarray(video_ids, dtype=object)
    if not (len(ious) == len(status) == len(vids)):
        raise ValueError("ious, statuses and video_ids must have the same length")
    if np.any(~np.isfinite(ious)) or np.any((ious < 0) | (ious > 1)):
        raise ValueError("IoUs must be finite numbers in [0, 1]")

    counts = {
        "parse_failures": int(np.sum(status == ParseStatus.NO_SPAN.value)),
        "reversed": int(np.sum(status == ParseStatus.REVERSED.value)),
        "out_of_range": int(np.sum(status == ParseStatus.OUT_OF_RANGE.value)),
        "errors": int(np.sum(status == ERROR_STATUS)),
    }
    keep = np.ones(len(ious), dtype=bool)
    if protocol.unparsed == "exclude":
        keep = ~np.isin(status, list(_UNPARSED))
    ious, vids = ious[keep], vids[keep]

    metrics = protocol_metrics(protocol)
    contributions = (
        np.stack([m.contribution(ious) for m in metrics], axis=1)
        if len(ious)
        else np.zeros((0, len(metrics)))
    )
    lows = highs = [None] * len(metrics)
    if bootstrap > 0 and len(ious):
        reps = cluster_bootstrap(contributions, list(vids), replicates=bootstrap, seed=seed)
        alpha = (1.0 - ci_level) / 2.0
        lows = list(np.quantile(reps, alpha, axis=0))
        highs = list(np.quantile(reps, 1.0 - alpha, axis=0))
    values = {}
    for i, metric in enumerate(metrics):
        value = float(np.mean(contributions[:, i]) * 100.0) if len(ious) else float("nan")
        values[metric.name] = MetricValue(
            value=value,
            ci_low=None if lows[i] is None else float(lows[i]),
            ci_high=None if highs[i] is None else float(highs[i]),
            params=metric.params,
        )
    return MetricsSummary(
        n=int(len(ious)),
        n_videos=_clusters(vids)[1],
        metrics=values,
        ci_level=ci_level if bootstrap > 0 else None,
        bootstrap_samples=bootstrap if bootstrap > 0 else None,
        bootstrap_seed=seed if bootstrap > 0 else None,
        ci_method="percentile bootstrap over videos" if bootstrap > 0 else None,
        **counts,
    )


@dataclass(frozen=True)
class PairedTest:
    """Difference ``a - b`` of one metric on the same samples, with CI and p-value."""

    metric: str
    a: float
    b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    n_videos: int
    method: str = "video-level sign-flip permutation test; percentile bootstrap CI over videos"


def _metric_by_name(name: str | Metric) -> Metric:
    if isinstance(name, Metric):
        return name
    if name == "mIoU":
        return mean_iou()
    if name.startswith("R1@"):
        return recall_at_iou(float(name[3:]))
    raise ValueError(f"unknown metric {name!r}; use 'R1@<threshold>' or 'mIoU'")


def paired_test(
    ious_a: Sequence[float] | np.ndarray,
    ious_b: Sequence[float] | np.ndarray,
    video_ids: Sequence[str],
    metric: str | Metric = "R1@0.5",
    *,
    bootstrap: int = 2000,
    permutations: int = 10000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> PairedTest:
    """Compare two prediction sets scored on the same samples (aligned arrays).

    The CI resamples videos (both sets together); the p-value comes from flipping,
    video by video, which set each video's results belong to (two-sided).
    """
    a = np.asarray(ious_a, dtype=np.float64)
    b = np.asarray(ious_b, dtype=np.float64)
    if a.shape != b.shape or len(a) != len(video_ids):
        raise ValueError("paired_test needs aligned arrays of the same samples")
    m = _metric_by_name(metric)
    ca, cb = m.contribution(a), m.contribution(b)
    diff = ca - cb
    reps = cluster_bootstrap(diff, video_ids, replicates=bootstrap, seed=seed)[:, 0]
    alpha = (1.0 - ci_level) / 2.0

    inverse, k = _clusters(video_ids)
    per_video = np.bincount(inverse, weights=diff, minlength=k)
    observed = per_video.sum() / len(diff)
    rng = np.random.default_rng(seed + 1)
    extreme = 0
    block = max(1, _BOOTSTRAP_BLOCK_CELLS // max(k, 1))
    for start in range(0, permutations, block):
        rows = min(block, permutations - start)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(rows, k))
        stats = signs @ per_video / len(diff)
        extreme += int(np.sum(np.abs(stats) >= abs(observed) - 1e-12))
    p_value = (extreme + 1) / (permutations + 1)
    return PairedTest(
        metric=m.name,
        a=m(a),
        b=m(b),
        difference=float(observed * 100.0),
        ci_low=float(np.quantile(reps, alpha)),
        ci_high=float(np.quantile(reps, 1 - alpha)),
        p_value=float(p_value),
        n=int(len(a)),
        n_videos=k,
    )


def gt_spans(windows: Iterable[Sequence[float]]) -> tuple[Span, ...]:
    """Ground-truth windows as spans."""
    return tuple(Span(float(w[0]), float(w[1])) for w in windows)
