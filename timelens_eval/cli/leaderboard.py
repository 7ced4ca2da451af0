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
    paths: list[Path] | None = typer.Argument(
        None,
        metavar="PATH...",
        help="More result files or folders, as for --results.",
        show_default=False,
    ),
    results: list[Path] = typer.Option(
        [],
        "--results",
        metavar="PATH",
        help="Result files or folders (folders are searched for *.json; sidecar and lock "
        "files are skipped); repeat it or list several: --results results/ runs/.",
        show_default=False,
    ),
    out: Path = typer.Option(..., "--out", metavar="DIR", help="Output folder of the site."),
    metric: str = typer.Option(
        "mIoU", "--metric", metavar="NAME", help="Metric of the rank-shift view."
    ),
    bootstrap: int = typer.Option(
        200, "--bootstrap", metavar="N", help="Bootstrap draws for the rank-correlation CIs."
    ),
) -> None:
    """Write a static site (works from file://, no server, CDN or network)."""
    from timelens_eval.errors import ConfigError
    from timelens_eval.leaderboard import BuildOptions, build_site

    # `--results A B` parses as --results A plus the argument B: both are results.
    sources = [*results, *(paths or [])]
    if not sources:
        raise ConfigError("leaderboard build: give the result files or folders (--results PATH)")
    options = BuildOptions(results=sources, out=out, metric=metric, bootstrap=bootstrap)
    summary = build_site(options)
    typer.echo(
        f"built {summary.pages} pages for {summary.models} models from {summary.results} results "
        f"in {summary.seconds:.2f} s: {out / 'index.html'} ({summary.index_bytes / 1024:.0f} KiB; "
        f"site {summary.total_bytes / 1024:.0f} KiB)"
    )


def validate(
    files: list[Path] = typer.Argument(
        ...,
        metavar="RESULT.json...",
        help="Result files or folders; sidecar and lock files among them are skipped.",
    ),
    annotations: list[str] = typer.Option(
        [],
        "--annotations",
        metavar="NAME=FILE",
        help="The annotation file of benchmark NAME (repeatable).",
    ),
    no_load: bool = typer.Option(
        False, "--no-load", help="Do not load benchmarks (skips coverage checks)."
    ),
    tolerance: float = typer.Option(
        0.05, "--tolerance", metavar="POINTS", help="Aggregate tolerance (percentage points)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the verdicts as JSON."),
) -> None:
    """Check result files for the leaderboard. Exit 0: all valid; 1: some invalid; 2: usage."""
    from timelens_eval.errors import ConfigError
    from timelens_eval.leaderboard.validate import (
        ValidateOptions,
        expand_result_paths,
        parse_annotation_args,
        reports_json,
        validate_files,
    )

    options = ValidateOptions(
        annotations=parse_annotation_args(annotations),
        load_benchmarks=not no_load,
        tolerance=tolerance,
    )
    reports = validate_files(expand_result_paths(files), options)
    if all(r.skipped for r in reports):
        raise ConfigError(
            "leaderboard validate: no result file among the arguments "
            f"({len(reports)} sidecar or lock files skipped)"
        )
    if as_json:
        typer.echo(json.dumps(reports_json(reports), indent=2))
    else:
        for r in reports:
            if r.skipped:
                typer.echo(f"skipped {r.path} ({r.skipped})")
                continue
            typer.echo(f"{'ok     ' if r.ok else 'INVALID'} {r.path}")
            for reason in r.reasons:
                typer.echo(f"  reason: {reason}")
            for warning in r.warnings:
                typer.echo(f"  warning: {warning}")
    if not all(r.ok for r in reports):
        raise typer.Exit(1)
