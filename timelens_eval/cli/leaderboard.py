"""CLI commands: ``leaderboard build`` (static site) and ``leaderboard validate``."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the ``leaderboard`` command group to ``app``."""
    group = typer.Typer(
        help="Build the static leaderboard site and validate submissions.", no_args_is_help=True
    )
    group.command("build")(build)
    group.command("validate")(validate)
    app.add_typer(group, name="leaderboard")


def build(
    results: list[Path] = typer.Option(..., "--results", help="Result files or folders."),
    out: Path = typer.Option(..., "--out", help="Output folder of the site."),
    metric: str = typer.Option("mIoU", "--metric", help="Metric of the rank-shift view."),
    bootstrap: int = typer.Option(200, "--bootstrap", help="Bootstrap draws for tau CIs."),
) -> None:
    """Write a static site (works from file://, no server, CDN or network)."""
    from timelens_eval.leaderboard import BuildOptions, build_site

    summary = build_site(BuildOptions(results=results, out=out, metric=metric, bootstrap=bootstrap))
    typer.echo(
        f"built {summary.pages} pages for {summary.models} models from {summary.results} results "
        f"in {summary.seconds:.2f} s: {out / 'index.html'} ({summary.index_bytes / 1024:.0f} KiB; "
        f"site {summary.total_bytes / 1024:.0f} KiB)"
    )


def validate(
    files: list[Path] = typer.Argument(..., help="Result header files (*.json)."),
    annotations: list[str] = typer.Option(
        [], "--annotations", help="NAME=FILE: the annotation file of benchmark NAME."
    ),
    no_load: bool = typer.Option(
        False, "--no-load", help="Do not load benchmarks (skips coverage checks)."
    ),
    tolerance: float = typer.Option(0.05, "--tolerance", help="Aggregate tolerance (points)."),
    as_json: bool = typer.Option(False, "--json", help="Print the verdicts as JSON."),
) -> None:
    """Check result files for the leaderboard. Exit 0: all valid; 1: some invalid; 2: usage."""
    from timelens_eval.leaderboard.validate import (
        ValidateOptions,
        parse_annotation_args,
        reports_json,
        validate_files,
    )

    options = ValidateOptions(
        annotations=parse_annotation_args(annotations),
        load_benchmarks=not no_load,
        tolerance=tolerance,
    )
    reports = validate_files(files, options)
    if as_json:
        typer.echo(json.dumps(reports_json(reports), indent=2))
    else:
        for r in reports:
            typer.echo(f"{'ok     ' if r.ok else 'INVALID'} {r.path}")
            for reason in r.reasons:
                typer.echo(f"  reason: {reason}")
            for warning in r.warnings:
                typer.echo(f"  warning: {warning}")
    if not all(r.ok for r in reports):
        raise typer.Exit(1)
