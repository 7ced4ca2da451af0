"""The main job: the embedded default models on the synthetic original/refined pair.

``timelens-eval run`` with no arguments calls :func:`run_default`; the table it prints
is :func:`results_table`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from timelens_eval.runner import RunOptions, RunOutcome, arun_benchmark
from timelens_eval.store import RunResult

__all__ = ["DefaultModel", "DEFAULT_MODELS", "DEFAULT_BENCHMARKS", "run_default", "results_table"]


@dataclass(frozen=True)
class DefaultModel:
    """One entry of the embedded default: an adapter name and its arguments."""

    adapter: str
    args: dict[str, Any] = field(default_factory=dict)


DEFAULT_MODELS: tuple[DefaultModel, ...] = (
    DefaultModel("uniform"),
    DefaultModel("prior"),
    DefaultModel("random", {"seed": 0}),
)
"""Evaluated by ``timelens-eval run`` with no arguments."""

DEFAULT_BENCHMARKS: tuple[str, ...] = ("synthetic-original", "synthetic-refined")


def run_default(
    options: RunOptions,
    *,
    models: Sequence[DefaultModel] = DEFAULT_MODELS,
    benchmarks: Sequence[str] = DEFAULT_BENCHMARKS,
    on_result: Callable[[RunOutcome], None] | None = None,
) -> list[RunOutcome]:
    """Run every default model on every default benchmark; adapters are built (and
    their arguments checked) before any benchmark is loaded or run."""
    from timelens_eval.adapters import build_adapter
    from timelens_eval.benchmarks import load_benchmark

    adapters = [(m, build_adapter(m.adapter, m.args)) for m in models]
    loaded = [load_benchmark(name) for name in benchmarks]

    async def main() -> list[RunOutcome]:
        outcomes = []
        try:
            for model, adapter in adapters:
                for bench in loaded:
                    output = options.runs_dir / "default" / adapter.model / f"{bench.name}.json"
                    outcome = await arun_benchmark(
                        adapter,
                        bench,
                        options.model_copy(update={"output": output}),
                        adapter_name=model.adapter,
                    )
                    outcomes.append(outcome)
                    if on_result is not None:
                        on_result(outcome)
        finally:
            for _, adapter in adapters:
                await adapter.aclose()
        return outcomes

    outcomes = asyncio.run(main())
    return outcomes


def _cell(result: RunResult, name: str) -> str:
    metric = result.summary.metrics.get(name)
    if metric is None:
        return "-"
    if metric.ci_low is None or metric.ci_high is None:
        return f"{metric.value:.1f}"
    return f"{metric.value:.1f} [{metric.ci_low:.1f}, {metric.ci_high:.1f}]"


def results_table(results: Sequence[RunResult], title: str | None = None) -> Any:
    """A rich table, model x benchmark: R1@0.3/0.5/0.7 and mIoU with 95% CIs."""
    from rich.table import Table

    table = Table(title=title)
    for column in ("model", "benchmark", "n", "errors"):
        table.add_column(column, justify="left" if column in ("model", "benchmark") else "right")
    names: list[str] = []
    for result in results:
        for name in result.summary.metrics:
            if name not in names:
                names.append(name)
    for name in names:
        table.add_column(name, justify="right")
    for result in results:
        summary = result.summary
        table.add_row(
            result.spec.model,
            result.spec.benchmark,
            str(summary.n),
            str(summary.errors or 0),
            *[_cell(result, name) for name in names],
        )
    return table


def default_runs_dir() -> Path:
    """Where the main job writes: ``runs/`` under the working directory."""
    return Path("runs")
