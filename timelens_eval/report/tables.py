"""Table rows shared by the HTML and Markdown reports (plain data, no formatting)."""

from __future__ import annotations

from collections.abc import Sequence

from timelens_eval.compare import Comparison, LoadedResult, select_results

__all__ = ["parse_failure_rows", "ranking_rows", "category_rows", "fmt"]


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
