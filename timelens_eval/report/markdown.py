"""The Markdown summary of a comparison."""

from __future__ import annotations

from collections.abc import Sequence

from timelens_eval.compare import Comparison, Estimate, LoadedResult
from timelens_eval.report.tables import (
    CATEGORY_HEADER,
    PARSE_HEADER,
    PER_SAMPLE_HEADER,
    RANK_HEADER,
    SWAP_HEADER,
    category_rows,
    group_shift_rows,
    parse_failure_rows,
    per_sample_rows,
    ranking_rows,
    swap_rows,
)

__all__ = ["markdown_report", "estimate_text"]


def _cell(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\n", " ")
    )


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def estimate_text(est: Estimate) -> str:
    """'0.52 [0.31, 0.70]' or '0.52 (point)'."""
    if est.value is None:
        return "–"
    if est.ci_low is None or est.ci_high is None:
        return f"{est.value:.2f} (point value)"
    return f"{est.value:.2f} [{est.ci_low:.2f}, {est.ci_high:.2f}]"


def markdown_report(comparison: Comparison, results: Sequence[LoadedResult]) -> str:
    """Markdown: per pair the ranking table, correlations, group shift, per-sample tables."""
    from timelens_eval.report.figures import benchmark_title

    out = ["# Original vs refined benchmarks", ""]
    if not comparison.pairs:
        out += ["No original/refined pair has results for the same models.", ""]
    for i, pair in enumerate(comparison.pairs):
        out += [
            f"## {_cell(benchmark_title(pair.original))} → {_cell(benchmark_title(pair.refined))}",
            "",
            f"Ranked by {pair.metric} (%), 1 = best; shift > 0 = moved up on the refined "
            "benchmark. Ranks in brackets: 95% bootstrap interval. `*` = number the source "
            "copied from the model's own paper.",
            "",
            f"- Kendall's tau: {estimate_text(pair.kendall_tau)}",
            f"- Spearman's rho: {estimate_text(pair.spearman_rho)}",
            f"- CI method: {pair.kendall_tau.method}",
            "",
        ]
        out += _table(RANK_HEADER, ranking_rows(comparison, i))
        if pair.group_shift:
            out += _table(
                ["model type", "n", "mean rank orig.", "mean rank ref.", "mean shift", "mean Δ"],
                group_shift_rows(comparison, i),
            )
        swaps = swap_rows(comparison, i)
        if swaps:
            out += ["Adjacent swaps under the bootstrap (refined ranking):", ""]
            out += _table(SWAP_HEADER, swaps)
        if pair.per_sample is not None:
            ps = pair.per_sample
            out += [
                f"Matched samples: {ps.n_matched}; refined annotation differs on "
                f"{ps.n_changed}. On those, per model (hit = IoU ≥ {ps.hit_threshold}):",
                "",
            ]
            out += _table(PER_SAMPLE_HEADER, per_sample_rows(comparison, i))
            cats = category_rows(comparison, i)
            if cats:
                out += ["By annotation error category:", ""] + _table(CATEGORY_HEADER, cats)
        for note in pair.notes:
            out += [f"_Note: {_cell(note)}_", ""]
    failures = parse_failure_rows(results)
    out += ["## Parse failures", ""]
    out += _table(PARSE_HEADER, failures) if failures else ["No per-run counts available.", ""]
    return "\n".join(out)
