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
    _, group, size = np.unique(
        -np.asarray(values, dtype=float), return_inverse=True, return_counts=True
    )
    before = np.cumsum(size) - size  # values ranked above each group of equal values
    return before[group] + (size[group] + 1) / 2


def competition_rank(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Display ranks, 1 = the highest value; ties share the best rank ("1, 2, 2, 4")."""
    x = np.asarray(values)
    return 1 + np.sum(x[None, :] > x[:, None], axis=1)


def _pair_signs(x: np.ndarray) -> np.ndarray:
    """sign(x[:, j] - x[:, i]) for every pair i < j of columns of a 2-D array."""
    n = x.shape[1]
    # k=1 leaves out the diagonal; with it (k=0, the default) its signs are 0 and count in
    # no sum, so the mutant that drops k is equivalent.
    i, j = np.triu_indices(n, k=1)  # pragma: no mutate
    return np.sign(x[:, j] - x[:, i])


def _rows_per_chunk(n: int) -> int:
    """Rows whose pair-sign matrices stay near 4 M cells: only memory depends on it (each
    row's tau is computed alone), so no test can see a change of it."""
    return max(1, 4_000_000 // max(n * (n - 1) // 2, 1))  # pragma: no mutate


def kendall_tau_b_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between ``x[k]`` and ``y[k]`` for every row ``k`` (2-D inputs)."""
    x = np.atleast_2d(np.asarray(x, dtype=float))  # unsigned scores must not wrap
    y = np.atleast_2d(np.asarray(y, dtype=float))
    chunk = _rows_per_chunk(x.shape[1])
    out = np.empty(len(x))
    for start in range(0, len(x), chunk):
        sx = _pair_signs(x[start : start + chunk])
        sy = _pair_signs(y[start : start + chunk])
        concordance = np.sum(sx * sy, axis=1)
        # A divisor of 0 means every value of a row is tied: 0 / 0, NaN.
        with np.errstate(invalid="ignore"):
            out[start : start + chunk] = concordance / np.sqrt(
                np.sum(sx != 0, axis=1) * np.sum(sy != 0, axis=1)
            )
    return out


def kendall_tau_b(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Kendall's tau-b of two score lists (NaN with fewer than two untied values)."""
    return float(kendall_tau_b_rows(np.asarray(x)[None], np.asarray(y)[None])[0])


def spearman_rho_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho (Pearson correlation of average ranks) for every row."""
    x = np.atleast_2d(x)  # rank_desc reads each row as floats
    y = np.atleast_2d(y)
    # Average ranks of n values always sum to n (n + 1) / 2: their mean is (n + 1) / 2.
    centre = (x.shape[1] + 1) / 2
    rx = np.apply_along_axis(rank_desc, 1, x) - centre
    ry = np.apply_along_axis(rank_desc, 1, y) - centre
    # A divisor of 0 means every value of a row is tied: 0 / 0, NaN.
    with np.errstate(invalid="ignore"):
        return np.sum(rx * ry, axis=1) / np.sqrt(np.sum(rx**2, axis=1) * np.sum(ry**2, axis=1))


def spearman_rho(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
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
        k = len(videos)
        picks = np.random.default_rng(seed).integers(k, size=(n_boot, k))
        # Draw b's picks counted in cells [b k, (b + 1) k) of one bincount.
        cells = (picks + k * np.arange(n_boot)[:, None]).ravel()
        counts = np.bincount(cells, minlength=n_boot * k).reshape(n_boot, k)
        # int32 halves the memory of (draws x videos) counts; the values are the same.
        draws = counts.astype(np.int32)  # pragma: no mutate
        return cls(videos, draws)

    def scores(self, per_sample: np.ndarray, sample_videos: Sequence[str]) -> np.ndarray:
        """Mean score per draw and model: ``per_sample`` is (models, samples) -> (draws, models).

        A sample's weight is the number of times its video was drawn.
        """
        index = {v: i for i, v in enumerate(self.videos)}
        weights = self.draws[:, [index[v] for v in sample_videos]]  # (draws, samples)
        # A draw that holds none of the samples' videos has weight 0: 0 / 0, NaN.
        with np.errstate(invalid="ignore"):
            return (weights @ per_sample.T) / weights.sum(axis=1, keepdims=True)
