"""compare: the rules behind each number of the rank-shift report, on small hand-made
results whose every value is known (ranks, deltas, notes, per-sample gains and losses,
error categories), and the bootstrap intervals against a direct computation."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from timelens_eval.compare import (
    CompareOptions,
    compare_results,
    load_results,
)
from timelens_eval.store import (
    MetricsSummary,
    MetricValue,
    RunResult,
    RunSpec,
    SampleRecord,
    write_result,
)

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
        _write(tmp_path, model, REF, metrics={"mIoU": r, "R1@0.5": r / 2}, model_type=kind)
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
    assert (b.source_original, b.source_refined) == ("paper of B", None)
    assert (b.self_reported_original, b.self_reported_refined) == (["mIoU"], [])
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
