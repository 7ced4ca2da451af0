"""The statistics behind every interval and p-value, checked against direct computations."""

from __future__ import annotations

import numpy as np
import pytest

from timelens_eval.metrics import (
    ANALYTIC_METHOD,
    ANALYTIC_MIN_VIDEOS,
    BOOTSTRAP_METHOD,
    STATUS_VALUES,
    cluster_bootstrap,
    cluster_normal_interval,
    mean_iou,
    paired_test,
    recall_at_iou,
    score_answer,
    summarize,
    video_clusters,
)
from timelens_eval.parsing import ParseStatus
from timelens_eval.protocol import Protocol
from timelens_eval.spans import best_window_iou, iou_arrays, temporal_iou


def _data(videos: int, per_video: int = 2, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    skill = np.repeat(rng.beta(2, 2, size=videos), per_video)
    ious = np.clip(skill + rng.normal(0, 0.2, size=len(skill)), 0, 1)
    return ious, [f"v{i // per_video}" for i in range(len(ious))]


def _direct_bootstrap(values: np.ndarray, vids: list[str], reps: int, seed: int) -> np.ndarray:
    """Replicates drawn in one piece: all videos with replacement, each replicate a row."""
    codes, k = video_clusters(vids)
    sums = np.bincount(codes, weights=values, minlength=k)
    counts = np.bincount(codes, minlength=k)
    draws = np.random.default_rng(seed).integers(0, k, size=(reps, k))
    return sums[draws].sum(axis=1) / counts[draws].sum(axis=1) * 100.0


def test_bootstrap_interval_is_the_2_5_and_97_5_percentiles_of_the_replicates() -> None:
    ious, vids = _data(300)
    summary = summarize(ious, ["ok"] * len(ious), vids, bootstrap=500, seed=3, ci="bootstrap")
    reps = _direct_bootstrap(ious, vids, 500, 3)
    got = summary.metrics["mIoU"]
    assert got.ci_low == pytest.approx(np.quantile(reps, 0.025), abs=1e-9)
    assert got.ci_high == pytest.approx(np.quantile(reps, 0.975), abs=1e-9)
    eighty = summarize(ious, ["ok"] * len(ious), vids, bootstrap=500, seed=3, ci_level=0.8)
    assert eighty.metrics["mIoU"].ci_low == pytest.approx(np.quantile(reps, 0.1), abs=1e-9)
    assert eighty.ci_level == 0.8 and summary.ci_level == 0.95


def test_bootstrap_in_blocks_equals_one_draw_of_every_replicate() -> None:
    # 5,000 videos x 1,000 replicates = 5 M cells: drawn in blocks of 4 M cells.
    ious, vids = _data(5000, per_video=1)
    blocked = cluster_bootstrap(ious, vids, replicates=1000, seed=7)[:, 0]
    np.testing.assert_allclose(blocked, _direct_bootstrap(ious, vids, 1000, 7), rtol=1e-12)


def test_permutation_p_value_on_many_videos_counts_every_block() -> None:
    # 5,000 videos x 1,000 permutations: the sign flips come in two blocks.
    a, vids = _data(5000, per_video=1, seed=1)
    b = np.clip(a + np.random.default_rng(2).normal(0.0, 0.1, size=len(a)), 0, 1)
    test = paired_test(a, b, vids, "mIoU", bootstrap=100, permutations=1000, seed=5)
    codes, k = video_clusters(vids)
    per_video = np.bincount(codes, weights=a - b, minlength=k)
    observed = per_video.sum() / len(a)
    signs = np.random.default_rng(6).choice(np.array([-1.0, 1.0]), size=(1000, k))
    extreme = np.sum(np.abs(signs @ per_video / len(a)) >= abs(observed) - 1e-12)
    assert test.p_value == pytest.approx((extreme + 1) / 1001, abs=1e-12)
    assert 0.05 < test.p_value < 0.95  # not a tail where every block would agree


def test_paired_test_reports_both_values_and_the_difference_in_points() -> None:
    a = np.array([1.0, 0.6, 0.0, 0.2])
    b = np.array([0.0, 0.6, 0.0, 0.1])
    vids = ["x", "x", "y", "z"]
    test = paired_test(a, b, vids, "R1@0.5", bootstrap=50, permutations=50)
    assert (test.metric, test.a, test.b) == ("R1@0.5", 50.0, 25.0)
    assert test.difference == pytest.approx(25.0)
    assert (test.n, test.n_videos) == (4, 3)
    assert test.ci_low <= test.difference <= test.ci_high
    miou = paired_test(a, b, vids, mean_iou(), bootstrap=50, permutations=50)
    assert miou.difference == pytest.approx(100 * (a - b).mean())
    with pytest.raises(ValueError, match="aligned"):
        paired_test(a, b[:3], vids, "mIoU")
    with pytest.raises(ValueError, match="unknown metric"):
        paired_test(a, b, vids, "R5@0.5")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1.5, -0.1])
def test_summarize_refuses_an_iou_that_is_not_finite_or_not_in_0_1(bad: float) -> None:
    with pytest.raises(ValueError, match=r"^IoUs must be finite numbers in \[0, 1\]$"):
        summarize([0.5, bad], ["ok", "ok"], ["a", "b"], bootstrap=0)


def test_summarize_counts_statuses_and_excludes_unparsed_on_request() -> None:
    ious = [1.0, 0.0, 0.0, 0.0, 0.5]
    status = ["ok", "no_span", "reversed", "error", "out_of_range"]
    vids = ["a", "b", "c", "d", "a"]
    zero = summarize(ious, status, vids, bootstrap=0)
    assert (zero.n, zero.n_videos) == (5, 4)
    assert (zero.parse_failures, zero.reversed, zero.out_of_range, zero.errors) == (1, 1, 1, 1)
    assert zero.value("mIoU") == pytest.approx(30.0)
    assert zero.ci_method is None and zero.ci_level is None and zero.bootstrap_samples is None
    excl = summarize(ious, status, vids, Protocol(unparsed="exclude"), bootstrap=0)
    assert (excl.n, excl.n_videos) == (3, 2)  # no_span and error leave the denominator
    assert excl.value("mIoU") == pytest.approx(50.0)
    boot = summarize(ious, status, vids, bootstrap=20, seed=4)
    assert (boot.ci_method, boot.bootstrap_samples, boot.bootstrap_seed) == (
        BOOTSTRAP_METHOD,
        20,
        4,
    )
    assert summarize(ious, status, vids, ci="analytic").ci_method == ANALYTIC_METHOD
    with pytest.raises(ValueError, match="ci must be"):
        summarize(ious, status, vids, ci="normal")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match="^ious, statuses and video_ids must have the same length$"
    ):
        summarize(ious, status[:4], vids)


def test_recall_threshold_is_inclusive_and_named() -> None:
    metric = recall_at_iou(0.5)
    assert metric.name == "R1@0.5" and metric.params == {"threshold": 0.5}
    assert metric(np.array([0.5, 0.4999, 1.0, 0.0])) == 50.0
    assert np.isnan(metric(np.array([])))


def test_iou_of_spans_of_a_second_or_less() -> None:
    assert temporal_iou((0.2, 0.6), (0.4, 0.8)) == pytest.approx(0.2 / 0.6)
    assert temporal_iou((0.0, 0.5), (0.0, 0.5)) == 1.0
    got = iou_arrays(
        np.array([0.2, 0.0]), np.array([0.6, 0.5]), np.array([0.4, 0.0]), np.array([0.8, 0.5])
    )
    np.testing.assert_allclose(got, [0.2 / 0.6, 1.0])


def test_touching_and_empty_spans_score_zero() -> None:
    assert temporal_iou((0, 5), (5, 10)) == 0.0  # touching: no overlap
    assert temporal_iou((5, 5), (0, 10)) == 0.0  # empty prediction
    assert temporal_iou((6, 4), (0, 10)) == 0.0  # reversed
    assert temporal_iou((5, 5), (5, 5)) == 0.0  # zero hull
    got = iou_arrays(
        np.array([0, 5, 6, 5.0]),
        np.array([5, 5, 4, 5.0]),
        np.array([5, 0, 0, 5.0]),
        np.array([10, 10, 10, 5.0]),
    )
    np.testing.assert_array_equal(got, [0, 0, 0, 0])
    assert best_window_iou((2, 4), [(0, 1), (2, 4), (3, 8)]) == 1.0
    assert best_window_iou((2, 4), []) == 0.0


def test_defaults_are_1000_replicates_seed_0_and_95_percent() -> None:
    ious, vids = _data(50)
    status = ["ok"] * len(ious)
    default = summarize(ious, status, vids)
    assert (default.bootstrap_samples, default.bootstrap_seed, default.ci_level) == (1000, 0, 0.95)
    explicit = summarize(ious, status, vids, bootstrap=1000, seed=0, ci_level=0.95)
    assert default == explicit
    reps = cluster_bootstrap(ious, vids)
    assert reps.shape == (1000, 1)
    np.testing.assert_array_equal(reps, cluster_bootstrap(ious, vids, replicates=1000, seed=0))
    codes, k = video_clusters(vids)
    low, high = cluster_normal_interval(ious, codes, k)
    assert (low[0], high[0]) == tuple(x[0] for x in cluster_normal_interval(ious, codes, k, 0.95))


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, -0.2])
def test_ci_level_outside_0_1_is_refused(level: float) -> None:
    with pytest.raises(ValueError, match=r"ci_level must be in \(0, 1\)"):
        summarize([0.5], ["ok"], ["a"], ci_level=level)


def test_statuses_as_codes_strings_or_objects_count_alike() -> None:
    ious = np.array([1.0, 0.0, 0.0, 0.0, 0.5])
    names = ["ok", "no_span", "reversed", "error", "out_of_range"]
    codes = np.array([STATUS_VALUES.index(s) for s in names], dtype=np.int8)
    vids = ["a", "b", "c", "d", "e"]
    results = [
        summarize(ious, statuses, vids, bootstrap=0)
        for statuses in (
            names,
            np.array(names),
            np.array(names, dtype=object),
            codes,
            codes.tolist(),  # a plain list of integer codes
            list(codes),  # a list of numpy integers
        )
    ]
    assert all(r == results[0] for r in results)
    assert (results[0].parse_failures, results[0].reversed, results[0].errors) == (1, 1, 1)
    excluded = summarize(ious, codes, vids, Protocol(unparsed="exclude"), bootstrap=0)
    assert excluded.n == 3


def test_statuses_as_parse_status_members_count_like_their_strings() -> None:
    members = [ParseStatus.OK, ParseStatus.NO_SPAN, ParseStatus.REVERSED, "error"]
    ious, vids = [1.0, 0.0, 0.0, 0.0], ["a", "b", "c", "d"]
    summary = summarize(ious, members, vids, bootstrap=0)
    assert summary == summarize(ious, ["ok", "no_span", "reversed", "error"], vids, bootstrap=0)
    assert (summary.parse_failures, summary.reversed, summary.errors) == (1, 1, 1)


def test_one_video_has_a_zero_width_bootstrap_interval_and_none_an_empty_one() -> None:
    one = summarize([0.2, 0.6], ["ok", "ok"], ["v", "v"], bootstrap=50)
    assert one.metrics["mIoU"].ci_low == one.metrics["mIoU"].ci_high == pytest.approx(40.0)
    empty = cluster_bootstrap(np.zeros(0), [], replicates=7)
    assert empty.shape == (7, 1) and np.isnan(empty).all()
    single = cluster_bootstrap(np.array([0.25]), ["v"], replicates=3)
    np.testing.assert_array_equal(single, [[25.0], [25.0], [25.0]])


def test_a_metric_of_one_sample_and_of_none() -> None:
    assert mean_iou()(np.array([0.7])) == pytest.approx(70.0)
    assert recall_at_iou(0.3)(np.array([0.7])) == 100.0
    assert np.isnan(mean_iou()(np.array([])))
    assert mean_iou().contribution(np.array([0.25, 0.5])).tolist() == [0.25, 0.5]


def test_score_answer_keeps_the_parse_and_checks_the_duration() -> None:
    scored = score_answer("10 - 70", [(10.0, 60.0)], duration=60.0)
    assert scored.parsed.status.value == "out_of_range" and scored.parsed.spans == ((10.0, 70.0),)
    assert scored.iou == pytest.approx(50 / 60)
    assert score_answer("10 - 70", [(10.0, 60.0)]).parsed.status.value == "ok"
    tolerant = Protocol(out_of_range_tolerance=15.0)
    assert score_answer("10 - 70", [(10, 60)], 60.0, tolerant).parsed.status.value == "ok"
    assert score_answer("70 - 10", [(10.0, 60.0)]).iou == 0.0


def test_summarize_with_precomputed_clusters_and_with_nothing_left() -> None:
    ious, vids = _data(30)
    status = ["ok"] * len(ious)
    given = summarize(ious, status, vids, bootstrap=100, clusters=video_clusters(vids))
    assert given == summarize(ious, status, vids, bootstrap=100)
    fake = (np.zeros(len(ious), dtype=np.intp), 1)  # the clusters given are the ones used
    assert summarize(ious, status, vids, bootstrap=100, clusters=fake).n_videos == 1
    nothing = summarize([0.0], ["no_span"], ["a"], Protocol(unparsed="exclude"), bootstrap=10)
    assert nothing.n == 0 and np.isnan(nothing.value("mIoU"))
    assert nothing.metrics["mIoU"].ci_low is None and nothing.ci_method is None
    one_rep = summarize([0.5, 1.0], ["ok", "ok"], ["a", "b"], bootstrap=1)
    assert one_rep.ci_method == BOOTSTRAP_METHOD and one_rep.bootstrap_samples == 1


def test_the_analytic_interval_starts_above_exactly_10000_videos() -> None:
    ious = np.linspace(0, 1, ANALYTIC_MIN_VIDEOS)
    at = summarize(ious, ["ok"] * len(ious), [f"v{i}" for i in range(len(ious))], bootstrap=2)
    assert at.ci_method == BOOTSTRAP_METHOD
    two = summarize([0.2, 0.8], ["ok", "ok"], ["a", "b"], ci="analytic")
    assert two.ci_method == ANALYTIC_METHOD  # two videos are enough for the variance
    ninety = summarize([0.2, 0.8, 0.5], ["ok"] * 3, ["a", "b", "c"], ci="analytic", ci_level=0.9)
    wide = summarize([0.2, 0.8, 0.5], ["ok"] * 3, ["a", "b", "c"], ci="analytic")
    assert ninety.metrics["mIoU"].ci_high < wide.metrics["mIoU"].ci_high
    assert ninety.metrics["R1@0.5"].params == {"threshold": 0.5}
    assert ninety.metrics["mIoU"].params == {}


def test_paired_test_defaults_and_thresholds_of_one() -> None:
    a, vids = _data(40, seed=4)
    b = np.clip(a + np.random.default_rng(9).normal(0.02, 0.2, size=len(a)), 0, 1)
    assert paired_test(a, b, vids) == paired_test(a, b, vids, "R1@0.5")
    default = paired_test(a, b, vids, "mIoU")
    explicit = paired_test(a, b, vids, "mIoU", bootstrap=2000, permutations=10000, seed=0)
    assert default == explicit
    assert default.ci_low != paired_test(a, b, vids, "mIoU", bootstrap=2001).ci_low
    assert default.p_value != paired_test(a, b, vids, "mIoU", permutations=10001).p_value
    assert default.ci_low != paired_test(a, b, vids, "mIoU", seed=1).ci_low
    top = paired_test(a[:4], b[:4], vids[:4], "R1@1.0", bootstrap=10, permutations=10)
    assert top.metric == "R1@1"


def test_paired_interval_is_the_percentiles_of_bootstrapped_differences() -> None:
    a, vids = _data(60, seed=2)
    b = np.clip(a + np.random.default_rng(3).normal(0.0, 0.2, size=len(a)), 0, 1)
    for level in (0.95, 0.8):
        test = paired_test(
            a, b, vids, "mIoU", bootstrap=300, permutations=50, seed=6, ci_level=level
        )
        reps = _direct_bootstrap(a - b, vids, 300, 6)
        alpha = (1 - level) / 2
        assert test.ci_low == pytest.approx(np.quantile(reps, alpha), abs=1e-9)
        assert test.ci_high == pytest.approx(np.quantile(reps, 1 - alpha), abs=1e-9)
    with pytest.raises(ValueError, match="^paired_test needs aligned arrays of the same samples$"):
        paired_test(a, b[:-1], vids, "mIoU")
