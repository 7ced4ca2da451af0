"""CLI commands: ``timelens-eval data download NAME...`` and ``data status [NAME...]``."""

# Typer reads the annotations at runtime: no ``from __future__ import annotations`` here.

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def _root(root: Path | None) -> Path:
    from timelens_eval.benchmarks.base import data_root

    return root if root is not None else data_root()


def _env_note(root: Path) -> None:
    from timelens_eval.benchmarks.base import DATA_ENV, data_root

    if root.resolve() != data_root().resolve():
        typer.echo(
            f"note: `run` and `data status` look in {data_root()}; set {DATA_ENV}={root} "
            "to use these files",
            err=True,
        )


def download(
    names: Annotated[
        list[str],
        typer.Argument(help="Benchmark names, e.g. charades-timelens.", metavar="NAME..."),
    ],
    root: Annotated[
        Path | None,
        typer.Option(
            "--root", metavar="DIR", help="Data folder (default: $TIMELENS_EVAL_DATA or ./data)."
        ),
    ] = None,
    revision: Annotated[
        str | None,
        typer.Option(
            "--revision",
            metavar="REV",
            help="Hub branch, tag or commit (default: the pinned one, else main).",
        ),
    ] = None,
) -> None:
    """Download benchmarks from the Hugging Face Hub into the data folder, or print the
    manual steps for those whose videos are not on the Hub."""
    from timelens_eval.benchmarks.base import get_benchmark_spec
    from timelens_eval.datafiles.hub import download_benchmark
    from timelens_eval.datafiles.sources import hub_source, manual_steps

    where = _root(root)
    for name in names:
        get_benchmark_spec(name)  # unknown names fail before anything is downloaded
    downloaded = False
    for name in names:
        if hub_source(name) is not None:
            report = download_benchmark(
                name, where, revision=revision, note=lambda text: typer.echo(text, err=True)
            )
            downloaded = True
            typer.echo(
                f"{name}: {report.videos_present:,} videos in {report.videos}, annotations "
                f"{report.annotations} ({report.repo_id}@{report.commit[:12]})"
            )
            if report.videos_missing:
                typer.echo(
                    f"warning: {name}: {report.videos_missing:,} videos the annotations name are "
                    f"not in the shards (see `timelens-eval data status {name}`)",
                    err=True,
                )
            continue
        steps = manual_steps(name, where)
        if steps is None:
            typer.echo(f"{name}: generated on first use; nothing to download")
            continue
        typer.echo(f"{name}: the videos are not on the Hugging Face Hub; get the files by hand:")
        for number, step in enumerate(steps, start=1):
            typer.echo(f"  {number}. {step}")
        typer.echo(f"  then check with: timelens-eval data status {name}")
    if downloaded:
        _env_note(where)


def _print_status(rows: list) -> None:  # noqa: ANN001
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Benchmark files")
    for column in ("benchmark", "source", "annotations", "sha256", "videos", "folder searched"):
        table.add_column(column)
    for row in rows:
        if row.annotations is None:
            table.add_row(row.name, row.source, "(generated)", "-", "-", "-")
            continue
        if not row.found:
            ann, videos = f"{row.annotations} (missing)", "-"
        elif row.error is not None:
            ann, videos = f"{row.annotations} (unreadable)", "-"
        else:
            ann = row.annotations
            videos = f"{row.present:,} present, {row.missing:,} missing"
        digest = row.content_hash[:16] if row.content_hash else "-"
        source = f"{row.source}@{row.commit[:12]}" if row.commit else row.source
        table.add_row(row.name, source, ann, digest, videos, row.video_folder or "-")
    Console(width=None if sys.stdout.isatty() else 220).print(table)
    for row in rows:
        if row.error is not None:
            typer.echo(f"{row.name}: {row.error}")
        elif row.missing:
            typer.echo(f"{row.name}: missing e.g. {', '.join(row.first_missing)}")


def status(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Benchmark names (default: all but the generated).", metavar="NAME..."),
    ] = None,
    root: Annotated[
        Path | None,
        typer.Option(
            "--root", metavar="DIR", help="Data folder (default: $TIMELENS_EVAL_DATA or ./data)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """Per benchmark: the annotation file, its SHA-256, the videos present and missing and
    the folder searched."""
    from timelens_eval.benchmarks import catalog  # noqa: F401  (registers built-ins)
    from timelens_eval.benchmarks.base import BENCHMARKS, get_benchmark_spec
    from timelens_eval.datafiles.status import benchmark_status

    if names:
        for name in names:
            get_benchmark_spec(name)
    else:
        names = [n for n in BENCHMARKS if get_benchmark_spec(n).default_annotations is not None]
    rows = [benchmark_status(name, _root(root)) for name in names]
    if as_json:
        typer.echo(json.dumps([row.to_dict() for row in rows]))
        return
    _print_status(rows)


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to ``app``."""
    group = typer.Typer(
        help="Download benchmark files and check which are present.", no_args_is_help=True
    )
    group.command("download")(download)
    group.command("status")(status)
    app.add_typer(group, name="data")
