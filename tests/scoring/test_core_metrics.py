"""Metrics, clustered bootstrap CIs and the paired test."""

import numpy as np
import pytest

from timelens_eval.metrics import (
    cluster_bootstrap,
    mean_iou,
    paired_test,
    recall_at_iou,
    score_answer,
    summarize,
)
from timelens_eval.protocol import Protocol


def test_recall_threshold_is_inclusive():
    ious = np.array([0.3, 0.29999, 0.5, 0.7, 1.0, 0.0])
    assert recall_at_iou(0.3)(ious) == pytest.approx(4 / 6 * 100)
    assert recall_at_iou(0.7)(ious) == pytest.approx(2 / 6 * 100)
    assert mean_iou()(ious) == pytest.approx(ious.mean() * 100)
    assert recall_at_iou(0.5).params == {"threshold": 0.5}


def test_summarize_counts_statuses_and_keeps_failures_in_denominator():
    ious = [1.0, 0.0, 0.0, 0.0, 0.6]
    statuses = ["ok", "no_span", "reversed", "error", "out_of_range"]
    s = summarize(ious, statuses, ["a", "a", "b", "c", "d"], bootstrap=0)
    assert s.n == 5 and s.n_videos == 4
    assert (s.parse_failures, s.reversed, s.errors, s.out_of_range) == (1, 1, 1, 1)
    assert s.value("R1@0.5") == pytest.approx(40.0)
    assert s.value("mIoU") == pytest.approx(32.0)
    assert s.metrics["mIoU"].ci_low is None

    excluded = summarize(
        ious, statuses, ["a", "a", "b", "c", "d"], Protocol(unparsed="exclude"), bootstrap=0
    )
    assert excluded.n == 3  # no_span and error dropped
    assert excluded.value("R1@0.5") == pytest.approx(200 / 3)


def test_bootstrap_is_seeded_and_brackets_the_value():
    rng = np.random.default_rng(3)
    ious = rng.random(600)
    vids = [f"v{i // 3}" for i in range(600)]
    a = summarize(ious, ["ok"] * 600, vids, bootstrap=500, seed=7)
    b = summarize(ious, ["ok"] * 600, vids, bootstrap=500, seed=7)
    c = summarize(ious, ["ok"] * 600, vids, bootstrap=500, seed=8)
    assert a == b
    assert a.metrics["mIoU"].ci_low != c.metrics["mIoU"].ci_low
    for m in a.metrics.values():
        assert m.ci_low <= m.value <= m.ci_high


def test_bootstrap_resamples_videos_not_queries():
    # Every query of a video has the same outcome: resampling queries would
    # understate the uncertainty by about sqrt(queries per video).
    per_video = np.repeat(np.random.default_rng(0).random(100) > 0.5, 10).astype(float)
    vids = np.repeat([f"v{i}" for i in range(100)], 10)
    clustered = cluster_bootstrap(per_video, vids, replicates=2000, seed=0)[:, 0]
    naive = cluster_bootstrap(per_video, [str(i) for i in range(1000)], replicates=2000, seed=0)[
        :, 0
    ]
    assert clustered.std() > 2.5 * naive.std()


def test_cluster_bootstrap_matches_a_direct_resampling():
    ious = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    vids = ["a", "a", "b", "c", "c"]
    reps = cluster_bootstrap(ious, vids, replicates=3000, seed=1)[:, 0]
    # Every replicate is a ratio of sums over a multiset of videos: check it is one of them.
    sums = {"a": (1.0, 2), "b": (1.0, 1), "c": (1.0, 2)}
    import itertools

    possible = set()
    for combo in itertools.product("abc", repeat=3):
        s = sum(sums[v][0] for v in combo)
        n = sum(sums[v][1] for v in combo)
        possible.add(round(s / n * 100, 9))
    assert {round(r, 9) for r in reps} <= possible
    exact = np.mean(
        [
            sum(sums[v][0] for v in combo) / sum(sums[v][1] for v in combo) * 100
            for combo in itertools.product("abc", repeat=3)
        ]
    )
    assert reps.mean() == pytest.approx(exact, abs=1.5)


def test_paired_test_detects_a_real_difference_and_not_a_null_one():
    rng = np.random.default_rng(5)
    n = 800
    vids = [f"v{i // 4}" for i in range(n)]
    base = rng.random(n)
    better = np.clip(base + 0.25, 0, 1)
    res = paired_test(better, base, vids, "R1@0.5", bootstrap=500, permutations=2000)
    assert res.difference > 0 and res.ci_low > 0 and res.p_value < 0.01

    # Exchangeable pairs: the test must reject at about its nominal rate (5%).
    rejections = 0
    for seed in range(40):
        r = np.random.default_rng(100 + seed)
        shared = r.random(n)
        a = np.clip(shared + r.normal(0, 0.2, n), 0, 1)
        b = np.clip(shared + r.normal(0, 0.2, n), 0, 1)
        rejections += paired_test(a, b, vids, "mIoU", bootstrap=50, permutations=400).p_value < 0.05
    assert rejections <= 6  # P(Binomial(40, 0.05) > 6) < 0.02
    same = paired_test(base, base, vids, "mIoU", bootstrap=100, permutations=500)
    assert same.difference == 0 and same.p_value == 1.0


def test_score_answer_uses_the_first_span_and_best_window():
    scored = score_answer("The event happens in 10 - 20 seconds, or 0 - 5", [(0, 5), (12, 20)], 30)
    assert scored.iou == pytest.approx(0.8)
    assert score_answer("no idea", [(0, 5)]).iou == 0.0
    assert score_answer("from 9 to 3", [(0, 10)]).iou == 0.0
    swapped = score_answer(
        "from 9 to 3", [(0, 10)], protocol=Protocol(parse={"swap_reversed": True})
    )
    assert swapped.iou == pytest.approx(0.6)


def test_cluster_sums_with_one_sample_per_video_equal_the_grouped_sums():
    from timelens_eval.metrics import _cluster_sums

    rng = np.random.default_rng(3)
    contributions = rng.random((50, 4))
    inverse = rng.permutation(50)
    grouped = np.stack(
        [np.bincount(inverse, weights=col, minlength=50) for col in contributions.T], axis=1
    )
    assert np.array_equal(_cluster_sums(contributions, inverse, 50), grouped)
