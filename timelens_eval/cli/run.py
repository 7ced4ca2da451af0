"""CLI commands: ``run``, ``merge`` and ``adapters list``."""

# Typer reads the annotations at runtime: no ``from __future__ import annotations`` here.

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from timelens_eval.errors import ConfigError


def _console():  # noqa: ANN202
    from rich.console import Console

    # Tables are wide; outside a terminal do not squeeze them into 80 columns.
    return Console() if sys.stdout.isatty() else Console(width=200)


def _print_table(results: list, title: str | None = None) -> None:
    from timelens_eval.runner_main import results_table

    if results:
        _console().print(results_table(results, title=title))


def _frames_override(fps: float | None, max_frames: int | None, sampler: str | None,
                     adapter):  # noqa: ANN001
    if fps is None and max_frames is None and sampler is None:
        return None
    base = adapter.default_frames
    update: dict = {}
    if fps is not None:
        update["fps"] = fps
    if max_frames is not None:
        update["max_frames"] = max_frames
    if sampler is not None:
        if sampler not in ("pts", "qwen-vl-utils"):
            raise ConfigError(f"--frame-sampler must be pts or qwen-vl-utils, got {sampler!r}")
        update["sampler"] = sampler
    return base.model_copy(update=update)


def _protocol_for(name: str | None, bench):  # noqa: ANN001, ANN202
    """The protocol of one benchmark: ``name``, else the benchmark's run protocol."""
    from timelens_eval.benchmarks.base import BENCHMARKS, get_benchmark_spec
    from timelens_eval.protocol import named_protocol

    if name is not None:
        return named_protocol(name)
    spec = get_benchmark_spec(bench.name) if bench.name in BENCHMARKS else None
    chosen = named_protocol(spec.run_protocol if spec is not None else "timelens")
    if chosen.name == "timelens-live":
        typer.echo(
            f"{bench.name}: protocol timelens-live: predicted times are rounded to whole "
            "seconds (ties to even) before scoring, as the TimeLens evaluation does, so the "
            "numbers compare with the paper's; --protocol timelens scores them as written",
            err=True,
        )
    return chosen


def run(
    adapter: Annotated[
        str | None,
        typer.Option("--adapter", "-a", help="Adapter name (see `timelens-eval adapters list`)."),
    ] = None,
    adapter_args: Annotated[
        str | None,
        typer.Option(help="Adapter arguments: key=value,key2=value2 (JSON values ok)."),
    ] = None,
    benchmark: Annotated[
        list[str] | None,
        typer.Option("--benchmark", "-b", help="Benchmark name; repeat for several."),
    ] = None,
    annotations: Annotated[
        Path | None, typer.Option(help="Annotation file (one benchmark only).")
    ] = None,
    video_root: Annotated[
        Path | None,
        typer.Option(help="Folder of the videos (default: the benchmark's, see `data status`)."),
    ] = None,
    allow_missing: Annotated[
        bool,
        typer.Option(
            "--allow-missing",
            help="Run although videos are missing; those samples become errors no metric counts.",
        ),
    ] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N samples.")] = None,
    shard: Annotated[str | None, typer.Option(help="i/N: run shard i (0-based) of N.")] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Requests in flight.")
    ] = 8,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Result header path (a folder with several benchmarks)."
        ),
    ] = None,
    runs_dir: Annotated[Path, typer.Option(help="Default output folder.")] = Path("runs"),
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Discard earlier output; do not resume.")
    ] = False,
    retry_errors: Annotated[
        bool, typer.Option("--retry-errors", help="When resuming, run failed samples again.")
    ] = False,
    max_attempts: Annotated[int, typer.Option(min=1, help="Tries per sample.")] = 4,
    timeout: Annotated[float | None, typer.Option(help="Seconds per request try.")] = None,
    fps: Annotated[float | None, typer.Option(help="Override the frame rate.")] = None,
    max_frames: Annotated[int | None, typer.Option(help="Override the frame cap.")] = None,
    frame_sampler: Annotated[
        str | None,
        typer.Option(
            help="Override how frames are chosen: qwen-vl-utils (as the TimeLens evaluation; "
            "the Qwen presets) or pts (a frame every 1/fps s by timestamp)."
        ),
    ] = None,
    max_new_tokens: Annotated[
        int, typer.Option(min=1, help="Most tokens an answer may have (TimeLens: 512).")
    ] = 512,
    protocol: Annotated[
        str | None,
        typer.Option(
            help="Scoring protocol: timelens-live (times rounded to whole seconds, ties to "
            "even) or timelens (times as written). Default: timelens-live on TimeLens-Bench, "
            "timelens elsewhere."
        ),
    ] = None,
    template: Annotated[str | None, typer.Option(help="Prompt template name.")] = None,
    encoding: Annotated[str | None, typer.Option(help="Timestamp encoding name.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Decoding processes.")] = None,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap replicates.")] = 1000,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Progress bar (default: a bar on a terminal, a line every 30 s otherwise).",
        ),
    ] = None,
) -> None:
    """Evaluate an adapter on benchmarks; with no arguments, the default models on the
    synthetic original and refined benchmarks. Reruns resume where a run stopped."""
    from timelens_eval.adapters import GenerationConfig
    from timelens_eval.protocol import named_protocol
    from timelens_eval.runner import RunOptions

    if protocol is not None:
        named_protocol(protocol)  # an unknown name fails before anything is loaded

    # A bar on a terminal; in logs (batch jobs) a line every 30 s instead.
    show: Literal["off", "bar", "lines"]
    if progress is None:
        show = "bar" if sys.stderr.isatty() else "lines"
    else:
        show = "bar" if progress else "off"
    base = RunOptions(
        concurrency=concurrency,
        limit=limit,
        shard=shard,
        runs_dir=runs_dir,
        fresh=fresh,
        retry_errors=retry_errors,
        max_attempts=max_attempts,
        request_timeout=timeout,
        template=template,
        encoding=encoding,
        decode_workers=workers,
        bootstrap=bootstrap,
        progress=show,
        generation=GenerationConfig(max_new_tokens=max_new_tokens),
        allow_missing=allow_missing,
    )
    from timelens_eval.runner import parse_shard

    parse_shard(shard)  # a bad --shard fails before anything is loaded
    names = list(benchmark or [])
    if annotations is not None and len(names) != 1:
        raise ConfigError("--annotations needs exactly one --benchmark")
    if adapter_args is not None and adapter is None:
        raise ConfigError("--adapter-args needs --adapter")
    if adapter is None:
        if protocol is not None:
            base = base.model_copy(update={"protocol": named_protocol(protocol)})
        _run_default(base, names, output)
        return

    from timelens_eval.adapters import build_adapter
    from timelens_eval.benchmarks import load_benchmark
    from timelens_eval.runner import run_benchmark
    from timelens_eval.runner_main import DEFAULT_BENCHMARKS

    built = build_adapter(adapter, adapter_args)  # bad args / credentials fail here
    override = _frames_override(fps, max_frames, frame_sampler, built)
    base = base.model_copy(update={"frames": override})
    names = names or list(DEFAULT_BENCHMARKS)
    loaded = [load_benchmark(n, annotations, video_root=video_root) for n in names]
    _check_videos(built, loaded, base)
    results = []
    for index, bench in enumerate(loaded):
        target = output
        if output is not None and len(loaded) > 1:
            target = output / f"{bench.name}.json"
        if index > 0:
            built = build_adapter(adapter, adapter_args)
        options = base.model_copy(
            update={"output": target, "protocol": _protocol_for(protocol, bench)}
        )
        try:
            outcome = run_benchmark(built, bench, options, adapter_name=adapter)
        except KeyboardInterrupt:
            typer.echo(
                "interrupted: finished samples are saved; run the same command to resume",
                err=True,
            )
            raise typer.Exit(130) from None
        results.append(_report(outcome))
    _print_table([r for r in results if r is not None])


def _check_videos(adapter, loaded: list, options) -> None:  # noqa: ANN001
    """Every benchmark's videos, before the first request of the first benchmark."""
    from timelens_eval.runner import parse_shard, select_samples
    from timelens_eval.runner_preflight import missing_video_ids

    shard = parse_shard(options.shard)
    for bench in loaded:
        samples = [s for _, s in select_samples(bench.samples, options.limit, shard)]
        missing_video_ids(adapter, bench, samples, allow_missing=options.allow_missing)


def _report(outcome):  # noqa: ANN001, ANN202
    state = "done" if outcome.result is not None else "incomplete"
    missing = getattr(outcome, "missing_videos", 0)
    skipped = f"; {missing} with a missing video, left out of the metrics" if missing else ""
    typer.echo(
        f"{outcome.paths.header if outcome.result else outcome.paths.samples}: {state}, "
        f"{outcome.total} samples ({outcome.resumed} resumed, {outcome.ran} run, "
        f"{outcome.errors} errors{skipped}) in {outcome.seconds:.1f} s",
        err=True,
    )
    return outcome.result


def _run_default(base, names: list[str], output: Path | None) -> None:  # noqa: ANN001
    from timelens_eval.runner_main import DEFAULT_BENCHMARKS, run_default

    if output is not None:
        base = base.model_copy(update={"runs_dir": output})
    try:
        outcomes = run_default(
            base,
            benchmarks=names or DEFAULT_BENCHMARKS,
            on_result=_report,
            note=lambda text: typer.echo(text, err=True),
        )
    except KeyboardInterrupt:
        typer.echo("interrupted: finished samples are saved; rerun to resume", err=True)
        raise typer.Exit(130) from None
    _print_table(
        [o.result for o in outcomes if o.result is not None],
        title="Default models (95% CIs, bootstrap over videos)",
    )


def merge(
    headers: Annotated[list[Path], typer.Argument(help="Header files (*.json) of all shards.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Merged header path (default: the shard name without it)."
        ),
    ] = None,
) -> None:
    """Join the shards of one run (checks specs, duplicates and completeness)."""
    import re

    from timelens_eval.runner_merge import merge_shards

    if output is None:
        stem = re.sub(r"\.shard-\d+-of-\d+$", "", headers[0].stem)
        if stem == headers[0].stem:
            raise ConfigError("merge: cannot derive the output name; pass --output")
        output = headers[0].with_name(stem + ".json")
    merged = merge_shards(headers, output)
    typer.echo(f"{output}: {merged.summary.n} samples from {len(headers)} shards", err=True)
    _print_table([merged])


def adapters_list() -> None:
    """List registered adapters (built-in and from installed packages)."""
    from rich.table import Table

    from timelens_eval.adapters import ADAPTERS, adapter_source, discover_adapters
    from timelens_eval.errors import TimelensError

    discover_adapters()
    table = Table()
    for column in ("name", "source", "type", "frames", "target / status"):
        table.add_column(column)
    for name in ADAPTERS.names():
        target = ADAPTERS.target(name) or "(object)"
        try:
            from timelens_eval.adapters import get_adapter_class

            cls = get_adapter_class(name)
            row = [cls.model_type, "yes" if cls.needs_frames else "no", target]
        except TimelensError as exc:
            row = ["-", "-", f"unavailable: {exc}"]
        table.add_row(name, adapter_source(name), *row)
    _console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``run``, ``merge`` and ``adapters list`` to ``app``."""
    app.command("run")(run)
    app.command("merge")(merge)
    adapters_app = typer.Typer(help="Model adapters.", no_args_is_help=True)
    adapters_app.command("list")(adapters_list)
    app.add_typer(adapters_app, name="adapters")
