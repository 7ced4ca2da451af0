"""Models x benchmarks: the loop behind ``timelens-eval run``, with and without arguments.

:func:`run_matrix` runs every model on every benchmark in one event loop: each adapter
is built once (its arguments and credentials are checked before any benchmark is
loaded), every video of every benchmark is checked before the first request, and each
adapter is closed when the matrix is done. Presentation (tables) is the caller's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from timelens_eval.adapters import Adapter
from timelens_eval.benchmarks.base import Benchmark
from timelens_eval.errors import ConfigError
from timelens_eval.protocol import Protocol
from timelens_eval.runner.engine import RunOutcome, arun_benchmark
from timelens_eval.runner.files import output_path
from timelens_eval.runner.options import RunOptions, parse_shard, select_samples

__all__ = ["ModelEntry", "build_models", "check_output", "check_videos", "run_matrix"]


@dataclass(frozen=True)
class ModelEntry:
    """One model of a matrix: an adapter name and its arguments."""

    adapter: str
    args: Mapping[str, Any] | str | None = field(default_factory=dict)
    """The adapter's arguments: a mapping, or ``"k=v,..."`` as on the command line."""
    options: dict[str, Any] = field(default_factory=dict)
    """Run options this model needs (``frames``, ``template``, ``encoding``); options the
    caller sets explicitly win."""
    label: str | None = None
    """Folder of its results under a per-model root (default: the adapter's model name)."""


def build_models(entries: Sequence[ModelEntry]) -> list[tuple[ModelEntry, Adapter]]:
    """Build every entry's adapter; a bad argument or a missing credential fails here,
    before any benchmark is loaded."""
    from timelens_eval.adapters import build_adapter

    return [(entry, build_adapter(entry.adapter, entry.args)) for entry in entries]


def check_videos(adapter: Adapter, benchmarks: Sequence[Benchmark], options: RunOptions) -> None:
    """Every benchmark's videos that ``adapter`` reads, before the first request of the
    first benchmark (see :mod:`timelens_eval.runner.preflight`)."""
    from timelens_eval.runner.preflight import missing_video_ids

    shard = parse_shard(options.shard)
    for bench in benchmarks:
        samples = [s for _, s in select_samples(bench.samples, options.limit, shard)]
        missing_video_ids(adapter, bench, samples, allow_missing=options.allow_missing)


def check_output(options: RunOptions, models: int, benchmarks: int, *, per_model: bool) -> None:
    """An ``output`` ending in ``.json`` names one result: refuse it for several (and for
    a per-model layout). Cheap: callers check it before building any adapter."""
    root = options.output
    if root is None or root.suffix.lower() != ".json" or root.is_dir():
        return
    if per_model:
        raise ConfigError(
            f"--output {root}: the default run writes one result per model and benchmark; "
            "give a folder"
        )
    if models * benchmarks > 1:
        raise ConfigError(
            f"--output {root} names one result file but {benchmarks} benchmarks are run; "
            "give a folder (each benchmark gets FOLDER/BENCHMARK.json)"
        )


def run_matrix(
    models: Sequence[tuple[ModelEntry, Adapter]],
    benchmarks: Sequence[Benchmark],
    options: RunOptions,
    *,
    per_model_root: Path | None = None,
    protocol_for: Callable[[Benchmark], Protocol] | None = None,
    on_result: Callable[[RunOutcome], None] | None = None,
) -> list[RunOutcome]:
    """Run every model on every benchmark, in that order; return the outcomes.

    Results go where ``options`` says (``output``, else ``runs_dir/ADAPTER/MODEL/``),
    or with ``per_model_root`` to ``per_model_root/MODEL/BENCHMARK.json`` (MODEL: the
    entry's label, else the adapter's model name); a shard's name says which shard it
    is. ``protocol_for`` chooses the protocol of each benchmark (default:
    ``options.protocol``); ``on_result`` hears each outcome as it is done. The adapters
    are closed at the end, also when a run fails.
    """
    try:
        check_output(options, len(models), len(benchmarks), per_model=per_model_root is not None)
        for _, adapter in models:
            check_videos(adapter, benchmarks, options)
    except BaseException:
        asyncio.run(_close(models))
        raise
    shard = parse_shard(options.shard)

    async def main() -> list[RunOutcome]:
        outcomes = []
        try:
            for entry, adapter in models:
                for bench in benchmarks:
                    update: dict[str, Any] = {
                        k: v for k, v in entry.options.items() if getattr(options, k) is None
                    }
                    if per_model_root is not None:
                        folder = per_model_root / (entry.label or adapter.model)
                        update["output"] = output_path(folder, bench.name, shard)
                    if protocol_for is not None:
                        update["protocol"] = protocol_for(bench)
                    outcome = await arun_benchmark(
                        adapter,
                        bench,
                        options.model_copy(update=update),
                        adapter_name=entry.adapter,
                    )
                    outcomes.append(outcome)
                    if on_result is not None:
                        on_result(outcome)
        finally:
            await _close(models)
        return outcomes

    return asyncio.run(main())


async def _close(models: Sequence[tuple[ModelEntry, Adapter]]) -> None:
    for _, adapter in models:
        await adapter.aclose()
