"""Rank statistics for comparing leaderboards: ranks, Kendall's tau-b, Spearman's rho,
and a video-level bootstrap over per-sample scores.

Everything is plain numpy so that :mod:`timelens_eval.compare` stays light. Ranks are
"1 = best" (highest score); ties share the average rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "rank_desc",
    "competition_rank",
    "kendall_tau_b",
    "spearman_rho",
    "kendall_tau_b_rows",
    "spearman_rho_rows",
    "VideoBootstrap",
]


def rank_desc(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Average ranks, 1 = the highest value; ties share the mean of their ranks."""
    x = -np.asarray(values, dtype=float)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=float)
    sorted_x = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def competition_rank(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Display ranks, 1 = the highest value; ties share the best rank ("1, 2, 2, 4")."""
    x = np.asarray(values, dtype=float)
    return np.array([1 + int(np.sum(x > v)) for v in x], dtype=int)


def _pair_signs(x: np.ndarray) -> np.ndarray:
    """sign(x_j - x_i) for i < j along the last axis, flattened."""
    n = x.shape[-1]
    i, j = np.triu_indices(n, k=1)
    return np.sign(x[..., j] - x[..., i])


def kendall_tau_b_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between ``x[k]`` and ``y[k]`` for every row ``k`` (2-D inputs)."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    y = np.atleast_2d(np.asarray(y, dtype=float))
    n_pairs = max(x.shape[-1] * (x.shape[-1] - 1) // 2, 1)
    chunk = max(1, 4_000_000 // n_pairs)  # bound memory: rows x pairs sign matrices
    out = np.empty(x.shape[0], dtype=float)
    for start in range(0, x.shape[0], chunk):
        sx = _pair_signs(x[start : start + chunk])
        sy = _pair_signs(y[start : start + chunk])
        concordance = np.sum(sx * sy, axis=-1)
        nx = np.sum(sx != 0, axis=-1).astype(float)
        ny = np.sum(sy != 0, axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + chunk] = concordance / np.sqrt(nx * ny)
    return out


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b of two score lists (NaN with fewer than two untied values)."""
    return float(kendall_tau_b_rows(np.asarray(x)[None], np.asarray(y)[None])[0])


def spearman_rho_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho (Pearson correlation of average ranks) for every row."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    y = np.atleast_2d(np.asarray(y, dtype=float))
    rx = np.apply_along_axis(rank_desc, -1, x)
    ry = np.apply_along_axis(rank_desc, -1, y)
    rx = rx - rx.mean(axis=-1, keepdims=True)
    ry = ry - ry.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(rx * ry, axis=-1) / np.sqrt(np.sum(rx**2, axis=-1) * np.sum(ry**2, axis=-1))


def spearman_rho(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho of two score lists."""
    return float(spearman_rho_rows(np.asarray(x)[None], np.asarray(y)[None])[0])


@dataclass
class VideoBootstrap:
    """Resamples videos with replacement; the same draw is applied to every model and to
    both variants of a pair (videos matched by ``video_id``).

    ``draws[b, v]`` is how often video ``v`` (index into ``videos``) appears in draw ``b``.
    """

    videos: list[str]
    draws: np.ndarray

    @classmethod
    def make(cls, videos: Sequence[str], n_boot: int, seed: int) -> VideoBootstrap:
        """``n_boot`` draws of ``len(videos)`` videos with replacement."""
        videos = sorted(set(videos))
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, len(videos), size=(n_boot, len(videos)))
        draws = np.zeros((n_boot, len(videos)), dtype=np.int32)
        for b in range(n_boot):
            draws[b] = np.bincount(picks[b], minlength=len(videos))
        return cls(videos, draws)

    def scores(self, per_sample: np.ndarray, sample_videos: Sequence[str]) -> np.ndarray:
        """Mean score per draw and model: ``per_sample`` is (models, samples) -> (draws, models).

        A sample's weight is the number of times its video was drawn.
        """
        index = {v: i for i, v in enumerate(self.videos)}
        cols = np.array([index[v] for v in sample_videos], dtype=np.int64)
        weights = self.draws[:, cols].astype(float)  # (draws, samples)
        totals = weights.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (weights @ per_sample.T) / totals
