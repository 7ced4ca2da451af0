"""Table rows shared by the HTML and Markdown reports (plain data, no formatting)."""

from __future__ import annotations

from collections.abc import Sequence

from timelens_eval.compare import Comparison, LoadedResult, select_results

__all__ = [
    "parse_failure_rows",
    "ranking_rows",
    "category_rows",
    "group_shift_rows",
    "swap_rows",
    "per_sample_rows",
    "fmt",
]


def fmt(value: float | None, digits: int = 1) -> str:
    """A number for a table cell ('–' when missing)."""
    return "–" if value is None else f"{value:.{digits}f}"


def parse_failure_rows(results: Sequence[LoadedResult]) -> list[list[str]]:
    """model, benchmark, kind, n, unparsed, reversed, out of range, errors, unparsed %."""
    rows = []
    for (model, bench), item in sorted(select_results(results).items()):
        s = item.result.summary
        if s.parse_failures is None and s.errors is None:
            continue
        rate = 100 * (s.parse_failures or 0) / s.n if s.n else None
        rows.append(
            [
                model,
                bench,
                item.result.kind,
                str(s.n),
                *(
                    "–" if v is None else str(v)
                    for v in (s.parse_failures, s.reversed, s.out_of_range, s.errors)
                ),
                fmt(rate),
            ]
        )
    return rows


PARSE_HEADER = [
    "model",
    "benchmark",
    "kind",
    "n",
    "no span",
    "reversed",
    "out of range",
    "errors",
    "no span (%)",
]
RANK_HEADER = ["model", "type", "original", "refined", "Δ", "rank orig.", "rank ref.", "shift"]
SWAP_HEADER = ["upper", "lower", "swap frequency"]
PER_SAMPLE_HEADER = ["model", "mIoU orig. (%)", "mIoU ref. (%)", "Δ", "hits gained", "hits lost"]
CATEGORY_HEADER = ["error category", "n", "model", "mIoU orig. (%)", "mIoU ref. (%)", "Δ"]


def ranking_rows(comparison: Comparison, index: int) -> list[list[str]]:
    """One pair's per-model rows (sorted by refined rank)."""
    pair = comparison.pairs[index]
    rows = []
    for m in pair.models:
        o, r = m.original[pair.metric], m.refined[pair.metric]
        star = "*" if pair.metric in m.self_reported_original else ""
        rows.append(
            [
                m.model,
                m.model_type,
                fmt(o.value) + star,
                fmt(r.value),
                f"{m.delta.get(pair.metric, 0):+.1f}",
                _rank(m.rank_original, m.rank_ci_original),
                _rank(m.rank_refined, m.rank_ci_refined),
                f"{m.rank_shift:+d}",
            ]
        )
    return rows


def _rank(rank: int, ci: tuple[float, float] | None) -> str:
    """'3' or '3 [2–5]' with the bootstrap interval of the rank."""
    if ci is None:
        return str(rank)
    return f"{rank} [{ci[0]:.0f}–{ci[1]:.0f}]"


def category_rows(comparison: Comparison, index: int) -> list[list[str]]:
    pair = comparison.pairs[index]
    if pair.per_sample is None:
        return []
    return [
        [
            c.category,
            str(c.n),
            c.model,
            fmt(c.miou_original),
            fmt(c.miou_refined),
            f"{c.delta:+.1f}",
        ]
        for c in pair.per_sample.categories
    ]


def group_shift_rows(comparison: Comparison, index: int) -> list[list[str]]:
    """One pair's per-model-type rows: type, n, mean ranks, mean shift, mean delta."""
    return [
        [
            g.model_type,
            str(g.n),
            fmt(g.mean_rank_original),
            fmt(g.mean_rank_refined),
            f"{g.mean_rank_shift:+.1f}",
            f"{g.mean_delta:+.1f}",
        ]
        for g in comparison.pairs[index].group_shift
    ]


def swap_rows(comparison: Comparison, index: int) -> list[list[str]]:
    """Adjacent swaps of the refined ranking under the bootstrap: upper, lower, frequency."""
    return [
        [s.upper, s.lower, f"{s.frequency:.2f}"]
        for s in comparison.pairs[index].adjacent_swaps
        if s.variant == "refined"
    ]


def per_sample_rows(comparison: Comparison, index: int) -> list[list[str]]:
    """Per-model rows on the matched samples whose annotation changed (none without them)."""
    per_sample = comparison.pairs[index].per_sample
    if per_sample is None:
        return []
    return [
        [
            r.model,
            fmt(r.miou_original),
            fmt(r.miou_refined),
            f"{r.delta:+.1f}",
            str(r.gained),
            str(r.lost),
        ]
        for r in per_sample.models
    ]
