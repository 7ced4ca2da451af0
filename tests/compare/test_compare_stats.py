"""Rank statistics of the rank-shift view, against scipy and direct computations."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from timelens_eval.compare_stats import (
    VideoBootstrap,
    competition_rank,
    kendall_tau_b,
    kendall_tau_b_rows,
    rank_desc,
    spearman_rho,
    spearman_rho_rows,
)


def test_average_and_competition_ranks_with_ties() -> None:
    scores = [50.0, 70.0, 50.0, 90.0, 50.0, 10.0]
    np.testing.assert_array_equal(rank_desc(scores), [4.0, 2.0, 4.0, 1.0, 4.0, 6.0])
    np.testing.assert_array_equal(competition_rank(scores), [3, 2, 3, 1, 3, 6])
    np.testing.assert_array_equal(rank_desc([1.0, 1.0]), [1.5, 1.5])
    np.testing.assert_array_equal(rank_desc([]), [])


def test_rows_of_many_models_match_scipy_row_by_row() -> None:
    # 3,000 models: 4.5 M pairs per row, so the rows are taken one chunk at a time.
    rng = np.random.default_rng(0)
    x = rng.integers(0, 50, size=(3, 3000)).astype(float)
    y = x + rng.normal(0, 20, size=x.shape)
    taus = kendall_tau_b_rows(x, y)
    rhos = spearman_rho_rows(x, y)
    for k in range(3):
        assert taus[k] == pytest.approx(stats.kendalltau(x[k], y[k]).statistic, abs=1e-12)
        assert rhos[k] == pytest.approx(stats.spearmanr(x[k], y[k]).statistic, abs=1e-12)


def test_many_short_rows_in_chunks() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, size=(2500, 60)).astype(float)  # 1,770 pairs: 2,259 rows a chunk
    y = x + rng.integers(-2, 3, size=x.shape)
    taus = kendall_tau_b_rows(x, y)
    for k in (0, 2258, 2259, 2499):
        assert taus[k] == pytest.approx(stats.kendalltau(x[k], y[k]).statistic, abs=1e-12)


def test_perfect_reversed_and_undefined_correlations() -> None:
    assert kendall_tau_b([1, 2, 3], [10, 20, 30]) == 1.0
    assert kendall_tau_b([1, 2, 3], [30, 20, 10]) == -1.0
    assert spearman_rho([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    assert np.isnan(kendall_tau_b([1, 1, 1], [1, 2, 3]))  # no untied pair in x
    assert np.isnan(spearman_rho([2, 2, 2], [1, 2, 3]))


def test_video_bootstrap_draws_videos_and_weights_their_samples() -> None:
    boot = VideoBootstrap.make(["b", "a", "c", "a"], n_boot=200, seed=3)
    assert boot.videos == ["a", "b", "c"] and boot.draws.shape == (200, 3)
    assert (boot.draws.sum(axis=1) == 3).all()  # as many videos as there are, each draw
    picks = np.random.default_rng(3).integers(0, 3, size=(200, 3))
    expected = np.stack([np.bincount(row, minlength=3) for row in picks])
    np.testing.assert_array_equal(boot.draws, expected)
    per_sample = np.array([[1.0, 0.0, 0.5, 1.0], [0.0, 1.0, 1.0, 0.0]])  # 2 models
    sample_videos = ["a", "b", "c", "a"]
    got = boot.scores(per_sample, sample_videos)
    assert got.shape == (200, 2)
    for b in (0, 57, 199):
        w = boot.draws[b][[0, 1, 2, 0]].astype(float)
        np.testing.assert_allclose(got[b], per_sample @ w / w.sum())


def test_undefined_correlations_and_empty_draws_are_nan_without_a_warning() -> None:
    """A tied row or a draw that holds none of a variant's videos is NaN, silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        taus = kendall_tau_b_rows(np.array([[1.0, 1.0, 1.0], [1, 2, 3]]), np.ones((2, 3)))
        rhos = spearman_rho_rows(np.array([[2.0, 2.0, 2.0]]), np.array([[1.0, 2.0, 3.0]]))
        boot = VideoBootstrap("a b".split(), np.array([[2, 0], [0, 2], [1, 1]]))
        got = boot.scores(np.array([[1.0, 0.0]]), ["a", "a"])
    assert np.isnan(taus).all() and np.isnan(rhos).all()
    np.testing.assert_array_equal(got[[0, 2], 0], [0.5, 0.5])
    assert np.isnan(got[1, 0])  # video "a" not drawn: no sample to average


def test_two_models_and_unsigned_integer_scores() -> None:
    """Two models (one pair) and scores held as unsigned integers rank by value."""
    assert kendall_tau_b([1.0, 2.0], [1.0, 2.0]) == 1.0
    assert kendall_tau_b_rows(np.array([[1.0, 2.0]]), np.array([[2.0, 1.0]]))[0] == -1.0
    counts = np.array([0, 3, 1], dtype=np.uint8)
    np.testing.assert_array_equal(rank_desc(counts), [3.0, 1.0, 2.0])
    np.testing.assert_array_equal(competition_rank(counts), [3, 1, 2])
    assert kendall_tau_b(counts, [0.0, 3.0, 1.0]) == 1.0
    assert kendall_tau_b([0.0, 3.0, 1.0], counts) == 1.0
    assert spearman_rho(counts, counts[::-1].copy()) == pytest.approx(
        stats.spearmanr([0, 3, 1], [1, 3, 0]).statistic
    )
