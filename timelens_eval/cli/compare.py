"""CLI commands: ``compare`` (original vs refined rankings) and ``report`` (HTML + Markdown)."""

from __future__ import annotations

from pathlib import Path

import typer

_RESULTS = typer.Argument(
    ...,
    metavar="PATH...",
    help="Result files or folders (folders are searched for *.json; sidecar and lock files "
    "are skipped).",
)
_METRIC = typer.Option("mIoU", "--metric", metavar="NAME", help="Metric that ranks the models.")
_BOOT = typer.Option(
    1000, "--bootstrap", metavar="N", help="Bootstrap draws over videos (0: none)."
)
_SEED = typer.Option(0, "--seed", metavar="N", help="Bootstrap seed.")
_ANN = typer.Option(
    [],
    "--annotations",
    metavar="NAME=FILE",
    help="The annotation file of benchmark NAME (repeatable), read for per-sample metadata "
    "such as the synthetic benchmark's error categories.",
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("compare")(compare)
    app.command("report")(report)


def _run(results: list[Path], metric: str, bootstrap: int, seed: int, annotations: list[str]):  # type: ignore[no-untyped-def]
    from timelens_eval.compare import CompareOptions, compare_results, load_results
    from timelens_eval.leaderboard.validate import parse_annotation_args

    loaded = load_results(results)
    options = CompareOptions(
        metric=metric,
        bootstrap=bootstrap,
        seed=seed,
        annotations=parse_annotation_args(annotations),
    )
    return loaded, compare_results(loaded, options)


def compare(
    results: list[Path] = _RESULTS,
    metric: str = _METRIC,
    bootstrap: int = _BOOT,
    seed: int = _SEED,
    annotations: list[str] = _ANN,
    as_json: bool = typer.Option(False, "--json", help="Print the full comparison as JSON."),
) -> None:
    """Compare model rankings on every original/refined benchmark pair."""
    from timelens_eval.report.markdown import estimate_text

    _, comparison = _run(results, metric, bootstrap, seed, annotations)
    if as_json:
        typer.echo(comparison.model_dump_json(indent=2))
        return
    if not comparison.pairs:
        typer.echo("no original/refined pair has results for the same models")
    for pair in comparison.pairs:
        typer.echo(f"{pair.original} -> {pair.refined}  (ranked by {pair.metric}, 1 = best)")
        typer.echo(f"  Kendall tau  {estimate_text(pair.kendall_tau)}")
        typer.echo(f"  Spearman rho {estimate_text(pair.spearman_rho)}")
        width = max(len(m.model) for m in pair.models)
        for m in pair.models:
            o, r = m.original[pair.metric].value, m.refined[pair.metric].value
            typer.echo(
                f"  {m.model:<{width}}  {m.model_type:<11} {o:6.1f} -> {r:6.1f}  "
                f"rank {m.rank_original:>3} -> {m.rank_refined:>3}  ({m.rank_shift:+d})"
            )
        for g in pair.group_shift:
            typer.echo(f"  {g.model_type}: mean rank shift {g.mean_rank_shift:+.2f} (n={g.n})")
        for note in pair.notes:
            typer.echo(f"  note: {note}")


def report(
    results: list[Path] = _RESULTS,
    out: Path = typer.Option(
        ..., "--out", metavar="DIR", help="Folder for report.html, report.md, JSON."
    ),
    metric: str = _METRIC,
    bootstrap: int = _BOOT,
    seed: int = _SEED,
    annotations: list[str] = _ANN,
) -> None:
    """Write the HTML report (offline, plotly inlined) and a Markdown summary."""
    from timelens_eval.report import write_report

    loaded, comparison = _run(results, metric, bootstrap, seed, annotations)
    paths = write_report(comparison, loaded, out)
    for kind, path in paths.items():
        typer.echo(f"{kind}: {path}")
