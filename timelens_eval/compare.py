"""Original vs refined: how a benchmark's refinement changes the ranking of models.

For every ``(original, refined)`` pair in the benchmark registry, :func:`compare_results`
collects the models that have a result on both variants and computes:

* per model: each metric on both variants, the difference, the rank under each
  (1 = best, by ``CompareOptions.metric``) and the rank shift (positive = moved up);
* Kendall's tau-b and Spearman's rho between the two rankings, with percentile
  bootstrap CIs when every model of the pair has per-sample results (videos are
  resampled; one draw is shared by all models and both variants, videos matched by
  ``video_id``), point values otherwise;
* how often adjacent models swap places under that bootstrap;
* the mean rank shift of open vs proprietary models;
* on matched samples (the same ``sample_id`` in both variants) a per-sample analysis:
  where the refined annotation differs, which models gain or lose, and a breakdown by
  ``meta["error_category"]`` when the records carry it (synthetic benchmark).

Which result is used when one model has several on a benchmark: a reproduced run wins
over a reported one, then the newest ``spec.created``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from timelens_eval.compare_stats import (
    VideoBootstrap,
    competition_rank,
    kendall_tau_b,
    kendall_tau_b_rows,
    spearman_rho,
    spearman_rho_rows,
)
from timelens_eval.errors import ConfigError, InputError
from timelens_eval.metrics import metric_by_name
from timelens_eval.store import (
    MetricValue,
    RunResult,
    SampleRecord,
    read_result,
    read_sample_records,
    resolve_samples_file,
    sidecar_kind,
)

__all__ = [
    "LoadedResult",
    "find_result_files",
    "load_results",
    "select_results",
    "CompareOptions",
    "Estimate",
    "ModelShift",
    "AdjacentSwap",
    "GroupShift",
    "SampleShift",
    "CategoryRow",
    "PerSampleAnalysis",
    "PairComparison",
    "Comparison",
    "compare_results",
    "per_sample_scores",
]


@dataclass
class LoadedResult:
    """A result header and where it came from; per-sample records load on demand."""

    path: Path
    result: RunResult
    _records: list[SampleRecord] | None = field(default=None, repr=False)

    @property
    def samples_path(self) -> Path | None:
        """The per-sample file, inside the header's folder (else :class:`InputError`)."""
        if self.result.samples_file is None:
            return None
        return resolve_samples_file(self.path, self.result.samples_file)

    @property
    def has_samples(self) -> bool:
        path = self.samples_path
        return path is not None and path.exists()

    def records(self) -> list[SampleRecord]:
        """The per-sample records (cached); raises InputError if there are none."""
        if self._records is None:
            path = self.samples_path
            if path is None:
                raise InputError("result has no per-sample file", path=self.path)
            self._records = read_sample_records(path)
        return self._records


def find_result_files(paths: Iterable[str | Path]) -> list[Path]:
    """Result headers among ``paths``: files as given, folders searched for ``*.json``
    (hidden folders skipped). A run's sidecar and lock files are skipped wherever they
    are met, also when named on the command line (a shell glob such as
    ``results/org/model/*`` catches them), see :func:`timelens_eval.store.sidecar_kind`."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*.json"))
                if not any(part.startswith(".") for part in p.relative_to(path).parts)
                and sidecar_kind(p) is None
            )
        elif path.exists():
            if sidecar_kind(path) is None:
                found.append(path)
        else:
            raise InputError("file or folder not found", path=path)
    return found


def load_results(paths: Iterable[str | Path]) -> list[LoadedResult]:
    """Read every result header under ``paths`` (files or folders)."""
    return [LoadedResult(p, read_result(p)) for p in find_result_files(paths)]


def select_results(results: Sequence[LoadedResult]) -> dict[tuple[str, str], LoadedResult]:
    """One result per (model, benchmark): reproduced over reported, then the newest."""
    chosen: dict[tuple[str, str], LoadedResult] = {}
    for item in results:
        key = (item.result.spec.model, item.result.spec.benchmark)
        old = chosen.get(key)
        if old is None or _preference(item) > _preference(old):
            chosen[key] = item
    return chosen


def _preference(item: LoadedResult) -> tuple[int, float]:
    return (item.result.kind == "reproduced", item.result.spec.created.timestamp())


class CompareOptions(BaseModel):
    """How rankings are compared."""

    metric: str = Field("mIoU", description="Metric that ranks the models.")
    bootstrap: int = Field(1000, ge=0, description="Bootstrap draws (0: point values only).")
    seed: int = 0
    ci_level: float = Field(0.95, gt=0, lt=1)
    hit_threshold: float = Field(
        0.5, description="IoU threshold of a 'hit' in the per-sample gain/loss counts."
    )
    annotations: dict[str, Path] = Field(
        default_factory=dict,
        description="Annotation file per benchmark; read for sample metadata (error "
        "categories) that the per-sample records do not carry.",
    )


class Estimate(BaseModel):
    """A statistic with its bootstrap CI (None when computed from point values only)."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    method: str = "point"


class ModelShift(BaseModel):
    """One model on both variants of a pair."""

    model: str
    model_type: str
    kind_original: str
    kind_refined: str
    source_original: str | None = None
    source_refined: str | None = None
    self_reported_original: list[str] = Field(default_factory=list)
    self_reported_refined: list[str] = Field(default_factory=list)
    original: dict[str, MetricValue]
    refined: dict[str, MetricValue]
    delta: dict[str, float] = Field(description="refined - original, per metric both have.")
    rank_original: int
    rank_refined: int
    rank_shift: int = Field(description="rank_original - rank_refined; positive = moved up.")
    rank_ci_original: tuple[float, float] | None = Field(
        None, description="Bootstrap percentile interval of the rank on the original."
    )
    rank_ci_refined: tuple[float, float] | None = None


class AdjacentSwap(BaseModel):
    """How often two neighbours of a ranking trade places under the bootstrap."""

    variant: str
    upper: str
    lower: str
    frequency: float


class GroupShift(BaseModel):
    """Mean ranks of one model type on both variants."""

    model_type: str
    n: int
    mean_rank_original: float
    mean_rank_refined: float
    mean_rank_shift: float
    mean_delta: float = Field(description="Mean metric difference refined - original.")


class SampleShift(BaseModel):
    """One model on the matched samples whose annotation changed."""

    model: str
    n_changed: int
    miou_original: float
    miou_refined: float
    delta: float
    gained: int = Field(description="Changed samples that become a hit under the refined GT.")
    lost: int = Field(description="Changed samples that stop being a hit.")


class CategoryRow(BaseModel):
    """One model on the matched samples of one error category."""

    category: str
    model: str
    n: int
    miou_original: float
    miou_refined: float
    delta: float


class PerSampleAnalysis(BaseModel):
    """Matched samples (same ``sample_id`` in both variants) of a pair."""

    n_matched: int
    n_changed: int
    hit_threshold: float
    models: list[SampleShift]
    categories: list[CategoryRow] = Field(default_factory=list)


class PairComparison(BaseModel):
    """The comparison of one original/refined pair."""

    original: str
    refined: str
    metric: str
    models: list[ModelShift]
    kendall_tau: Estimate
    spearman_rho: Estimate
    adjacent_swaps: list[AdjacentSwap] = Field(default_factory=list)
    group_shift: list[GroupShift] = Field(default_factory=list)
    per_sample: PerSampleAnalysis | None = None
    only_original: list[str] = Field(default_factory=list)
    only_refined: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class Comparison(BaseModel):
    """All pairs found in a set of results."""

    options: CompareOptions
    pairs: list[PairComparison]


def compare_results(
    results: Sequence[LoadedResult], options: CompareOptions | None = None
) -> Comparison:
    """Compare rankings on every registered original/refined pair present in ``results``."""
    from timelens_eval.benchmarks import benchmark_pairs

    options = options or CompareOptions()
    chosen = select_results(results)
    by_bench: dict[str, dict[str, LoadedResult]] = defaultdict(dict)
    for (model, bench), item in chosen.items():
        by_bench[bench][model] = item
    pairs = []
    for original, refined in benchmark_pairs():
        if original in by_bench and refined in by_bench:
            pair = _compare_pair(original, refined, by_bench[original], by_bench[refined], options)
            if pair is not None:
                pairs.append(pair)
    return Comparison(options=options, pairs=pairs)


def _compare_pair(
    original: str,
    refined: str,
    orig: dict[str, LoadedResult],
    ref: dict[str, LoadedResult],
    options: CompareOptions,
) -> PairComparison | None:
    metric = options.metric
    both = sorted(
        m
        for m in set(orig) & set(ref)
        if metric in orig[m].result.summary.metrics and metric in ref[m].result.summary.metrics
    )
    if not both:
        return None
    x = np.array([orig[m].result.summary.value(metric) for m in both])
    y = np.array([ref[m].result.summary.value(metric) for m in both])
    rank_x, rank_y = competition_rank(x), competition_rank(y)
    shifts = [
        _model_shift(m, orig[m].result, ref[m].result, int(rx), int(ry))
        for m, rx, ry in zip(both, rank_x, rank_y, strict=True)
    ]
    shifts.sort(key=lambda s: (s.rank_refined, s.model))
    notes: list[str] = []
    tau = Estimate(value=_finite(kendall_tau_b(x, y)) if len(both) > 1 else None)
    rho = Estimate(value=_finite(spearman_rho(x, y)) if len(both) > 1 else None)
    swaps: list[AdjacentSwap] = []
    per_sample = None
    with_samples = all(orig[m].has_samples and ref[m].has_samples for m in both)
    if with_samples:
        scores_o = per_sample_scores([orig[m] for m in both], metric)
        scores_r = per_sample_scores([ref[m] for m in both], metric)
        categories = _annotated_categories((original, refined), options)
        per_sample = _per_sample_analysis(both, orig, ref, options.hit_threshold, categories)
        if options.bootstrap > 0 and len(both) > 1:
            tau, rho, swaps, rank_cis = _bootstrap(both, x, y, scores_o, scores_r, options)
            for shift in shifts:
                shift.rank_ci_original, shift.rank_ci_refined = rank_cis[shift.model]
    else:
        missing = [m for m in both if not (orig[m].has_samples and ref[m].has_samples)]
        notes.append(
            "point values: no per-sample results for "
            + ", ".join(missing[:5])
            + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        )
    return PairComparison(
        original=original,
        refined=refined,
        metric=metric,
        models=shifts,
        kendall_tau=tau,
        spearman_rho=rho,
        adjacent_swaps=swaps,
        group_shift=_group_shift(shifts, metric),
        per_sample=per_sample,
        only_original=sorted(set(orig) - set(both)),
        only_refined=sorted(set(ref) - set(both)),
        notes=notes,
    )


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def _model_shift(model: str, o: RunResult, r: RunResult, rank_o: int, rank_r: int) -> ModelShift:
    om, rm = o.summary.metrics, r.summary.metrics
    return ModelShift(
        model=model,
        model_type=r.spec.model_type,
        kind_original=o.kind,
        kind_refined=r.kind,
        source_original=o.source,
        source_refined=r.source,
        self_reported_original=list(o.self_reported_metrics),
        self_reported_refined=list(r.self_reported_metrics),
        original=dict(om),
        refined=dict(rm),
        delta={k: round(rm[k].value - om[k].value, 6) for k in om if k in rm},
        rank_original=rank_o,
        rank_refined=rank_r,
        rank_shift=rank_o - rank_r,
    )


@dataclass
class SampleScores:
    """Per-sample scores of several models on one benchmark (common samples only)."""

    sample_ids: list[str]
    video_ids: list[str]
    scores: np.ndarray  # (models, samples), percent


def per_sample_scores(items: Sequence[LoadedResult], metric: str) -> SampleScores:
    """Per-sample contribution to ``metric`` (percent) of each result, on the samples that
    every result has. ``mIoU`` uses the IoU, ``R1@t`` a hit indicator ``IoU >= t``."""
    maps = [{r.sample_id: r for r in item.records()} for item in items]
    common = sorted(set.intersection(*(set(m) for m in maps)))
    if not common:
        raise InputError("the results share no sample ids", path=items[0].path)
    # Floats already: the result schema types every iou as a float in [0, 1].
    ious = np.array([[m[s].iou for s in common] for m in maps])
    try:
        contribution = metric_by_name(metric).contribution
    except ValueError as exc:
        raise ConfigError(f"cannot compute metric {metric!r} from per-sample IoUs") from exc
    values = contribution(ious) * 100.0
    videos = [maps[0][s].video_id for s in common]
    return SampleScores(common, videos, values)


def _bootstrap(
    models: list[str],
    x: np.ndarray,
    y: np.ndarray,
    so: SampleScores,
    sr: SampleScores,
    options: CompareOptions,
) -> tuple[Estimate, Estimate, list[AdjacentSwap], dict[str, tuple[Any, Any]]]:
    boot = VideoBootstrap.make(so.video_ids + sr.video_ids, options.bootstrap, options.seed)
    bo = boot.scores(so.scores, so.video_ids)  # (draws, models)
    br = boot.scores(sr.scores, sr.video_ids)
    ok = ~(np.isnan(bo).any(axis=1) | np.isnan(br).any(axis=1))
    bo, br = bo[ok], br[ok]
    alpha = (1 - options.ci_level) / 2
    method = f"percentile bootstrap over videos ({len(bo)} draws, seed {options.seed})"

    def estimate(point: float, draws: np.ndarray) -> Estimate:
        draws = draws[~np.isnan(draws)]
        lo, hi = np.quantile(draws, [alpha, 1 - alpha]) if len(draws) else (None, None)
        return Estimate(
            value=_finite(point),
            ci_low=None if lo is None else float(lo),
            ci_high=None if hi is None else float(hi),
            method=method,
        )

    tau = estimate(kendall_tau_b(x, y), kendall_tau_b_rows(bo, br))
    rho = estimate(spearman_rho(x, y), spearman_rho_rows(bo, br))
    swaps = []
    for variant, point, draws in (("original", x, bo), ("refined", y, br)):
        order = np.argsort(-point, kind="mergesort")
        for a, b in zip(order[:-1], order[1:], strict=True):
            diff = draws[:, a] - draws[:, b]
            freq = float(np.mean(diff < 0) + 0.5 * np.mean(diff == 0))
            swaps.append(
                AdjacentSwap(variant=variant, upper=models[a], lower=models[b], frequency=freq)
            )
    intervals = [_rank_intervals(d, alpha) for d in (bo, br)]
    rank_cis = {m: (intervals[0][i], intervals[1][i]) for i, m in enumerate(models)}
    return tau, rho, swaps, rank_cis


def _rank_intervals(draws: np.ndarray, alpha: float) -> list[tuple[float, float]]:
    """Percentile interval of each model's competition rank over bootstrap draws."""
    ranks = 1 + (draws[:, None, :] > draws[:, :, None]).sum(axis=-1)  # (draws, models)
    lo = np.quantile(ranks, alpha, axis=0, method="lower")
    hi = np.quantile(ranks, 1 - alpha, axis=0, method="higher")
    return [(float(a), float(b)) for a, b in zip(lo, hi, strict=True)]


def _group_shift(shifts: list[ModelShift], metric: str) -> list[GroupShift]:
    groups: dict[str, list[ModelShift]] = defaultdict(list)
    for s in shifts:
        groups[s.model_type].append(s)
    return [
        GroupShift(
            model_type=kind,
            n=len(items),
            mean_rank_original=float(np.mean([s.rank_original for s in items])),
            mean_rank_refined=float(np.mean([s.rank_refined for s in items])),
            mean_rank_shift=float(np.mean([s.rank_shift for s in items])),
            mean_delta=float(np.mean([s.delta.get(metric, np.nan) for s in items])),
        )
        for kind, items in sorted(groups.items())
    ]


def _gt_differs(a: SampleRecord, b: SampleRecord) -> bool:
    if len(a.gt) != len(b.gt):
        return True
    return any(
        abs(p - q) > 1e-6
        for sa, sb in zip(a.gt, b.gt, strict=True)
        for p, q in zip(sa, sb, strict=True)
    )


def _annotated_categories(names: Sequence[str], options: CompareOptions) -> dict[str, str]:
    """``sample_id -> error_category`` from the first of ``names`` whose annotation file
    was given (records of runs usually do not repeat the benchmark's metadata)."""
    from timelens_eval.benchmarks import load_benchmark

    for name in names:
        if name in options.annotations:
            bench = load_benchmark(name, options.annotations[name])
            return {
                s.sample_id: str(s.meta["error_category"])
                for s in bench.samples
                if s.meta.get("error_category") is not None
            }
    return {}


def _per_sample_analysis(
    models: list[str],
    orig: dict[str, LoadedResult],
    ref: dict[str, LoadedResult],
    hit: float,
    categories: dict[str, str] | None = None,
) -> PerSampleAnalysis | None:
    o_maps = {m: {r.sample_id: r for r in orig[m].records()} for m in models}
    r_maps = {m: {r.sample_id: r for r in ref[m].records()} for m in models}
    matched = sorted(set.intersection(*(set(o_maps[m]) & set(r_maps[m]) for m in models)))
    if not matched:
        return None
    first = models[0]
    changed = [s for s in matched if _gt_differs(o_maps[first][s], r_maps[first][s])]
    rows = []
    for m in models:
        io = np.array([o_maps[m][s].iou for s in changed])
        ir = np.array([r_maps[m][s].iou for s in changed])
        rows.append(
            SampleShift(
                model=m,
                n_changed=len(changed),
                miou_original=float(io.mean() * 100) if len(io) else 0.0,
                miou_refined=float(ir.mean() * 100) if len(ir) else 0.0,
                delta=float((ir.mean() - io.mean()) * 100) if len(io) else 0.0,
                gained=int(np.sum((io < hit) & (ir >= hit))),
                lost=int(np.sum((io >= hit) & (ir < hit))),
            )
        )
    rows.sort(key=lambda r: -r.delta)
    return PerSampleAnalysis(
        n_matched=len(matched),
        n_changed=len(changed),
        hit_threshold=hit,
        models=rows,
        categories=_category_rows(models, matched, o_maps, r_maps, categories or {}),
    )


def _category_rows(
    models: list[str],
    matched: list[str],
    o_maps: dict[str, dict[str, SampleRecord]],
    r_maps: dict[str, dict[str, SampleRecord]],
    annotated: dict[str, str],
) -> list[CategoryRow]:
    first = models[0]
    by_cat: dict[str, list[str]] = defaultdict(list)
    for s in matched:
        cat = (
            o_maps[first][s].meta.get("error_category")
            or r_maps[first][s].meta.get("error_category")
            or annotated.get(s)
        )
        if cat is not None:
            by_cat[str(cat)].append(s)
    rows = []
    for cat in sorted(by_cat):
        ids = by_cat[cat]
        for m in models:
            io = float(np.mean([o_maps[m][s].iou for s in ids]) * 100)
            ir = float(np.mean([r_maps[m][s].iou for s in ids]) * 100)
            rows.append(
                CategoryRow(
                    category=cat,
                    model=m,
                    n=len(ids),
                    miou_original=io,
                    miou_refined=ir,
                    delta=ir - io,
                )
            )
    return rows
