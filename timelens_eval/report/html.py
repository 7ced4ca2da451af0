"""The self-contained HTML report: one file, plotly.js inlined once, works from file://."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from timelens_eval.compare import Comparison, LoadedResult
from timelens_eval.errors import MissingDependencyError
from timelens_eval.report.markdown import estimate_text
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

__all__ = ["html_report", "script_json"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#1a1a1a;line-height:1.45;padding:0 1rem}
table{border-collapse:collapse;margin:.6rem 0 1.4rem;font-size:.92rem}
th,td{border:1px solid #c8c8c8;padding:.25rem .55rem;text-align:right}
th{background:#f1f1f1}td:first-child,th:first-child{text-align:left}
.figure{margin:1rem 0 2rem}.stat{font-size:1.05rem}.note{color:#555;font-style:italic}
h2{border-bottom:2px solid #0072B2;padding-bottom:.2rem;margin-top:2.5rem}
"""


def script_json(data: Any) -> str:
    """JSON safe inside a <script> element: no '</script>', '<!--' or line separators."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _plotly_bundle() -> str:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise MissingDependencyError("the HTML report", "report", "plotly") from None
    return get_plotlyjs()


def _figure(fig: Any, div_id: str) -> str:
    spec = fig.to_plotly_json()
    payload = script_json({"data": spec["data"], "layout": spec["layout"]})
    return (
        f'<div class="figure" id="{div_id}"></div>'
        f'<script type="application/json" id="{div_id}-spec">{payload}</script>'
    )


_RENDER = """
document.querySelectorAll('script[type="application/json"][id$="-spec"]').forEach(function(el){
  var spec = JSON.parse(el.textContent);
  Plotly.newPlot(el.id.slice(0, -5), spec.data, spec.layout,
                 {displaylogo:false, responsive:true});
});
"""


def html_report(comparison: Comparison, results: Sequence[LoadedResult]) -> str:
    """The full HTML report as a string."""
    from timelens_eval.report import figures

    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>timelens-eval: original vs refined</title>",
        f"<style>{_CSS}</style>",
        f"<script>{_plotly_bundle()}</script></head><body>",
        "<h1>Original vs refined benchmarks</h1>",
        "<p>Ranks: 1 = best. Rank shift &gt; 0: the model moved up on the refined benchmark. "
        "Colours: blue = open models, vermillion = proprietary, black = baselines "
        "(Okabe-Ito palette). Numbers marked * were copied by their source from the "
        "model's own paper.</p>",
    ]
    if not comparison.pairs:
        parts.append("<p>No original/refined pair has results for the same models.</p>")
    for i, pair in enumerate(comparison.pairs):
        left = html.escape(figures.benchmark_title(pair.original))
        right = html.escape(figures.benchmark_title(pair.refined))
        parts += [
            f"<h2>{left} → {right}</h2>",
            f"<p class='stat'>Kendall's τ = {html.escape(estimate_text(pair.kendall_tau))}; "
            f"Spearman's ρ = {html.escape(estimate_text(pair.spearman_rho))} "
            + (
                f"<span class='note'>({html.escape(pair.kendall_tau.method)})</span>"
                if pair.kendall_tau.ci_low is not None
                else ""
            )
            + "</p>",
            _figure(figures.slopegraph(pair), f"slope-{i}"),
            _figure(figures.scatter(pair), f"scatter-{i}"),
            _figure(figures.bars(pair), f"bars-{i}"),
            f"<h3>Ranking by {html.escape(pair.metric)} (%)</h3>",
            _table(RANK_HEADER, ranking_rows(comparison, i)),
        ]
        if pair.group_shift:
            header = [
                "model type",
                "n",
                "mean rank orig.",
                "mean rank ref.",
                "mean shift",
                "mean Δ (points)",
            ]
            parts.append(_table(header, group_shift_rows(comparison, i)))
        swaps = swap_rows(comparison, i)
        if swaps:
            parts += [
                "<h3>How often neighbours swap (bootstrap, refined ranking)</h3>",
                _table(SWAP_HEADER, swaps),
            ]
        if pair.per_sample is not None:
            ps = pair.per_sample
            parts += [
                f"<h3>Matched samples: {ps.n_matched}; refined annotation differs on "
                f"{ps.n_changed}</h3>",
                _table(PER_SAMPLE_HEADER, per_sample_rows(comparison, i)),
            ]
            cats = category_rows(comparison, i)
            if cats:
                parts += ["<h3>By annotation error category</h3>", _table(CATEGORY_HEADER, cats)]
        parts += [f"<p class='note'>{html.escape(n)}</p>" for n in pair.notes]
    failures = parse_failure_rows(results)
    parts.append("<h2>Parse failures</h2>")
    parts.append(_table(PARSE_HEADER, failures) if failures else "<p>No per-run counts.</p>")
    parts.append(f"<script>{_RENDER}</script></body></html>")
    return "".join(parts)
