"""Confidence intervals: the analytic interval for many videos agrees with the bootstrap."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from timelens_eval.cli import main
from timelens_eval.metrics import (
    ANALYTIC_METHOD,
    ANALYTIC_MIN_VIDEOS,
    BOOTSTRAP_METHOD,
    cluster_normal_interval,
    summarize,
)

KEYS = ("R1@0.3", "R1@0.5", "R1@0.7", "mIoU")


def _samples(videos: int, seed: int = 0) -> tuple[np.ndarray, list[str], list[str]]:
    """IoUs of 1 to 4 queries per video, correlated within a video (a video is easy or hard)."""
    rng = np.random.default_rng(seed)
    per_video = rng.integers(1, 5, size=videos)
    skill = np.repeat(rng.beta(2, 2, size=videos), per_video)
    ious = np.clip(skill + rng.normal(0, 0.15, size=len(skill)), 0, 1)
    ious[rng.random(len(ious)) < 0.05] = 0.0
    vids = [f"v{v}" for v in np.repeat(np.arange(videos), per_video)]
    return ious, ["ok"] * len(ious), vids


@pytest.mark.slow
def test_analytic_interval_covers_the_bootstrap_on_20000_videos() -> None:
    ious, status, vids = _samples(20_000)
    boot = summarize(ious, status, vids, ci="bootstrap", bootstrap=1000, seed=0)
    normal = summarize(ious, status, vids, ci="analytic")
    assert boot.ci_method == BOOTSTRAP_METHOD and normal.ci_method == ANALYTIC_METHOD
    assert boot.n_videos == normal.n_videos == 20_000
    for key in KEYS:
        b, a = boot.metrics[key], normal.metrics[key]
        assert a.value == b.value
        assert abs(a.ci_low - b.ci_low) <= 0.1, key
        assert abs(a.ci_high - b.ci_high) <= 0.1, key
        assert a.ci_low <= b.ci_low + 0.1 and a.ci_high >= b.ci_high - 0.1


def test_auto_switches_to_the_analytic_interval_above_the_threshold() -> None:
    few = summarize(*_samples(ANALYTIC_MIN_VIDEOS // 4), bootstrap=200)
    assert few.ci_method == BOOTSTRAP_METHOD and few.bootstrap_samples == 200
    many = summarize(*_samples(ANALYTIC_MIN_VIDEOS + 1), bootstrap=200)
    assert many.ci_method == ANALYTIC_METHOD
    assert many.bootstrap_samples is None and many.bootstrap_seed is None
    assert many.ci_level == 0.95


def test_analytic_interval_is_the_delta_method_of_the_video_ratio() -> None:
    # Two videos of one sample each, values 0 and 1: R = 0.5, residuals -0.5 and 0.5,
    # variance 2/1 * 0.5 / 2^2 = 0.25, half-width 1.959964 * 0.5.
    lows, highs = cluster_normal_interval(np.array([0.0, 1.0]), np.array([0, 1]), 2, 0.95)
    assert lows[0] == pytest.approx(50 - 97.99820, abs=1e-3)
    assert highs[0] == pytest.approx(50 + 97.99820, abs=1e-3)
    # A 90% interval is narrower by z(0.95) / z(0.975).
    l90, h90 = cluster_normal_interval(np.array([0.0, 1.0]), np.array([0, 1]), 2, 0.90)
    assert (h90[0] - 50) / (highs[0] - 50) == pytest.approx(1.644854 / 1.959964, rel=1e-5)


def test_score_json_records_the_method(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ious, _, vids = _samples(300, seed=1)
    data = {
        f"{v}.mp4>>>q{i}>>>[10.0, 20.0]": {"timestamps": [[10.0, 10.0 + 10.0 * x + 1e-3]]}
        for i, (v, x) in enumerate(zip(vids, ious, strict=True))
    }
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    for method, expected in (("bootstrap", BOOTSTRAP_METHOD), ("analytic", ANALYTIC_METHOD)):
        assert main(["score", str(path), "--json", "--ci", method]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["ci_method"] == expected
        for key in KEYS:
            low, high = out["ci"][key]
            assert low <= out[key] <= high
    assert main(["score", str(path), "--json", "--ci", "nope"]) == 2
    assert "--ci must be" in capsys.readouterr().err


def test_one_sample_per_video_takes_the_rows_as_the_video_sums() -> None:
    rng = np.random.default_rng(3)
    contributions = rng.random((501, 3))
    inverse = rng.permutation(501)
    lows, highs = cluster_normal_interval(contributions, inverse, 501, 0.95)
    ratio = contributions.mean(axis=0)
    variance = 501 / 500 * ((contributions - ratio) ** 2).sum(axis=0) / 501**2
    half = 1.959963984540054 * np.sqrt(variance)
    np.testing.assert_allclose(lows, (ratio - half) * 100, rtol=1e-12)
    np.testing.assert_allclose(highs, (ratio + half) * 100, rtol=1e-12)
    # One video of two samples among the rest: the grouped formula, not the rows.
    grouped = inverse.copy()
    grouped[grouped == 500] = 0
    g_low, g_high = cluster_normal_interval(contributions, grouped, 500, 0.95)
    sums = np.zeros((500, 3))
    np.add.at(sums, grouped, contributions)
    counts = np.bincount(grouped, minlength=500)[:, None]
    residual = sums - counts * ratio
    g_half = 1.959963984540054 * np.sqrt(500 / 499 * (residual**2).sum(axis=0) / 501**2)
    np.testing.assert_allclose(g_low, (ratio - g_half) * 100, rtol=1e-12)
    np.testing.assert_allclose(g_high, (ratio + g_half) * 100, rtol=1e-12)
