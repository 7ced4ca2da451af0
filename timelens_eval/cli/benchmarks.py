"""CLI commands: ``timelens-eval benchmarks list`` and ``benchmarks info NAME``."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["describe_benchmark", "register"]


def describe_benchmark(bench: Any) -> dict[str, Any]:
    """Counts and duration statistics of a loaded :class:`Benchmark`."""
    from timelens_eval.benchmarks._io import beyond

    samples = bench.samples
    durations_by_video: dict[str, float] = {}
    for sample in samples:
        durations_by_video.setdefault(sample.video_id, sample.duration)
    durations = sorted(durations_by_video.values())
    gt_lengths = [w.length for s in samples for w in s.gt]
    return {
        "name": bench.name,
        "variant": bench.variant,
        "split": bench.split,
        "source": bench.source,
        "content_hash": bench.content_hash,
        "videos": len(durations_by_video),
        "queries": len(samples),
        "multi_window_queries": sum(len(s.gt) > 1 for s in samples),
        "gt_windows": len(gt_lengths),
        "gt_beyond_duration": sum(any(beyond(w.end, s.duration) for w in s.gt) for s in samples),
        "duration_s": {
            "min": durations[0],
            "median": statistics.median(durations),
            "mean": statistics.fmean(durations),
            "max": durations[-1],
            "total_h": sum(durations) / 3600.0,
        },
        "gt_length_s": {
            "min": min(gt_lengths),
            "median": statistics.median(gt_lengths),
            "mean": statistics.fmean(gt_lengths),
            "max": max(gt_lengths),
        },
        "notes": dict(bench.notes),
    }


def list_benchmarks(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the registered benchmarks and their original/refined pairs."""
    from timelens_eval.benchmarks import catalog  # noqa: F401  (registers built-ins)
    from timelens_eval.benchmarks.base import BENCHMARKS, default_annotation_path

    rows = []
    for name in BENCHMARKS:
        spec = BENCHMARKS.get(name)
        default = default_annotation_path(spec)
        rows.append(
            {
                "name": spec.name,
                "title": spec.title,
                "variant": spec.variant,
                "pair": spec.pair,
                "split": spec.split,
                "annotations": str(default) if default is not None else None,
                "found": bool(default is not None and Path(default).is_file()),
                "official": spec.official,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows))
        return
    _console().print(benchmarks_table(rows))


def _console() -> Any:
    import sys

    from rich.console import Console

    # On a terminal, its width; in a pipe or a file, wide enough for every column.
    return Console() if sys.stdout.isatty() else Console(width=200)


def benchmarks_table(rows: list[dict[str, Any]]) -> Any:
    """The ``benchmarks list`` table. Names and pairs are never cut or wrapped (they are
    what a user copies into ``--benchmark``); on a narrow terminal the annotation path
    wraps instead."""
    from rich.table import Table

    table = Table(title="Benchmarks")
    for column in ("name", "variant", "pair", "split"):
        table.add_column(column, no_wrap=True, min_width=max(len(str(r[column])) for r in rows))
    table.add_column("default annotations", overflow="fold")
    for row in rows:
        where = row["annotations"] or "(generated)"
        if row["annotations"] and not row["found"]:
            where += " (missing)"
        table.add_row(row["name"], row["variant"] or "-", row["pair"] or "-", row["split"], where)
    return table


def info(
    name: Annotated[str, typer.Argument(help="Registered benchmark name.", metavar="NAME")],
    annotations: Annotated[
        Path | None,
        typer.Option(
            "--annotations",
            "-a",
            help="Annotation file (default: registered place).",
            metavar="FILE",
        ),
    ] = None,
    clip_gt: Annotated[
        bool, typer.Option("--clip-gt", help="Charades-STA: clip GT windows to the duration.")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="TimeLens-100K: refuse reversed or empty windows instead of dropping."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Videos, queries, multi-window queries, GT beyond duration and duration statistics."""
    from timelens_eval.benchmarks.base import load_benchmark

    options: dict[str, bool] = {}
    if clip_gt:
        options["clip_gt"] = True
    if strict:
        options["strict"] = True
    bench = load_benchmark(name, annotations, **options)  # type: ignore[arg-type]
    described = describe_benchmark(bench)
    if as_json:
        typer.echo(json.dumps(described))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{name} ({described['source']})", show_header=False)
    table.add_column("field")
    table.add_column("value", justify="right")
    for key in ("videos", "queries", "multi_window_queries", "gt_beyond_duration"):
        table.add_row(key.replace("_", " "), f"{described[key]:,}")
    d = described["duration_s"]
    table.add_row(
        "duration (s) min / median / mean / max",
        f"{d['min']:.1f} / {d['median']:.1f} / {d['mean']:.1f} / {d['max']:.1f}",
    )
    table.add_row("total video hours", f"{d['total_h']:.1f}")
    g = described["gt_length_s"]
    table.add_row("GT length (s) median / mean", f"{g['median']:.1f} / {g['mean']:.1f}")
    table.add_row("content sha256", described["content_hash"][:16])
    for key, value in described["notes"].items():
        table.add_row(f"note: {key}", str(value))
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add the ``benchmarks`` command group to ``app``."""
    group = typer.Typer(help="List benchmarks and describe annotation files.", no_args_is_help=True)
    group.command("list")(list_benchmarks)
    group.command("info")(info)
    app.add_typer(group, name="benchmarks")
