"""compare: the rules behind each number of the rank-shift report, on small hand-made
results whose every value is known (ranks, deltas, notes, per-sample gains and losses,
error categories), and the bootstrap intervals against a direct computation."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from timelens_eval.compare import (
    CompareOptions,
    LoadedResult,
    compare_results,
    find_result_files,
    load_results,
    per_sample_scores,
    select_results,
)
from timelens_eval.errors import ConfigError, InputError
from timelens_eval.store import (
    MetricsSummary,
    MetricValue,
    RunResult,
    RunSpec,
    SampleRecord,
    read_result,
    write_result,
)
from timelens_eval.synthetic.annotations import FORMAT, FORMAT_VERSION

ORIG, REF = "synthetic-original", "synthetic-refined"


def _created(day: int) -> datetime:
    return datetime(2026, 11, day, tzinfo=timezone.utc)


def _write(
    folder: Path,
    model: str,
    bench: str,
    rows: list[tuple] | None = None,
    *,
    metrics: dict[str, float] | None = None,
    model_type: str = "open",
    kind: str = "reproduced",
    day: int = 1,
    source: str | None = None,
    self_reported: tuple[str, ...] = (),
    name: str | None = None,
) -> Path:
    """A result header, with a per-sample file when ``rows`` is given.

    ``rows``: (sample_id, video_id, gt windows, iou[, meta]); the header's mIoU is their
    mean IoU in percent unless ``metrics`` gives the values.
    """
    folder.mkdir(parents=True, exist_ok=True)
    stem = name or f"{model}.{bench}"
    samples_file = None
    if rows is not None:
        lines = []
        for sample_id, video_id, gt, iou, *meta in rows:
            lines.append(
                SampleRecord(
                    sample_id=sample_id,
                    video_id=video_id,
                    query=f"query of {sample_id}",
                    duration=100.0,
                    gt=list(gt),
                    sample_hash=hashlib.sha256(sample_id.encode()).hexdigest()[:16],
                    answer="0 - 1",
                    spans=[(0.0, 1.0)],
                    status="ok",
                    iou=iou,
                    meta=meta[0] if meta else {},
                ).model_dump_json()
            )
        samples_file = f"{stem}.samples.jsonl"
        (folder / samples_file).write_text("\n".join(lines) + "\n", encoding="utf-8")
        if metrics is None:
            metrics = {"mIoU": 100 * float(np.mean([r[3] for r in rows]))}
    assert metrics is not None
    result = RunResult(
        kind=kind,
        spec=RunSpec(
            model=model,
            model_type=model_type,
            benchmark=bench,
            created=_created(day),
        ),
        summary=MetricsSummary(
            n=len(rows or [1]), metrics={k: MetricValue(value=v) for k, v in metrics.items()}
        ),
        samples_file=samples_file,
        source=source,
        self_reported_metrics=list(self_reported),
    )
    path = folder / f"{stem}.json"
    write_result(result, path)
    return path


def _pair(folder: Path, options: CompareOptions | None = None):
    (pair,) = compare_results(load_results([folder]), options).pairs
    return pair


# ---------------------------------------------------------------- ranks, deltas, notes


def test_ranks_shifts_deltas_and_group_means_of_a_known_table(tmp_path):
    table = {  # model: (type, original mIoU, refined mIoU)
        "A": ("open", 50.0, 40.0),
        "B": ("proprietary", 45.1234567, 48.0),
        "C": ("open", 40.0, 40.0),
        "D": ("baseline", 10.0, 5.0),
    }
    for model, (kind, o, r) in table.items():
        extra = {"R1@0.7": 20.0} if model == "A" else {}
        _write(tmp_path, model, ORIG, metrics={"mIoU": o, "R1@0.5": o / 2, **extra},
               model_type=kind, kind="reported", source=f"paper of {model}",
               self_reported=("mIoU",) if model == "B" else ())  # fmt: skip
        _write(tmp_path, model, REF, metrics={"mIoU": r, "R1@0.5": r / 2}, model_type=kind,
               source="run log" if model == "B" else None,
               self_reported=("R1@0.5",) if model == "B" else ())  # fmt: skip
    _write(tmp_path, "Only-Original", ORIG, metrics={"mIoU": 99.0})
    _write(tmp_path, "Only-Refined", REF, metrics={"mIoU": 99.0})
    _write(tmp_path, "No-mIoU", ORIG, metrics={"mIoU": 98.0})
    _write(tmp_path, "No-mIoU", REF, metrics={"R1@0.5": 98.0})

    pair = _pair(tmp_path, CompareOptions(bootstrap=0))
    assert (pair.original, pair.refined, pair.metric) == (ORIG, REF, "mIoU")
    # Sorted by refined rank, ties by name; ties share the best rank (competition ranks).
    got = [(m.model, m.rank_original, m.rank_refined, m.rank_shift) for m in pair.models]
    assert got == [("B", 2, 1, 1), ("A", 1, 2, -1), ("C", 3, 2, 1), ("D", 4, 4, 0)]
    a, b = pair.models[1], pair.models[0]
    assert a.delta == {"mIoU": -10.0, "R1@0.5": -5.0}  # R1@0.7 only on the original
    assert b.delta["mIoU"] == 2.876543  # rounded to 6 decimals
    assert (b.kind_original, b.kind_refined) == ("reported", "reproduced")
    assert (b.source_original, b.source_refined) == ("paper of B", "run log")
    assert (b.self_reported_original, b.self_reported_refined) == (["mIoU"], ["R1@0.5"])
    assert b.model_type == "proprietary"
    assert a.original["mIoU"].value == 50.0 and a.refined["mIoU"].value == 40.0
    assert set(a.original) == {"mIoU", "R1@0.5", "R1@0.7"} and set(a.refined) == {"mIoU", "R1@0.5"}
    assert a.rank_ci_original is None and a.rank_ci_refined is None

    x, y = [50.0, 45.1234567, 40.0, 10.0], [40.0, 48.0, 40.0, 5.0]
    assert pair.kendall_tau.value == pytest.approx(stats.kendalltau(x, y).statistic)
    assert pair.spearman_rho.value == pytest.approx(stats.spearmanr(x, y).statistic)
    for est in (pair.kendall_tau, pair.spearman_rho):
        assert (est.ci_low, est.ci_high, est.method) == (None, None, "point")
    assert pair.adjacent_swaps == [] and pair.per_sample is None

    groups = {g.model_type: g for g in pair.group_shift}
    assert [g.model_type for g in pair.group_shift] == ["baseline", "open", "proprietary"]
    assert (groups["open"].n, groups["open"].mean_rank_original) == (2, 2.0)
    assert (groups["open"].mean_rank_refined, groups["open"].mean_rank_shift) == (2.0, 0.0)
    assert groups["open"].mean_delta == -5.0
    assert (groups["proprietary"].mean_rank_shift, groups["baseline"].mean_delta) == (1.0, -5.0)

    assert pair.only_original == ["No-mIoU", "Only-Original"]
    assert pair.only_refined == ["No-mIoU", "Only-Refined"]
    assert pair.notes == ["point values: no per-sample results for A, B, C, D"]


def test_the_model_type_is_the_refined_results(tmp_path):
    _write(tmp_path, "M", ORIG, metrics={"mIoU": 1.0}, model_type="open")
    _write(tmp_path, "M", REF, metrics={"mIoU": 2.0}, model_type="proprietary")
    (shift,) = _pair(tmp_path).models
    assert shift.model_type == "proprietary"
    assert [(g.model_type, g.mean_delta) for g in _pair(tmp_path).group_shift] == [
        ("proprietary", 1.0)
    ]


def test_the_note_names_five_models_without_samples_and_counts_the_rest(tmp_path):
    rows = [("s1", "v1", [(0.0, 10.0)], 0.5)]
    for i in range(7):
        _write(tmp_path, f"M{i}", ORIG, metrics={"mIoU": 10.0 + i})
        _write(tmp_path, f"M{i}", REF, metrics={"mIoU": 20.0 - i})
    _write(tmp_path, "With-Samples", ORIG, rows)
    _write(tmp_path, "With-Samples", REF, rows)
    pair = _pair(tmp_path)
    assert pair.notes == ["point values: no per-sample results for M0, M1, M2, M3, M4 and 2 more"]
    assert pair.kendall_tau.ci_low is None and pair.per_sample is None
    assert pair.kendall_tau.value == pytest.approx(
        stats.kendalltau([10, 11, 12, 13, 14, 15, 16, 50], [20, 19, 18, 17, 16, 15, 14, 50])[0]
    )

    five = tmp_path / "five"
    for i in range(5):
        _write(five, f"M{i}", ORIG, metrics={"mIoU": 10.0 + i})
        _write(five, f"M{i}", REF, metrics={"mIoU": 20.0 - i})
    assert _pair(five).notes == ["point values: no per-sample results for M0, M1, M2, M3, M4"]
    _write(five, "M5", ORIG, metrics={"mIoU": 30.0})
    _write(five, "M5", REF, metrics={"mIoU": 30.0})
    assert _pair(five).notes == [
        "point values: no per-sample results for M0, M1, M2, M3, M4 and 1 more"
    ]


def test_a_model_with_samples_on_one_variant_only_gives_point_values(tmp_path):
    rows = [("s1", "v1", [(0.0, 10.0)], 0.5), ("s2", "v2", [(0.0, 10.0)], 0.7)]
    _write(tmp_path, "A", ORIG, rows)
    _write(tmp_path, "A", REF, rows)
    _write(tmp_path, "B", ORIG, rows)
    _write(tmp_path, "B", REF, metrics={"mIoU": 10.0})
    pair = _pair(tmp_path, CompareOptions(bootstrap=10))
    assert pair.notes == ["point values: no per-sample results for B"]
    assert pair.per_sample is None and pair.kendall_tau.method == "point"


def test_one_model_has_no_correlation_and_two_have_one(tmp_path):
    rows = [("s1", "v1", [(0.0, 10.0)], 0.5), ("s2", "v2", [(0.0, 10.0)], 0.7)]
    _write(tmp_path, "A", ORIG, rows)
    _write(tmp_path, "A", REF, rows)
    pair = _pair(tmp_path, CompareOptions(bootstrap=20))
    assert pair.kendall_tau.value is None and pair.spearman_rho.value is None
    assert pair.kendall_tau.ci_low is None and pair.adjacent_swaps == []
    assert pair.models[0].rank_ci_original is None
    assert pair.per_sample is not None and pair.per_sample.n_matched == 2

    worse = [(s, v, gt, iou / 2) for s, v, gt, iou in rows]
    _write(tmp_path, "B", ORIG, worse)
    _write(tmp_path, "B", REF, worse)
    pair = _pair(tmp_path, CompareOptions(bootstrap=20))
    assert pair.kendall_tau.value == 1.0 and pair.spearman_rho.value == 1.0
    assert pair.kendall_tau.method.startswith("percentile bootstrap")
    assert len(pair.adjacent_swaps) == 2
    one_draw = _pair(tmp_path, CompareOptions(bootstrap=1)).kendall_tau
    assert one_draw.method == "percentile bootstrap over videos (1 draws, seed 0)"
    assert one_draw.ci_low == one_draw.ci_high == 1.0
    point = _pair(tmp_path, CompareOptions(bootstrap=0))
    assert (point.kendall_tau.value, point.spearman_rho.value) == (1.0, 1.0)
    assert point.kendall_tau.method == "point"


def test_tied_models_have_no_correlation_and_no_interval(tmp_path):
    """Two models with equal scores on every sample: tau is undefined in every draw."""
    rows = [(f"s{i}", f"v{i}", [(0.0, 10.0)], 0.1 * i) for i in range(1, 6)]
    for model in ("A", "B"):
        _write(tmp_path, model, ORIG, rows)
        _write(tmp_path, model, REF, rows)
    pair = _pair(tmp_path, CompareOptions(bootstrap=30))
    for est in (pair.kendall_tau, pair.spearman_rho):
        assert (est.value, est.ci_low, est.ci_high) == (None, None, None)
        assert est.method == "percentile bootstrap over videos (30 draws, seed 0)"
    assert [s.frequency for s in pair.adjacent_swaps] == [0.5, 0.5]
    assert [m.rank_ci_refined for m in pair.models] == [(1.0, 1.0), (1.0, 1.0)]


# ---------------------------------------------------------------- the bootstrap


def _direct_bootstrap(scores_o, videos_o, scores_r, videos_r, n_boot, seed, level):
    """Tau's interval, adjacent swaps and rank intervals computed draw by draw."""
    videos = sorted(set(videos_o) | set(videos_r))
    picks = np.random.default_rng(seed).integers(0, len(videos), size=(n_boot, len(videos)))
    means = []
    for scores, vids in ((scores_o, videos_o), (scores_r, videos_r)):
        rows = []
        for pick in picks:
            weight = np.array([np.sum(pick == videos.index(v)) for v in vids], dtype=float)
            rows.append(
                [np.nan if weight.sum() == 0 else weight @ s / weight.sum() for s in scores]
            )
        means.append(np.array(rows))
    keep = ~(np.isnan(means[0]).any(axis=1) | np.isnan(means[1]).any(axis=1))
    bo, br = means[0][keep], means[1][keep]
    taus = np.array([stats.kendalltau(a, b).statistic for a, b in zip(bo, br, strict=True)])
    taus = taus[~np.isnan(taus)]
    alpha = (1 - level) / 2
    lo, hi = np.percentile(taus, [100 * alpha, 100 * (1 - alpha)])

    def rank_interval(draws, m):
        ranks = np.sort([stats.rankdata(-d, method="min")[m] for d in draws])
        k = len(ranks) - 1
        return (float(ranks[math.floor(alpha * k)]), float(ranks[math.ceil((1 - alpha) * k)]))

    return len(bo), (lo, hi), bo, br, rank_interval


def test_bootstrap_interval_swaps_and_rank_intervals_equal_a_direct_computation(tmp_path):
    rng = np.random.default_rng(5)
    ious = {m: rng.uniform(0, 1, size=(2, 12)) * q for m, q in (("A", 1.0), ("B", 0.8), ("C", 0.7))}
    ids = [f"s{i:02d}" for i in range(12)]
    vids = [f"v{i // 2}" for i in range(12)]
    for m, (io, ir) in ious.items():
        for bench, values in ((ORIG, io), (REF, ir)):
            rows = [
                (s, v, [(0.0, 9.0)], float(i)) for s, v, i in zip(ids, vids, values, strict=True)
            ]
            _write(tmp_path, m, bench, rows)
    pair = _pair(tmp_path, CompareOptions(bootstrap=60, seed=4, ci_level=0.8))
    so = [ious[m][0] * 100 for m in "ABC"]
    sr = [ious[m][1] * 100 for m in "ABC"]
    n, (lo, hi), bo, br, rank_interval = _direct_bootstrap(so, vids, sr, vids, 60, 4, 0.8)
    assert pair.kendall_tau.method == f"percentile bootstrap over videos ({n} draws, seed 4)"
    assert (pair.kendall_tau.ci_low, pair.kendall_tau.ci_high) == pytest.approx((lo, hi))
    x, y = [float(np.mean(s)) for s in so], [float(np.mean(s)) for s in sr]
    assert pair.kendall_tau.value == pytest.approx(stats.kendalltau(x, y).statistic)
    rhos = [stats.spearmanr(a, b).statistic for a, b in zip(bo, br, strict=True)]
    rhos = [r for r in rhos if not np.isnan(r)]
    assert (pair.spearman_rho.ci_low, pair.spearman_rho.ci_high) == pytest.approx(
        tuple(np.percentile(rhos, [10, 90]))
    )
    expected_swaps = []
    for variant, point, draws in (("original", x, bo), ("refined", y, br)):
        order = sorted(range(3), key=lambda k: -point[k])
        for a, b in zip(order, order[1:], strict=False):
            diff = draws[:, a] - draws[:, b]
            freq = np.mean(diff < 0) + 0.5 * np.mean(diff == 0)
            expected_swaps.append((variant, "ABC"[a], "ABC"[b], pytest.approx(freq)))
    got = [(s.variant, s.upper, s.lower, s.frequency) for s in pair.adjacent_swaps]
    assert got == expected_swaps
    for shift in pair.models:
        k = "ABC".index(shift.model)
        assert shift.rank_ci_original == rank_interval(bo, k)
        assert shift.rank_ci_refined == rank_interval(br, k)
    # Few draws: the interval's ends are ranks that occur (lower and higher), never between.
    pair = _pair(tmp_path, CompareOptions(bootstrap=7, seed=4, ci_level=0.5))
    *_, bo, br, rank_interval = _direct_bootstrap(so, vids, sr, vids, 7, 4, 0.5)
    for shift in pair.models:
        k = "ABC".index(shift.model)
        assert shift.rank_ci_original == rank_interval(bo, k)
        assert shift.rank_ci_refined == rank_interval(br, k)


def test_draws_without_a_variants_videos_are_left_out(tmp_path):
    """The original's samples lie in video a, the refined's in video b: a draw of b alone
    has no original score and is dropped (and the other way round)."""
    for m, q in (("A", 0.9), ("B", 0.4)):
        _write(tmp_path, m, ORIG, [("o1", "a", [(0.0, 9.0)], q), ("o2", "a", [(0.0, 9.0)], q / 2)])
        _write(tmp_path, m, REF, [("r1", "b", [(0.0, 9.0)], q), ("r2", "b", [(0.0, 9.0)], q / 3)])
    pair = _pair(tmp_path, CompareOptions(bootstrap=40, seed=2))
    picks = np.random.default_rng(2).integers(0, 2, size=(40, 2))
    kept = int(np.sum(picks.min(axis=1) != picks.max(axis=1)))  # both videos drawn
    assert 0 < kept < 40
    assert pair.kendall_tau.method == f"percentile bootstrap over videos ({kept} draws, seed 2)"
    assert pair.per_sample is None  # no sample id in both variants
    assert pair.kendall_tau.ci_low == pair.kendall_tau.ci_high == 1.0


# ---------------------------------------------------------------- per-sample analysis


def test_per_sample_gains_losses_and_changed_annotations(tmp_path):
    gt = [(10.0, 20.0)]
    gt_o = {"s1": gt, "s2": gt, "s3": gt, "s4": gt, "s5": gt}
    gt_r = {
        "s1": gt,  # unchanged
        "s2": [(10.0 + 1e-7, 20.0)],  # within 1e-6: unchanged
        "s3": [(10.0 + 1e-5, 20.0)],  # changed
        "s4": [(10.0, 20.0), (30.0, 40.0)],  # a window more: changed
        "s5": [(50.0, 60.0)],  # changed
    }
    ious = {  # model: {sample: (original IoU, refined IoU)}
        "A": {"s1": (0.3, 0.3), "s2": (0.9, 0.9), "s3": (0.5, 0.4), "s4": (0.49, 0.5),
              "s5": (0.8, 0.5)},
        "B": {"s1": (0.1, 0.1), "s2": (0.2, 0.2), "s3": (0.5, 0.6), "s4": (0.2, 0.6),
              "s5": (0.6, 0.2)},
    }  # fmt: skip
    for m, per in ious.items():
        rows_o = [(s, f"v{s}", gt_o[s], io) for s, (io, _) in per.items()]
        rows_r = [(s, f"v{s}", gt_r[s], ir) for s, (_, ir) in per.items()]
        if m == "B":
            rows_o.append(("s6", "vs6", gt, 0.5))  # on one variant only: not matched
        _write(tmp_path, m, ORIG, rows_o)
        _write(tmp_path, m, REF, rows_r)
    ps = _pair(tmp_path, CompareOptions(bootstrap=0, hit_threshold=0.5)).per_sample
    assert (ps.n_matched, ps.n_changed, ps.hit_threshold) == (5, 3, 0.5)
    rows = {r.model: r for r in ps.models}
    assert [r.model for r in ps.models] == ["B", "A"]  # larger delta first
    a, b = rows["A"], rows["B"]
    # hits at IoU 0.5 and above: A gains s4, loses s3, keeps s5 (0.8 -> 0.5)
    assert (a.n_changed, a.gained, a.lost) == (3, 1, 1)
    assert a.miou_original == pytest.approx(100 * (0.5 + 0.49 + 0.8) / 3)
    assert a.miou_refined == pytest.approx(100 * (0.4 + 0.5 + 0.5) / 3)
    assert a.delta == pytest.approx(100 * -0.39 / 3)
    assert (b.gained, b.lost) == (1, 1)  # s3 stays a hit (0.5 -> 0.6): not gained
    assert b.delta == pytest.approx(100 * 0.1 / 3)
    assert ps.categories == []  # no record carries an error category


def test_no_changed_sample_gives_zero_rows(tmp_path):
    rows = [("s1", "v1", [(1.0, 2.0)], 0.7), ("s2", "v2", [(1.0, 2.0)], 0.2)]
    for m in ("A", "B"):
        _write(tmp_path, m, ORIG, rows)
        _write(tmp_path, m, REF, rows)
    ps = _pair(tmp_path, CompareOptions(bootstrap=0)).per_sample
    assert (ps.n_matched, ps.n_changed) == (2, 0)
    for r in ps.models:
        assert (r.miou_original, r.miou_refined, r.delta, r.gained, r.lost) == (0, 0, 0, 0, 0)


def _annotation(path: Path, variant: str, categories: dict[str, str]) -> Path:
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "variant": variant,
        "videos": [{"video_id": "v", "duration": 100.0, "file": "v.mp4"}],
        "samples": [
            {"sample_id": s, "video_id": "v", "query": s, "gt": [1.0, 2.0], "error_category": c}
            for s, c in categories.items()
        ],
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_error_categories_from_records_then_the_annotation_file(tmp_path):
    meta_o = {"s1": {"error_category": "shifted"}, "s2": {}, "s3": {}, "s4": {}}
    meta_r = {"s1": {"error_category": "ignored"}, "s2": {"error_category": "too_wide"},
              "s3": {}, "s4": {}}  # fmt: skip
    ious = {"A": [(0.2, 0.4), (0.6, 0.3), (0.5, 0.5), (0.1, 0.1)], "B": [(0.4, 0.4)] * 4}
    for m, pairs in ious.items():
        ids = ["s1", "s2", "s3", "s4"]
        _write(
            tmp_path,
            m,
            ORIG,
            [(s, "v", [(1.0, 2.0)], io, meta_o[s]) for s, (io, _) in zip(ids, pairs, strict=True)],
        )
        rows_r = [
            (s, "v", [(1.0, 2.0)], ir, meta_r[s]) for s, (_, ir) in zip(ids, pairs, strict=True)
        ]
        _write(tmp_path, m, REF, rows_r)
    ann_o = _annotation(tmp_path / "o.ann", "original", {"s3": "no_event", "s4": "none"})
    ann_r = _annotation(tmp_path / "r.ann", "refined", {"s3": "none", "s4": "none"})
    options = CompareOptions(bootstrap=0, annotations={ORIG: ann_o, REF: ann_r})
    cats = _pair(tmp_path, options).per_sample.categories
    got = [(c.category, c.model, c.n, round(c.miou_original, 6), round(c.delta, 6)) for c in cats]
    assert got == [
        ("no_event", "A", 1, 50.0, 0.0),
        ("no_event", "B", 1, 40.0, 0.0),
        ("none", "A", 1, 10.0, 0.0),
        ("none", "B", 1, 40.0, 0.0),
        ("shifted", "A", 1, 20.0, 20.0),
        ("shifted", "B", 1, 40.0, 0.0),
        ("too_wide", "A", 1, 60.0, -30.0),
        ("too_wide", "B", 1, 40.0, 0.0),
    ]
    only_refined = CompareOptions(bootstrap=0, annotations={REF: ann_r})
    cats = _pair(tmp_path, only_refined).per_sample.categories
    assert {c.category: c.n for c in cats} == {"none": 2, "shifted": 1, "too_wide": 1}
    assert _pair(tmp_path, CompareOptions(bootstrap=0)).per_sample.categories[0].category == (
        "shifted"
    )


# ---------------------------------------------------------------- inputs


def test_per_sample_scores_of_each_metric_and_their_errors(tmp_path):
    rows = [("s2", "v2", [(0.0, 1.0)], 0.5), ("s1", "v1", [(0.0, 1.0)], 0.5 - 1e-13),
            ("s3", "v1", [(0.0, 1.0)], 0.3)]  # fmt: skip
    a = LoadedResult(_write(tmp_path, "A", ORIG, rows), None)  # type: ignore[arg-type]
    a.result = read_result(a.path)
    b = LoadedResult(
        _write(tmp_path, "B", ORIG, rows[1:]), read_result(tmp_path / "B.synthetic-original.json")
    )
    got = per_sample_scores([a, b], "R1@0.5")
    assert (got.sample_ids, got.video_ids) == (["s1", "s3"], ["v1", "v1"])
    # The protocol's hit rule, IoU >= t exactly, as in every result's own R1: an IoU a
    # hair below the threshold is a miss, one exactly at it a hit.
    np.testing.assert_array_equal(got.scores, [[0.0, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(per_sample_scores([a], "R1@0.5").scores, [[0, 100, 0]])
    np.testing.assert_allclose(per_sample_scores([a], "mIoU").scores, [[50.0, 50.0, 30.0]])
    np.testing.assert_array_equal(per_sample_scores([a], "R1@0.3").scores, [[100, 100, 100]])
    with pytest.raises(ConfigError, match="cannot compute metric 'R5@0.5' from per-sample IoUs"):
        per_sample_scores([a], "R5@0.5")
    c = LoadedResult(
        _write(tmp_path, "C", ORIG, [("x", "v", [(0.0, 1.0)], 0.1)]),
        read_result(tmp_path / "C.synthetic-original.json"),
    )
    with pytest.raises(InputError, match=r"A\.synthetic-original\.json: the results share no"):
        per_sample_scores([a, c], "mIoU")


def test_a_result_without_per_sample_file(tmp_path):
    path = _write(tmp_path, "A", ORIG, metrics={"mIoU": 1.0})
    item = LoadedResult(path, read_result(path))
    assert item.samples_path is None and not item.has_samples
    with pytest.raises(InputError, match=r"A\.synthetic-original\.json: result has no per-sample"):
        item.records()
    with_rows = _write(tmp_path, "B", ORIG, [("s", "v", [(0.0, 1.0)], 0.1)])
    item = LoadedResult(with_rows, read_result(with_rows))
    assert item.has_samples and item.records() is item.records()  # read once
    (tmp_path / "B.synthetic-original.samples.jsonl").unlink()
    assert not LoadedResult(with_rows, read_result(with_rows)).has_samples


def test_result_files_skip_hidden_folders_and_sidecars(tmp_path):
    root = tmp_path / ".store" / "results"  # a hidden folder above the root is searched
    b = _write(root / "m", "B", ORIG, metrics={"mIoU": 1.0})
    a = _write(root, "A", ORIG, [("s", "v", [(0.0, 1.0)], 0.1)])
    _write(root / ".cache", "C", ORIG, metrics={"mIoU": 1.0})
    (root / "A.json.spec").write_text("{}")
    lock = root / "x.json.lock"
    lock.write_text("{}")
    spec = root / "old.spec.json"
    spec.write_text("{}")
    assert find_result_files([root]) == [a, b]
    assert find_result_files([b, spec, lock]) == [b]
    with pytest.raises(InputError, match="nothing-here: file or folder not found"):
        find_result_files([tmp_path / "nothing-here"])


def test_one_result_per_model_and_benchmark(tmp_path):
    old = _write(tmp_path, "A", ORIG, metrics={"mIoU": 1.0}, day=1, name="1")
    new = _write(tmp_path, "A", ORIG, metrics={"mIoU": 2.0}, day=2, name="2")
    reported = _write(tmp_path, "A", ORIG, metrics={"mIoU": 3.0}, day=3, kind="reported", name="3")
    twin = _write(tmp_path, "A", ORIG, metrics={"mIoU": 4.0}, day=2, name="4")
    other = _write(tmp_path, "A", REF, metrics={"mIoU": 5.0}, day=1, name="5")
    chosen = select_results(load_results([old, reported, new, twin, other]))
    assert {k: v.path for k, v in chosen.items()} == {(("A", ORIG)): new, ("A", REF): other}
    assert select_results(load_results([reported]))[("A", ORIG)].path == reported
    assert select_results(load_results([reported, old]))[("A", ORIG)].path == old


def test_default_options_and_pairs_in_registry_order(tmp_path):
    for bench in (ORIG, REF, "charades-sta", "charades-timelens"):
        _write(tmp_path, "A", bench, metrics={"mIoU": 1.0})
    comparison = compare_results(load_results([tmp_path]))
    assert comparison.options == CompareOptions()
    from timelens_eval.benchmarks import benchmark_pairs

    order = [
        p for p in benchmark_pairs() if p in {(ORIG, REF), ("charades-sta", "charades-timelens")}
    ]
    assert [(p.original, p.refined) for p in comparison.pairs] == order
