"""The Gaussian difficulty sampler: selected-IoU histogram, buckets, seeding, file I/O."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from timelens_eval.errors import InputError
from timelens_eval.rlvr.sampling import (
    DifficultyRecord,
    DurationBucket,
    SamplingConfig,
    assign_buckets,
    default_buckets,
    expected_bin_distribution,
    read_difficulty,
    select_samples,
    write_difficulty,
)

ONE_BUCKET = (DurationBucket(min_duration=0, max_duration=math.inf, target_size=2000),)


def _pool(n: int, seed: int = 0) -> list[DifficultyRecord]:
    """A pool skewed towards easy samples, unlike the hard-centred target.

    Half the IoUs follow Beta(4, 2), half are uniform, so every IoU bin holds many more
    samples than are drawn from it (otherwise drawing without replacement exhausts the
    hardest bins and the selection spills into their neighbours).
    """
    rng = np.random.default_rng(seed)
    ious = np.where(rng.random(n) < 0.5, rng.beta(4.0, 2.0, size=n), rng.random(n))
    durations = rng.uniform(5, 300, size=n)
    return [
        DifficultyRecord(f"s{i}", float(u), float(d))
        for i, (u, d) in enumerate(zip(ious, durations, strict=True))
    ]


def _histogram(ious: np.ndarray, bins: int = 20) -> np.ndarray:
    counts, _ = np.histogram(ious, bins=bins, range=(0, 1))
    return counts / counts.sum()


def _gaussian_bin_masses(mean: float, std: float, bins: int = 20) -> np.ndarray:
    """The target computed independently: the Gaussian's integral over each IoU bin."""
    edges = np.linspace(0, 1, bins + 1)
    mass = norm.cdf(edges[1:], mean, std) - norm.cdf(edges[:-1], mean, std)
    return mass / mass.sum()


def test_selected_iou_histogram_follows_the_gaussian_on_a_large_pool() -> None:
    pool = _pool(200_000)
    config = SamplingConfig(buckets=ONE_BUCKET, seed=7)
    selection = select_samples(pool, config)
    assert len(selection.sample_ids) == 2000
    by_id = {r.sample_id: r.iou for r in pool}
    selected = np.array([by_id[i] for i in selection.sample_ids])

    observed = _histogram(selected)
    target = _gaussian_bin_masses(0.05, 0.2)
    total_variation = 0.5 * np.abs(observed - target).sum()
    assert total_variation < 0.05, (observed.round(3), target.round(3))
    # The sampler's own description of its target agrees with the analytic one.
    ious = np.array([r.iou for r in pool])
    assert 0.5 * np.abs(expected_bin_distribution(ious, config) - target).sum() < 0.03
    # And the pool itself looks nothing like the target (the test can fail).
    assert 0.5 * np.abs(_histogram(ious) - target).sum() > 0.4


def test_without_inverse_density_the_pool_shape_leaks_through() -> None:
    pool = _pool(200_000)
    by_id = {r.sample_id: r.iou for r in pool}
    target = _gaussian_bin_masses(0.05, 0.2)
    distances = {}
    for flag in (True, False):
        config = SamplingConfig(buckets=ONE_BUCKET, inverse_density=flag, seed=7)
        selected = np.array([by_id[i] for i in select_samples(pool, config).sample_ids])
        distances[flag] = 0.5 * np.abs(_histogram(selected) - target).sum()
    assert distances[False] > 0.08 and distances[False] > 2 * distances[True], distances


def test_a_centre_at_medium_difficulty_moves_the_histogram() -> None:
    pool = _pool(50_000, seed=3)
    config = SamplingConfig(mean=0.5, std=0.1, buckets=ONE_BUCKET[:1], seed=1)
    by_id = {r.sample_id: r.iou for r in pool}
    selected = np.array([by_id[i] for i in select_samples(pool, config).sample_ids])
    assert abs(np.median(selected) - 0.5) < 0.03


def test_duration_buckets_targets_and_unbucketed_samples() -> None:
    pool = _pool(5_000, seed=2)
    buckets = (
        DurationBucket(min_duration=0, max_duration=60, target_size=100),
        DurationBucket(min_duration=60, max_duration=120, target_size=50),
        DurationBucket(min_duration=120, max_duration=200, target_size=10_000),  # more than exist
    )
    config = SamplingConfig(buckets=buckets, seed=0)
    selection = select_samples(pool, config)
    durations = {r.sample_id: r.duration for r in pool}
    chosen = [durations[i] for i in selection.sample_ids]
    in_200_plus = sum(1 for r in pool if r.duration >= 200)
    assert sum(1 for d in chosen if d < 60) == 100
    assert sum(1 for d in chosen if 60 <= d < 120) == 50
    assert sum(1 for d in chosen if 120 <= d < 200) == sum(
        1 for r in pool if 120 <= r.duration < 200
    )
    assert sum(1 for d in chosen if d >= 200) == in_200_plus == selection.unbucketed
    assert [c[1:] for c in selection.bucket_counts][:2] == [
        (sum(1 for r in pool if r.duration < 60), 100),
        (sum(1 for r in pool if 60 <= r.duration < 120), 50),
    ]
    dropped = select_samples(pool, SamplingConfig(buckets=buckets, keep_unbucketed=False))
    assert all(durations[i] < 200 for i in dropped.sample_ids)


def test_seeded_and_ordered() -> None:
    pool = _pool(3_000, seed=5)
    config = SamplingConfig(
        buckets=(DurationBucket(min_duration=0, max_duration=1e9, target_size=300),)
    )
    a = select_samples(pool, config).sample_ids
    assert a == select_samples(pool, config).sample_ids
    other = select_samples(pool, config.model_copy(update={"seed": 43})).sample_ids
    assert a != other
    order = {r.sample_id: k for k, r in enumerate(pool)}
    assert [order[i] for i in a] == sorted(order[i] for i in a)


def test_default_buckets_match_timelens() -> None:
    buckets = default_buckets(2500)
    assert len(buckets) == 9
    assert [b.min_duration for b in buckets] == [0, 30, 60, 90, 120, 150, 180, 210, 240]
    assert buckets[-1].max_duration == math.inf
    assert {b.target_size for b in buckets} == {277}


def test_difficulty_file_round_trip_and_errors(tmp_path) -> None:
    records = _pool(10)
    path = tmp_path / "difficulty.jsonl"
    write_difficulty(records, path)
    assert read_difficulty(path) == records

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"sample_id": "a", "iou": 0.1, "duration": 5}\n{"sample_id": "b"}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2"):
        read_difficulty(bad)
    with pytest.raises(InputError, match="cannot read"):
        read_difficulty(tmp_path / "missing.jsonl")
    with pytest.raises(InputError, match="repeat"):
        select_samples(records + records[:1], SamplingConfig())


def test_bucket_edges_include_both_ends_and_the_first_bucket_wins() -> None:
    """TimeLens' buckets hold ``min <= duration <= max``; a duration on an edge goes to
    the first bucket that holds it (hybrid.py / grounding.py of the official code)."""
    buckets = default_buckets(9 * 10)
    durations = np.array([0.0, 29.9, 30.0, 30.1, 60.0, 240.0, 240.5, 1e6])
    assert assign_buckets(durations, buckets).tolist() == [0, 0, 0, 1, 1, 7, 8, 8]
    assert buckets[0].contains(30.0) and buckets[1].contains(30.0)


def test_uniform_draw_is_a_seeded_python_sample_per_bucket() -> None:
    """TimeLens' SFT data: ``random.Random(seed).sample`` of each bucket's pool indices,
    bucket after bucket with one generator; the ids come back in pool order."""
    import random

    pool = _pool(4_000, seed=9)
    config = SamplingConfig(method="uniform", buckets=tuple(default_buckets(900)), seed=42)
    selection = select_samples(pool, config)
    assigned = assign_buckets(np.array([r.duration for r in pool]), config.buckets)
    rng = random.Random(42)
    expected: list[int] = []
    for b, bucket in enumerate(config.buckets):
        members = [i for i in range(len(pool)) if assigned[i] == b]
        expected += rng.sample(members, min(bucket.target_size, len(members)))
    assert selection.sample_ids == [pool[i].sample_id for i in sorted(expected)]
    sizes = [min(100, int((assigned == b).sum())) for b in range(9)]
    assert len(selection.sample_ids) == sum(sizes) and max(sizes) == 100
