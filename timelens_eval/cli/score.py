"""CLI command: ``timelens-eval score PREDICTIONS``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from timelens_eval.errors import ConfigError

_PARSE_OPTIONS = (
    "labelled",
    "units",
    "swap_reversed",
    "round_to_seconds",
    "clip_to_duration",
)
_OPTS = ", ".join(_PARSE_OPTIONS)


def build_protocol(options: list[str], unparsed: str, base: str = "timelens") -> Any:
    """The protocol named ``base`` with the named parse options switched on."""
    from timelens_eval.protocol import named_protocol

    start = named_protocol(base)
    flags = {}
    for name in options:
        key = name.replace("-", "_")
        if key not in _PARSE_OPTIONS:
            from timelens_eval.errors import did_you_mean

            hint = did_you_mean(key, _PARSE_OPTIONS)
            raise ConfigError(
                f"unknown parse option {name!r}"
                + (f"; did you mean {hint}?" if hint else f"; known: {', '.join(_PARSE_OPTIONS)}")
            )
        flags[key] = True
    if unparsed not in ("zero", "exclude"):
        raise ConfigError(f"--unparsed must be 'zero' or 'exclude', got {unparsed!r}")
    if not flags and unparsed == start.unparsed:
        return start
    parse = start.parse.model_copy(update=flags)
    return start.model_copy(update={"name": "custom", "parse": parse, "unparsed": unparsed})


def _fmt(value: float | None) -> str:
    return (
        "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"
    )


def _print_table(result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    summary = result.summary
    how = ", detected" if result.format_detected else ""
    title = f"{Path(result.predictions).name} ({result.format}{how})"
    if result.benchmark:
        title += f" on {result.benchmark}"
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value (%)", justify="right")
    level = int(round((summary.ci_level or 0.95) * 100))
    how = "videos resampled" if summary.bootstrap_samples else "over videos"
    table.add_column(f"{level}% CI ({how})", justify="right")
    for name, metric in summary.metrics.items():
        ci = "-" if metric.ci_low is None else f"[{_fmt(metric.ci_low)}, {_fmt(metric.ci_high)}]"
        table.add_row(name, _fmt(metric.value), ci)
    console.print(table)
    cov = result.coverage
    console.print(
        f"n={summary.n} videos={summary.n_videos} parse_failures={summary.parse_failures} "
        f"reversed={summary.reversed} out_of_range={summary.out_of_range}",
        highlight=False,
    )
    line = f"coverage: matched {cov.matched:,}"
    if cov.expected is not None:
        scored = "not scored: --matched-only" if result.matched_only else "scored 0"
        line += (
            f" of {cov.expected:,} samples, missing {len(cov.missing):,} ({scored}), "
            f"extra {len(cov.extra):,}"
        )
    line += f", duplicates {len(cov.duplicates):,}"
    console.print(line, highlight=False)
    if not result.protocol.is_default:
        console.print(f"protocol: {result.protocol.model_dump_json()}", highlight=False)


def score(
    predictions: Annotated[
        Path, typer.Argument(help="Prediction file (.json or .jsonl).", metavar="PREDICTIONS")
    ],
    benchmark: Annotated[
        str | None,
        typer.Option(
            "--benchmark",
            "-b",
            help="Benchmark to score against (default: GT in keys).",
            metavar="NAME",
        ),
    ] = None,
    annotations: Annotated[
        Path | None,
        typer.Option(
            "--annotations", "-a", help="The benchmark's annotation file.", metavar="FILE"
        ),
    ] = None,
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="timelens, timechat, lmms-eval, moment-detr, jsonl or csv (default: detect).",
            metavar="FORMAT",
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail on missing, extra or duplicate predictions.")
    ] = False,
    matched_only: Annotated[
        bool,
        typer.Option(
            "--matched-only", help="Score only the benchmark samples that have a prediction."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-o",
            help="Parse option to switch on (repeatable): " + _OPTS,
            metavar="NAME",
        ),
    ] = None,
    unparsed: Annotated[
        str,
        typer.Option(
            "--unparsed", help="Unparsed answers: zero (default) or exclude.", metavar="RULE"
        ),
    ] = "zero",
    protocol_name: Annotated[
        str,
        typer.Option(
            "--protocol",
            metavar="NAME",
            help="Scoring protocol: timelens (times as written, the default) or timelens-live "
            "(times rounded to whole seconds, ties to even, as the TimeLens evaluation of a "
            "live model does).",
        ),
    ] = "timelens",
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap replicates (0: no CI).", metavar="N")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.", metavar="N")] = 0,
    ci: Annotated[
        str,
        typer.Option(
            "--ci",
            help="CI method: auto (the bootstrap up to 10,000 videos, a cluster-robust "
            "normal interval above), bootstrap or analytic.",
            metavar="METHOD",
        ),
    ] = "auto",
) -> None:
    """Score a prediction file (R1@0.3/0.5/0.7, mIoU with video-level bootstrap CIs)."""
    from timelens_eval.predictions import FORMATS
    from timelens_eval.scoring import score_file

    if format is not None and format not in FORMATS:
        raise ConfigError(f"unknown --format {format!r}; use one of {', '.join(FORMATS)}")
    if annotations is not None and benchmark is None:
        raise ConfigError("--annotations needs --benchmark NAME")
    if matched_only and benchmark is None:
        raise ConfigError("--matched-only needs --benchmark NAME")
    if bootstrap < 0:
        raise ConfigError("--bootstrap must be >= 0")
    if ci not in ("auto", "bootstrap", "analytic"):
        raise ConfigError(f"--ci must be auto, bootstrap or analytic, got {ci!r}")
    protocol = build_protocol(option or [], unparsed, protocol_name)
    bench = None
    if benchmark is not None:
        from timelens_eval.benchmarks.base import load_benchmark

        bench = load_benchmark(benchmark, annotations)
    result = score_file(
        predictions,
        bench,
        protocol,
        format=format,
        bootstrap=bootstrap,
        seed=seed,
        strict=strict,
        ci=ci,  # type: ignore[arg-type]
        matched_only=matched_only,
    )
    if as_json:
        typer.echo(json.dumps(_finite_json(result.to_dict()), allow_nan=False))
    else:
        _print_table(result)


def _finite_json(value: Any) -> Any:
    """NaN/inf become null so the output is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    return value


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("score")(score)
