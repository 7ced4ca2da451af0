"""CLI commands: ``run``, ``merge`` and ``adapters list``."""

# Typer reads the annotations at runtime: no ``from __future__ import annotations`` here.

import functools
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from timelens_eval.errors import ConfigError


def _console():  # noqa: ANN202
    from rich.console import Console

    # Tables are wide; outside a terminal do not squeeze them into 80 columns.
    return Console() if sys.stdout.isatty() else Console(width=200)


def _cell(result, name: str) -> str:  # noqa: ANN001
    metric = result.summary.metrics.get(name)
    if metric is None:
        return "-"
    if metric.ci_low is None or metric.ci_high is None:
        return f"{metric.value:.1f}"
    return f"{metric.value:.1f} [{metric.ci_low:.1f}, {metric.ci_high:.1f}]"


def results_table(results: list, title: str | None = None):  # noqa: ANN201
    """A rich table, model x benchmark: each metric of the results with its 95% CI."""
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


def _print_table(results: list, title: str | None = None) -> None:
    if results:
        _console().print(results_table(results, title=title))


def _frames_override(fps: float | None, max_frames: int | None, sampler: str | None, adapter):  # noqa: ANN001
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


def _names(registry_module: str, attribute: str) -> str:
    import importlib

    return ", ".join(getattr(importlib.import_module(registry_module), attribute).names())


_TEMPLATES = _names("timelens_eval.prompts", "TEMPLATES")
_ENCODINGS = _names("timelens_eval.video.encodings", "ENCODINGS")


def run(
    adapter: Annotated[
        str | None,
        typer.Option(
            "--adapter",
            "-a",
            metavar="NAME",
            help="Adapter (`timelens-eval adapters list`); without it, the default models.",
        ),
    ] = None,
    adapter_args: Annotated[
        str | None,
        typer.Option(
            metavar="K=V,...",
            help="The adapter's arguments: key=value,key2=value2 (values may be JSON).",
        ),
    ] = None,
    benchmark: Annotated[
        list[str] | None,
        typer.Option(
            "--benchmark",
            "-b",
            metavar="NAME",
            help="Benchmark (`timelens-eval benchmarks list`); repeat for several "
            "(default: synthetic-original and synthetic-refined).",
        ),
    ] = None,
    annotations: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="The benchmark's annotation file (one benchmark only)."),
    ] = None,
    video_root: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Folder of the videos (default: the benchmark's, see `timelens-eval data "
            "status`).",
        ),
    ] = None,
    allow_missing: Annotated[
        bool,
        typer.Option(
            "--allow-missing",
            help="Run although videos are missing; those samples become errors no metric counts.",
        ),
    ] = False,
    limit: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="Only the first N samples.")
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            metavar="I/N",
            help="Run shard I (0-based) of N; each shard writes its own files "
            "(NAME.shard-I-of-N.json), joined by `timelens-eval merge`.",
        ),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            metavar="N",
            help="Requests in flight (API adapters; a local engine such as vllm keeps its "
            "own max_in_flight).",
        ),
    ] = 8,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Where results go. A path ending in .json is the result file (one "
            "benchmark; a shard's name gets .shard-I-of-N); any other path is a folder "
            "that gets BENCHMARK.json per benchmark (per model: MODEL/BENCHMARK.json). "
            "Default: RUNS_DIR/ADAPTER/MODEL/BENCHMARK.json.",
        ),
    ] = None,
    runs_dir: Annotated[
        Path,
        typer.Option(
            metavar="DIR",
            help="Root of the default output (RUNS_DIR/ADAPTER/MODEL/; the default models: "
            "RUNS_DIR/default/MODEL/).",
        ),
    ] = Path("runs"),
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Discard earlier output; do not resume.")
    ] = False,
    retry_errors: Annotated[
        bool, typer.Option("--retry-errors", help="When resuming, run failed samples again.")
    ] = False,
    max_attempts: Annotated[int, typer.Option(min=1, metavar="N", help="Tries per sample.")] = 4,
    timeout: Annotated[
        float | None, typer.Option(metavar="SECONDS", help="Time limit of one request try.")
    ] = None,
    max_retry_after: Annotated[
        float,
        typer.Option(min=0, metavar="SECONDS", help="Longest server-asked wait honoured."),
    ] = 120.0,
    max_answer_chars: Annotated[
        int,
        typer.Option(min=1, metavar="N", help="Cut longer answers (flagged in the record)."),
    ] = 65536,
    parse_timeout: Annotated[
        float,
        typer.Option(min=0.001, metavar="SECONDS", help="Time one answer may take to parse."),
    ] = 10.0,
    quarantine_corrupt: Annotated[
        bool,
        typer.Option(
            "--quarantine-corrupt",
            help="On resume, move corrupt records aside and run their samples again.",
        ),
    ] = False,
    fps: Annotated[
        float | None,
        typer.Option(metavar="FPS", help="Frames sampled per second (overrides the adapter's)."),
    ] = None,
    max_frames: Annotated[
        int | None,
        typer.Option(metavar="N", help="At most N frames a video (overrides the adapter's)."),
    ] = None,
    frame_sampler: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="How frames are chosen (overrides the adapter's): qwen-vl-utils (as the "
            "TimeLens evaluation; the Qwen presets) or pts (a frame every 1/fps s).",
        ),
    ] = None,
    max_new_tokens: Annotated[
        int,
        typer.Option(min=1, metavar="N", help="Most tokens an answer may have (TimeLens: 512)."),
    ] = 512,
    protocol: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Scoring protocol: timelens-live (times rounded to whole seconds, ties to "
            "even) or timelens (times as written). Default: timelens-live on TimeLens-Bench, "
            "timelens elsewhere.",
        ),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(metavar="NAME", help=f"Prompt template: {_TEMPLATES}."),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(metavar="NAME", help=f"Timestamp encoding: {_ENCODINGS}."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, metavar="N", help="Frame-decoding processes (default: CPUs, max 4)."),
    ] = None,
    bootstrap: Annotated[
        int,
        typer.Option(min=0, metavar="N", help="Bootstrap replicates of the CIs (0: none)."),
    ] = 1000,
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
        output=output,
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
        generation=GenerationConfig(max_new_tokens=max_new_tokens),
        allow_missing=allow_missing,
    )
    from timelens_eval.benchmarks import load_benchmark
    from timelens_eval.runner import ModelEntry, run_matrix
    from timelens_eval.runner.defaults import DEFAULT_BENCHMARKS, default_models, default_root
    from timelens_eval.runner.matrix import build_models, check_output
    from timelens_eval.runner.options import parse_shard

    parse_shard(shard)  # a bad --shard fails before anything is loaded
    _check_writable(output if output is not None else runs_dir)
    names = list(benchmark or [])
    if annotations is not None and len(names) != 1:
        raise ConfigError("--annotations needs exactly one --benchmark")
    if adapter_args is not None and adapter is None:
        raise ConfigError("--adapter-args needs --adapter")
    names = names or list(DEFAULT_BENCHMARKS)
    if adapter is None:  # the default models
        if protocol is not None:
            base = base.model_copy(update={"protocol": named_protocol(protocol)})
        check_output(base, 2, len(names), per_model=True)
        models = build_models(default_models(lambda text: typer.echo(text, err=True)))
        root, choose, title = default_root(base), None, _DEFAULT_TITLE
        again = "rerun to resume"
    else:
        check_output(base, 1, len(names), per_model=False)
        models = build_models([ModelEntry(adapter, adapter_args)])  # bad args fail here
        override = _frames_override(fps, max_frames, frame_sampler, models[0][1])
        base = base.model_copy(update={"frames": override})
        root, choose, title = None, functools.partial(_protocol_for, protocol), None
        again = "run the same command to resume"

    loaded = [load_benchmark(n, annotations, video_root=video_root) for n in names]
    try:
        outcomes = run_matrix(
            models, loaded, base, per_model_root=root, protocol_for=choose, on_result=_report
        )
    except KeyboardInterrupt:
        typer.echo(f"interrupted: finished samples are saved; {again}", err=True)
        raise typer.Exit(130) from None
    _print_table([o.result for o in outcomes if o.result is not None], title=title)


_DEFAULT_TITLE = "Default models (95% CIs, bootstrap over videos)"


def _check_writable(target: Path) -> None:
    """Fail before anything is loaded when the output cannot be written: the nearest
    existing folder above ``target`` must be a folder this process may write to."""
    import os

    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing == target and target.is_file():
        return  # an earlier result file: resumed or refused later, with its reason
    if not existing.is_dir():
        raise ConfigError(
            f"cannot write {target}: a part of the path is a file, not a folder ({existing})"
        )
    if os.statvfs(existing).f_flag & os.ST_RDONLY:
        raise ConfigError(f"cannot write {target}: read-only file system ({existing})")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write {target}: permission denied ({existing})")


def _report(outcome):  # noqa: ANN001, ANN202
    if outcome.quarantined:
        typer.echo(
            f"{outcome.paths.samples}: {outcome.quarantined} corrupt record(s) moved to "
            f"{outcome.paths.quarantine} and run again",
            err=True,
        )
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


def merge(
    headers: Annotated[
        list[Path],
        typer.Argument(
            metavar="SHARD.json...",
            help="The result files of all shards (e.g. runs/A/M/B.shard-*.json); sidecar and "
            "lock files among them are skipped.",
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE.json",
            help="The merged result file (default: the shards' name without .shard-I-of-N).",
        ),
    ] = None,
) -> None:
    """Join the shards of one run (checks specs, duplicates and completeness)."""
    import re

    from timelens_eval.runner import merge_shards
    from timelens_eval.store import sidecar_kind

    shards = [h for h in headers if sidecar_kind(h) is None]
    if not shards:
        raise ConfigError("merge: no shard result file among the arguments (only sidecars)")
    if output is None:
        stem = re.sub(r"\.shard-\d+-of-\d+$", "", shards[0].stem)
        if stem == shards[0].stem:
            raise ConfigError("merge: cannot derive the output name; pass --output")
        output = shards[0].with_name(stem + ".json")
    merged = merge_shards(shards, output)
    typer.echo(f"{output}: {merged.summary.n} samples from {len(shards)} shards", err=True)
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
