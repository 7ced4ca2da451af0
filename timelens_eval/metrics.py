"""Metrics (in percent) with confidence intervals, and a paired test of two prediction sets.

* ``R1@t``: share of samples whose scored span has IoU >= t (inclusive threshold).
* ``mIoU``: mean IoU; unparsed answers count as 0 under the default protocol.

Confidence intervals treat **videos**, not queries, as the independent units: queries of
one video are correlated, and treating them independently gives intervals that are too
narrow. Up to :data:`ANALYTIC_MIN_VIDEOS` videos the interval is a percentile bootstrap
that resamples videos (seeded, reproducible); above it, where the bootstrap's cost
(replicates x videos) grows large and the normal approximation is accurate, it is the
cluster-robust normal interval of the same ratio estimator (delta method), whose cost is
one pass over the samples. See ``docs/protocol.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Literal, NamedTuple

import numpy as np

from timelens_eval.parsing import ParsedAnswer, ParseStatus, parse_spans
from timelens_eval.protocol import TIMELENS_PROTOCOL, Protocol
from timelens_eval.spans import best_window_iou
from timelens_eval.store import MetricsSummary, MetricValue

__all__ = [
    "Metric",
    "recall_at_iou",
    "mean_iou",
    "metric_by_name",
    "protocol_metrics",
    "score_parsed",
    "score_answer",
    "summarize",
    "cluster_bootstrap",
    "cluster_normal_interval",
    "video_clusters",
    "CIMethod",
    "ANALYTIC_MIN_VIDEOS",
    "BOOTSTRAP_METHOD",
    "ANALYTIC_METHOD",
    "PairedTest",
    "paired_test",
    "ERROR_STATUS",
    "STATUS_VALUES",
]

ERROR_STATUS = "error"
"""Status of a sample whose request failed for good (scored as IoU 0, counted apart)."""
STATUS_VALUES = (*(s.value for s in ParseStatus), ERROR_STATUS)
"""Every per-sample status; :func:`summarize` also takes statuses as indices into this."""


# Replicates x clusters processed at once by the bootstrap (bounds its memory).
_BOOTSTRAP_BLOCK_CELLS = 4_000_000

ANALYTIC_MIN_VIDEOS = 10_000
"""Above this many videos, ``ci="auto"`` uses the analytic interval instead of the bootstrap."""
BOOTSTRAP_METHOD = "percentile bootstrap over videos"
ANALYTIC_METHOD = "cluster-robust normal interval over videos (delta method)"
CIMethod = Literal["auto", "bootstrap", "analytic"]


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
        if statuses.dtype.kind in "Uiu":
            return statuses
        return statuses.astype(object, copy=False)
    items = list(statuses)
    if items and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in items):
        return np.array(items)  # integer codes into STATUS_VALUES
    return np.array(items, dtype=object)


def _is_status(status: np.ndarray, value: str) -> np.ndarray:
    """Where ``status`` (strings, or integer codes into :data:`STATUS_VALUES`) is ``value``."""
    if status.dtype.kind in "iu":
        return status == STATUS_VALUES.index(value)
    return status == value


def video_clusters(video_ids: Sequence[str]) -> tuple[np.ndarray, int]:
    """Integer code of each sample's video (first-seen order) and the number of videos."""
    n = len(video_ids)
    if len(set(video_ids)) == n:  # every sample its own video
        return np.arange(n, dtype=np.intp), n
    first_seen = dict.fromkeys(video_ids)
    codes = dict(zip(first_seen, range(len(first_seen)), strict=True))
    inverse = np.fromiter(map(codes.__getitem__, video_ids), dtype=np.intp, count=n)
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
    inverse, k = video_clusters(video_ids)
    return _bootstrap(contributions, inverse, k, replicates, seed)


def _cluster_sums(contributions: np.ndarray, inverse: np.ndarray, k: int) -> np.ndarray:
    if k == len(inverse):  # every sample its own video: the sums are the rows, reordered
        sums = np.empty_like(contributions)
        sums[inverse] = contributions
        return sums
    return np.stack(
        [np.bincount(inverse, weights=col, minlength=k) for col in contributions.T], axis=1
    )


def _bootstrap(
    contributions: np.ndarray, inverse: np.ndarray, k: int, replicates: int, seed: int
) -> np.ndarray:
    if k == 0:
        return np.full((replicates, contributions.shape[1]), np.nan)
    sums = _cluster_sums(contributions, inverse, k)
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


def cluster_normal_interval(
    contributions: np.ndarray, inverse: np.ndarray, k: int, ci_level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster-robust normal interval of ``100 * mean`` of each column, in one pass.

    The metric is a ratio of sums over videos, ``R = sum(y_v) / sum(m_v)`` (``y_v`` the
    video's summed contributions, ``m_v`` its number of samples). Its delta-method
    variance with videos as clusters is ``k / (k - 1) * sum((y_v - R m_v)^2) / M^2``, the
    quantity the video bootstrap estimates by resampling. ``inverse`` is each sample's
    video code in ``0..k-1``; needs ``k >= 2``.
    """
    contributions = np.asarray(contributions, dtype=np.float64)
    if contributions.ndim == 1:
        contributions = contributions[:, None]
    total = float(len(inverse))
    if k == len(inverse):
        # Every sample its own video: the video sums are the rows (in another order, which
        # no sum below depends on) and every count is 1.
        ratio = contributions.sum(axis=0) / total
        residual = contributions - ratio[None, :]
    else:
        sums = _cluster_sums(contributions, inverse, k)
        counts = np.bincount(inverse, minlength=k).astype(np.float64)
        ratio = sums.sum(axis=0) / total
        residual = sums - counts[:, None] * ratio[None, :]
    variance = k / (k - 1) * np.einsum("ij,ij->j", residual, residual) / total**2
    z = NormalDist().inv_cdf(1.0 - (1.0 - ci_level) / 2.0)
    half = z * np.sqrt(variance)
    return (ratio - half) * 100.0, (ratio + half) * 100.0


def summarize(
    ious: Sequence[float] | np.ndarray,
    statuses: Sequence[Any] | np.ndarray,
    video_ids: Sequence[str],
    protocol: Protocol = TIMELENS_PROTOCOL,
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
    ci: CIMethod = "auto",
    clusters: tuple[np.ndarray, int] | None = None,
) -> MetricsSummary:
    """Aggregate per-sample IoUs into the protocol's metrics with CIs over videos.

    ``statuses`` are :class:`ParseStatus` values (or their strings) or ``"error"``.
    ``bootstrap=0`` skips the confidence intervals; otherwise ``ci`` picks the method:
    ``"auto"`` (the bootstrap with ``bootstrap`` replicates up to
    :data:`ANALYTIC_MIN_VIDEOS` videos, the analytic interval above), ``"bootstrap"`` or
    ``"analytic"``. ``clusters`` (each sample's video code in first-seen order, and the
    number of videos) saves grouping ``video_ids`` again.
    """
    if ci not in ("auto", "bootstrap", "analytic"):
        raise ValueError(f"ci must be 'auto', 'bootstrap' or 'analytic', got {ci!r}")
    if not 0.0 < ci_level < 1.0:
        raise ValueError(f"ci_level must be in (0, 1), got {ci_level}")
    scores = np.asarray(ious, dtype=np.float64)
    status = _status_values(statuses)
    if not (len(scores) == len(status) == len(video_ids)):
        raise ValueError("ious, statuses and video_ids must have the same length")
    if np.any(~np.isfinite(scores)) or np.any((scores < 0) | (scores > 1)):
        raise ValueError("IoUs must be finite numbers in [0, 1]")

    counts = {
        name: int(np.count_nonzero(_is_status(status, value)))
        for name, value in (
            ("parse_failures", ParseStatus.NO_SPAN.value),
            ("reversed", ParseStatus.REVERSED.value),
            ("out_of_range", ParseStatus.OUT_OF_RANGE.value),
            ("errors", ERROR_STATUS),
        )
    }
    if protocol.unparsed == "exclude":
        keep = ~(_is_status(status, ParseStatus.NO_SPAN.value) | _is_status(status, ERROR_STATUS))
        scores = scores[keep]
        inverse, k = video_clusters([v for v, kept in zip(video_ids, keep, strict=True) if kept])
    else:
        inverse, k = clusters if clusters is not None else video_clusters(video_ids)

    metrics = protocol_metrics(protocol)
    contributions = np.stack([m.contribution(scores) for m in metrics], axis=1)  # n x metrics
    lows: list[Any] = [None] * len(metrics)
    highs: list[Any] = [None] * len(metrics)
    method = None
    if bootstrap > 0 and len(scores):
        analytic = ci == "analytic" or (ci == "auto" and k > ANALYTIC_MIN_VIDEOS)
        if analytic and k >= 2:
            method = ANALYTIC_METHOD
            lows, highs = map(list, cluster_normal_interval(contributions, inverse, k, ci_level))
        else:
            method = BOOTSTRAP_METHOD
            reps = _bootstrap(contributions, inverse, k, bootstrap, seed)
            alpha = (1.0 - ci_level) / 2.0
            lows = list(np.quantile(reps, alpha, axis=0))
            highs = list(np.quantile(reps, 1.0 - alpha, axis=0))
    values = {}
    for i, metric in enumerate(metrics):
        value = float(np.mean(contributions[:, i]) * 100.0) if len(scores) else float("nan")
        values[metric.name] = MetricValue(
            value=value,
            ci_low=None if lows[i] is None else float(lows[i]),
            ci_high=None if highs[i] is None else float(highs[i]),
            params=metric.params,
        )
    on_bootstrap = method == BOOTSTRAP_METHOD
    return MetricsSummary(
        n=int(len(scores)),
        n_videos=k,
        metrics=values,
        ci_level=ci_level if method is not None else None,
        bootstrap_samples=bootstrap if on_bootstrap else None,
        bootstrap_seed=seed if on_bootstrap else None,
        ci_method=method,
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


def metric_by_name(name: str | Metric) -> Metric:
    """The metric called ``name``: ``mIoU``, or ``R1@t`` at any threshold ``t`` (a
    comparison may ask for a threshold its protocol does not report)."""
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
    m = metric_by_name(metric)
    ca, cb = m.contribution(a), m.contribution(b)
    diff = ca - cb
    reps = cluster_bootstrap(diff, video_ids, replicates=bootstrap, seed=seed)[:, 0]
    alpha = (1.0 - ci_level) / 2.0

    inverse, k = video_clusters(video_ids)
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
