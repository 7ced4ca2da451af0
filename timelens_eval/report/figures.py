"""Plotly figures of a comparison (imported lazily: plotly is the ``report`` extra).

All text that comes from result files is HTML-escaped before it reaches plotly, which
otherwise interprets a few tags in labels. Colours are the Okabe-Ito palette, which
stays distinguishable under the common colour-vision deficiencies.
"""

from __future__ import annotations

import html
from typing import Any

from timelens_eval.compare import PairComparison
from timelens_eval.errors import MissingDependencyError

__all__ = ["OKABE_ITO", "TYPE_COLOURS", "slopegraph", "scatter", "bars", "benchmark_title"]

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
TYPE_COLOURS = {
    "open": OKABE_ITO["blue"],
    "proprietary": OKABE_ITO["vermillion"],
    "baseline": OKABE_ITO["black"],
}
TYPE_SYMBOLS = {"open": "circle", "proprietary": "diamond", "baseline": "square"}
_FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13}


def _go() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise MissingDependencyError("the HTML report", "report", "plotly") from None
    return go


def _t(text: str) -> str:
    return html.escape(text, quote=False)


def benchmark_title(name: str) -> str:
    """The registry title of a benchmark (its name if unknown)."""
    from timelens_eval.benchmarks import get_benchmark_spec
    from timelens_eval.errors import UnknownNameError

    try:
        return get_benchmark_spec(name).title
    except UnknownNameError:
        return name


def _unit(metric: str) -> str:
    return f"{metric} (%)"


def slopegraph(pair: PairComparison) -> Any:
    """Ranks on the original (left) and refined (right) benchmark, one line per model."""
    go = _go()
    fig = go.Figure()
    left, right = _t(benchmark_title(pair.original)), _t(benchmark_title(pair.refined))
    for m in pair.models:
        colour = TYPE_COLOURS.get(m.model_type, OKABE_ITO["purple"])
        name = _t(m.model)
        fig.add_trace(
            go.Scatter(
                x=[left, right],
                y=[m.rank_original, m.rank_refined],
                mode="lines+markers+text",
                text=[f"{name} ({m.rank_original})", f"({m.rank_refined}) {name}"],
                textposition=["middle left", "middle right"],
                line={"color": colour, "width": 2, "dash": "solid" if m.rank_shift >= 0 else "dot"},
                marker={"symbol": TYPE_SYMBOLS.get(m.model_type, "circle"), "size": 9},
                name=name,
                legendgroup=m.model_type,
                hovertemplate=f"{name}<br>rank %{{y}} on %{{x}}<extra></extra>",
                showlegend=False,
            )
        )
    for kind, colour in TYPE_COLOURS.items():
        if any(m.model_type == kind for m in pair.models):
            fig.add_trace(
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="markers+lines",
                    name=kind,
                    marker={"color": colour, "symbol": TYPE_SYMBOLS[kind]},
                    line={"color": colour},
                )
            )
    n = max(len(pair.models), 1)
    fig.update_layout(
        title=f"Rank by {pair.metric}, original → refined (1 = best; dotted = moved down)",
        yaxis={
            "title": "rank (1 = best)",
            "autorange": "reversed",
            "dtick": 1,
            "range": [n + 0.5, 0.5],
        },
        xaxis={"title": "benchmark variant", "range": [-0.9, 1.9]},
        height=max(360, 28 * n + 140),
        font=_FONT,
        plot_bgcolor="white",
        legend={"title": "model type"},
        margin={"l": 60, "r": 30, "t": 60, "b": 50},
    )
    return fig


def _has_ci(values: list[Any]) -> bool:
    return any(v.ci_low is not None and v.ci_high is not None for v in values)


def _err(values: list[Any]) -> tuple[list[float], list[float]]:
    plus, minus = [], []
    for v in values:
        plus.append(0.0 if v.ci_high is None else max(v.ci_high - v.value, 0.0))
        minus.append(0.0 if v.ci_low is None else max(v.value - v.ci_low, 0.0))
    return plus, minus


def scatter(pair: PairComparison) -> Any:
    """Metric on the original (x) vs the refined (y) benchmark, with CIs and y = x."""
    go = _go()
    fig = go.Figure()
    metric = pair.metric
    lo, hi = 100.0, 0.0
    for kind in sorted({m.model_type for m in pair.models}):
        models = [m for m in pair.models if m.model_type == kind]
        xs = [m.original[metric] for m in models]
        ys = [m.refined[metric] for m in models]
        lo = min([lo] + [v.value for v in xs + ys])
        hi = max([hi] + [v.value for v in xs + ys])
        xp, xm = _err(xs)
        yp, ym = _err(ys)
        fig.add_trace(
            go.Scatter(
                x=[v.value for v in xs],
                y=[v.value for v in ys],
                error_x={"type": "data", "array": xp, "arrayminus": xm, "visible": _has_ci(xs)},
                error_y={"type": "data", "array": yp, "arrayminus": ym, "visible": _has_ci(ys)},
                mode="markers+text",
                text=[_t(m.model) for m in models],
                textposition="top center",
                name=kind,
                marker={
                    "color": TYPE_COLOURS.get(kind, OKABE_ITO["purple"]),
                    "size": 10,
                    "symbol": TYPE_SYMBOLS.get(kind, "circle"),
                },
            )
        )
    pad = 5
    fig.add_trace(
        go.Scatter(
            x=[lo - pad, hi + pad],
            y=[lo - pad, hi + pad],
            mode="lines",
            name="y = x",
            line={"color": "#777777", "dash": "dash", "width": 1},
        )
    )
    fig.update_layout(
        title=f"{metric}: original vs refined (error bars: 95% CI where known)",
        xaxis={"title": f"{_unit(metric)} on {_t(benchmark_title(pair.original))}"},
        yaxis={"title": f"{_unit(metric)} on {_t(benchmark_title(pair.refined))}"},
        height=520,
        font=_FONT,
        plot_bgcolor="white",
        legend={"title": "model type"},
    )
    return fig


def bars(pair: PairComparison) -> Any:
    """Per-model bars of the metric on both variants, with CIs."""
    go = _go()
    metric = pair.metric
    models = pair.models
    fig = go.Figure()
    for variant, colour, bench in (
        ("original", OKABE_ITO["orange"], pair.original),
        ("refined", OKABE_ITO["blue"], pair.refined),
    ):
        values = [getattr(m, variant)[metric] for m in models]
        plus, minus = _err(values)
        fig.add_trace(
            go.Bar(
                x=[_t(m.model) for m in models],
                y=[v.value for v in values],
                error_y={
                    "type": "data",
                    "array": plus,
                    "arrayminus": minus,
                    "visible": _has_ci(values),
                },
                name=_t(benchmark_title(bench)),
                marker={"color": colour},
                marker_pattern_shape="" if variant == "refined" else "/",
            )
        )
    fig.update_layout(
        barmode="group",
        title=f"{metric} per model (sorted by refined rank; error bars: 95% CI where known)",
        xaxis={"title": "model"},
        yaxis={"title": _unit(metric)},
        height=460,
        font=_FONT,
        plot_bgcolor="white",
    )
    return fig
