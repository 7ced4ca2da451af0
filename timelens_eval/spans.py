"""Temporal spans and their intersection over union (IoU).

IoU here is ``overlap / (max(ends) - min(starts))``: for overlapping spans this is
the union; for disjoint spans the overlap is 0, so the value is 0 either way. This
matches the TimeLens and TimeChat scripts. Degenerate cases never raise: when the
denominator is 0 (a zero-length ground truth meeting an identical prediction) the
IoU is 0, and a span with ``start >= end`` always has IoU 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["Span", "temporal_iou", "best_window_iou", "iou_arrays", "validate_span"]


class Span(NamedTuple):
    """A ``[start, end]`` interval in seconds."""

    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start

    @property
    def is_valid(self) -> bool:
        """True when ``start < end``."""
        return self.start < self.end

    def __str__(self) -> str:
        return f"[{self.start:g}, {self.end:g}]"


def temporal_iou(pred: Sequence[float], gt: Sequence[float]) -> float:
    """IoU of two spans; 0 for reversed or empty predictions and a 0 denominator."""
    p0, p1 = float(pred[0]), float(pred[1])
    g0, g1 = float(gt[0]), float(gt[1])
    if not p0 < p1:
        return 0.0
    overlap = min(p1, g1) - max(p0, g0)
    if overlap <= 0:
        return 0.0
    return overlap / (max(p1, g1) - min(p0, g0))  # the hull is at least p1 - p0 > 0


def best_window_iou(pred: Sequence[float], windows: Sequence[Sequence[float]]) -> float:
    """IoU against the ground-truth window the prediction overlaps best (moment_detr R1)."""
    return max((temporal_iou(pred, w) for w in windows), default=0.0)


def iou_arrays(
    pred_start: np.ndarray,
    pred_end: np.ndarray,
    gt_start: np.ndarray,
    gt_end: np.ndarray,
) -> np.ndarray:
    """Element-wise :func:`temporal_iou` over equally shaped float arrays."""
    ps, pe, gs, ge = np.broadcast_arrays(
        *[np.asarray(v, dtype=np.float64) for v in (pred_start, pred_end, gt_start, gt_end)]
    )
    overlap = np.minimum(pe, ge) - np.maximum(ps, gs)
    hull = np.maximum(pe, ge) - np.minimum(ps, gs)
    ok = (ps < pe) & (overlap > 0)  # then the hull is at least pe - ps > 0
    out = np.zeros(ps.shape)
    np.divide(overlap, hull, out=out, where=ok)
    return out


def validate_span(start: object, end: object) -> Span:
    """A :class:`Span` from two finite, non-negative numbers, else ``ValueError``.

    ``start > end`` is rejected; ``start == end`` (a zero-length span) is allowed.
    """
    values = []
    for label, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{label} must be a number, got {type(value).__name__} {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{label} must be finite, got {value}")
        if value < 0:
            raise ValueError(f"{label} must be >= 0, got {value:g}")
        values.append(value)
    if values[0] > values[1]:
        raise ValueError(f"start {values[0]:g} is after end {values[1]:g}")
    return Span(values[0], values[1])
