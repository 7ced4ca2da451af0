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


def _frames_override(fps: float | None, max_frames: int | None, adapter):  # noqa: ANN001
    if fps is None and max_frames is None:
        return None
    base = adapter.default_frames
    update = {}
    if fps is not None:
        update["fps"] = fps
    if max_frames is not None:
        update["max_frames"] = max_frames
    return base.model_copy(update=update)


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
    video_root: Annotated[Path | None, typer.Option(help="Folder of the videos.")] = None,
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
    max_retry_after: Annotated[
        float, typer.Option(min=0, help="Longest server-asked wait honoured (s).")
    ] = 120.0,
    max_answer_chars: Annotated[
        int, typer.Option(min=1, help="Cut longer answers (flagged in the record).")
    ] = 65536,
    parse_timeout: Annotated[
        float, typer.Option(min=0.001, help="Seconds one answer may take to parse.")
    ] = 10.0,
    quarantine_corrupt: Annotated[
        bool,
        typer.Option(
            "--quarantine-corrupt",
            help="On resume, move corrupt records aside and run their samples again.",
        ),
    ] = False,
    fps: Annotated[float | None, typer.Option(help="Override the frame rate.")] = None,
    max_frames: Annotated[int | None, typer.Option(help="Override the frame cap.")] = None,
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
    from timelens_eval.runner import RunOptions

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
        max_retry_after=max_retry_after,
        max_answer_chars=max_answer_chars,
        parse_timeout=parse_timeout,
        quarantine_corrupt=quarantine_corrupt,
        template=template,
        encoding=encoding,
        decode_workers=workers,
        bootstrap=bootstrap,
        progress=show,
    )
    from timelens_eval.runner import parse_shard

    parse_shard(shard)  # a bad --shard fails before anything is loaded
    names = list(benchmark or [])
    if annotations is not None and len(names) != 1:
        raise ConfigError("--annotations needs exactly one --benchmark")
    if adapter_args is not None and adapter is None:
        raise ConfigError("--adapter-args needs --adapter")
    if adapter is None:
        _run_default(base, names, output)
        return

    from timelens_eval.adapters import build_adapter
    from timelens_eval.benchmarks import load_benchmark
    from timelens_eval.runner import run_benchmark
    from timelens_eval.runner_main import DEFAULT_BENCHMARKS

    built = build_adapter(adapter, adapter_args)  # bad args / credentials fail here
    base = base.model_copy(update={"frames": _frames_override(fps, max_frames, built)})
    names = names or list(DEFAULT_BENCHMARKS)
    loaded = [load_benchmark(n, annotations, video_root=video_root) for n in names]
    results = []
    for index, bench in enumerate(loaded):
        target = output
        if output is not None and len(loaded) > 1:
            target = output / f"{bench.name}.json"
        if index > 0:
            built = build_adapter(adapter, adapter_args)
        options = base.model_copy(update={"output": target})
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


def _report(outcome):  # noqa: ANN001, ANN202
    if outcome.quarantined:
        typer.echo(
            f"{outcome.paths.samples}: {outcome.quarantined} corrupt record(s) moved to "
            f"{outcome.paths.quarantine} and run again",
            err=True,
        )
    state = "done" if outcome.result is not None else "incomplete"
    typer.echo(
        f"{outcome.paths.header if outcome.result else outcome.paths.samples}: {state}, "
        f"{outcome.total} samples ({outcome.resumed} resumed, {outcome.ran} run, "
        f"{outcome.errors} errors) in {outcome.seconds:.1f} s",
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
