"""The main job: the embedded default models on the synthetic original/refined pair.

``timelens-eval run`` with no arguments calls :func:`run_default`; the table it prints
is :func:`results_table`. The default models are the three baselines and, when the
``transformers`` extra is installed, the reference model that ships with the package
(``timelens_eval/data/reference-tiny``, trained by ``timelens-eval rlvr reference``; see
docs/reference-model.md). It is evaluated through the ``transformers`` adapter with the
frames, template and timestamp encoding it was trained with, which its directory records
in ``timelens_eval_inputs.json``.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from timelens_eval.errors import ConfigError, InputError
from timelens_eval.runner import RunOptions, RunOutcome, arun_benchmark
from timelens_eval.store import RunResult

__all__ = [
    "DefaultModel",
    "DEFAULT_MODELS",
    "DEFAULT_BENCHMARKS",
    "REFERENCE_MODEL_DIR",
    "default_models",
    "reference_model",
    "run_default",
    "results_table",
]


@dataclass(frozen=True)
class DefaultModel:
    """One entry of the embedded default: an adapter name and its arguments."""

    adapter: str
    args: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    """Run options this model needs (``frames``, ``template``, ``encoding``); options the
    caller sets explicitly win."""
    label: str | None = None
    """Folder of its runs under ``runs/default`` (default: the adapter's model name)."""


DEFAULT_MODELS: tuple[DefaultModel, ...] = (
    DefaultModel("uniform"),
    DefaultModel("prior"),
    DefaultModel("random", {"seed": 0}),
)
"""The baselines, evaluated by ``timelens-eval run`` with no arguments."""

REFERENCE_MODEL_DIR = Path(__file__).resolve().parent / "data" / "reference-tiny"
"""The shipped reference checkpoint."""


def reference_model(
    path: Path = REFERENCE_MODEL_DIR, label: str = "reference-tiny"
) -> DefaultModel:
    """The checkpoint at ``path`` as a default model, with the inputs it was trained on
    (its ``timelens_eval_inputs.json``, see :mod:`timelens_eval.checkpoint_inputs`)."""
    from timelens_eval.checkpoint_inputs import INPUTS_FILE, read_checkpoint_inputs

    inputs = read_checkpoint_inputs(path)
    if inputs is None:
        raise InputError(f"no {INPUTS_FILE} beside the checkpoint", path=path)
    options = {"frames": inputs.frames, "template": inputs.template, "encoding": inputs.encoding}
    args = {**inputs.adapter_args, "model": str(path), "name": label}
    return DefaultModel(inputs.adapter, args, options, label)


def default_models(note: Callable[[str], None] | None = None) -> tuple[DefaultModel, ...]:
    """The baselines, plus the shipped reference model when the packages it needs are
    installed (otherwise ``note`` is told why it is left out)."""
    models = list(DEFAULT_MODELS)
    if not (REFERENCE_MODEL_DIR / "config.json").exists():
        if note is not None:
            note(f"reference model left out: no checkpoint at {REFERENCE_MODEL_DIR}")
        return tuple(models)
    missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        if note is not None:
            note(
                f"reference model left out: it needs {' and '.join(missing)} "
                "(pip install 'timelens-eval[transformers]')"
            )
        return tuple(models)
    models.append(reference_model())
    return tuple(models)


DEFAULT_BENCHMARKS: tuple[str, ...] = ("synthetic-original", "synthetic-refined")


def run_default(
    options: RunOptions,
    *,
    models: Sequence[DefaultModel] | None = None,
    benchmarks: Sequence[str] = DEFAULT_BENCHMARKS,
    on_result: Callable[[RunOutcome], None] | None = None,
    note: Callable[[str], None] | None = None,
) -> list[RunOutcome]:
    """Run every default model on every default benchmark; adapters are built (and
    their arguments checked) before any benchmark is loaded or run. ``models`` defaults
    to :func:`default_models` (``note`` hears why the reference model is left out).

    Results go to ``runs_dir/default/<model>/<benchmark>.json``, or with
    ``options.output`` (a folder: there is one result per model and benchmark) to
    ``output/<model>/<benchmark>.json``; a shard's name says which shard it is.
    """
    from timelens_eval.adapters import build_adapter
    from timelens_eval.benchmarks import load_benchmark
    from timelens_eval.runner import output_path, parse_shard

    shard = parse_shard(options.shard)
    root = options.output if options.output is not None else options.runs_dir / "default"
    if root.suffix.lower() == ".json" and not root.is_dir():
        raise ConfigError(
            f"--output {root}: the default run writes one result per model and benchmark; "
            "give a folder"
        )
    if models is None:
        models = default_models(note)
    adapters = [(m, build_adapter(m.adapter, m.args)) for m in models]
    loaded = [load_benchmark(name) for name in benchmarks]

    async def main() -> list[RunOutcome]:
        outcomes = []
        try:
            for model, adapter in adapters:
                for bench in loaded:
                    folder = root / (model.label or adapter.model)
                    output = output_path(folder, bench.name, shard)
                    needs = {k: v for k, v in model.options.items() if getattr(options, k) is None}
                    outcome = await arun_benchmark(
                        adapter,
                        bench,
                        options.model_copy(update={"output": output, **needs}),
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
