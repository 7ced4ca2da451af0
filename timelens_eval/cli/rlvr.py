"""CLI commands: ``rlvr estimate-difficulty``, ``rlvr sample``, ``rlvr train``."""

# Typer reads the annotations at runtime: no ``from __future__ import annotations`` here.

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from timelens_eval.errors import ConfigError


def _parse_options(text: str | None) -> dict[str, Any]:
    """``k=v,k2=v2`` with JSON values where they parse (``videos=2`` is an int)."""
    options: dict[str, Any] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"expected key=value, got {item!r}")
        try:
            options[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.strip()] = raw
    return options


def estimate_difficulty(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="RLVR config: model, inputs, generation length and data filters all from it "
            "(instead of -a/--adapter-args/-b).",
        ),
    ] = None,
    adapter: Annotated[
        str | None,
        typer.Option("--adapter", "-a", help="Adapter of the model before RL.", metavar="NAME"),
    ] = None,
    adapter_args: Annotated[
        str | None,
        typer.Option(
            "--adapter-args",
            help="The adapter's arguments: key=value,... (values may be JSON).",
            metavar="K=V,...",
        ),
    ] = None,
    benchmark: Annotated[
        str,
        typer.Option(
            "--benchmark", "-b", help="Benchmark with the training split.", metavar="NAME"
        ),
    ] = "synthetic-refined",
    split: Annotated[
        str | None,
        typer.Option(
            "--split",
            help="Loader split (synthetic benchmarks); '' to not pass one.",
            metavar="NAME",
        ),
    ] = "train",
    loader_args: Annotated[
        str | None,
        typer.Option(
            "--loader-args",
            help="More loader options: key=value,... (e.g. videos=200).",
            metavar="K=V,...",
        ),
    ] = None,
    annotations: Annotated[
        Path | None, typer.Option("--annotations", help="Annotation file.", metavar="FILE")
    ] = None,
    video_root: Annotated[
        Path | None, typer.Option("--video-root", help="Folder of the videos.", metavar="DIR")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where the run goes: a .json path is the result file, another path a folder.",
            metavar="PATH",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the first N samples.", metavar="N")
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", "-c", min=1, metavar="N", help="Samples the model answers at once."
        ),
    ] = 1,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Progress bar (default: on a terminal only).",
        ),
    ] = None,
    max_new_tokens: Annotated[
        int,
        typer.Option(
            "--max-new-tokens", min=1, metavar="N", help="Greedy answer length (no --config)."
        ),
    ] = 512,
    filters: Annotated[
        bool,
        typer.Option(
            "--filters/--no-filters",
            help="TimeLens' data filters first (audio queries, 5-500 s, 200 words, spans "
            "inside); --config takes them from its data.filters.",
        ),
    ] = True,
) -> None:
    """Run the model to be trained over the training split; each sample's IoU is its
    difficulty estimate (the run's samples file)."""
    from timelens_eval.rlvr.filters import DataFilters
    from timelens_eval.rlvr.pipeline import estimate_difficulty as run
    from timelens_eval.rlvr.pipeline import estimate_difficulty_for_config

    show = sys.stderr.isatty() if progress is None else progress
    if config is not None:
        if adapter is not None or adapter_args is not None:
            raise ConfigError("--config gives the model: drop -a/--adapter-args")
        from timelens_eval.rlvr.config import load_config

        overrides = {"difficulty.output": str(output)} if output is not None else {}
        outcome = estimate_difficulty_for_config(
            load_config(config, overrides), limit=limit, concurrency=concurrency, progress=show
        )
    else:
        if adapter is None:
            raise ConfigError("give --config FILE or -a ADAPTER")
        options = _parse_options(loader_args)
        if split:
            options.setdefault("split", split)
        outcome = run(
            adapter,
            adapter_args,
            benchmark,
            annotations=annotations,
            video_root=video_root,
            loader_options=options,
            output=output,
            limit=limit,
            concurrency=concurrency,
            progress=show,
            max_new_tokens=max_new_tokens,
            filters=DataFilters() if filters else None,
        )
    if outcome.filters is not None:
        typer.echo(f"data filters: {outcome.filters.summary()}")
    mean = "n/a" if outcome.mean_iou is None else f"{outcome.mean_iou:.3f}"
    typer.echo(f"difficulty: {outcome.samples} samples, mean IoU {mean}")
    typer.echo(f"difficulty file: {outcome.difficulty_file}")


def sample(
    difficulty: Annotated[
        Path, typer.Option("--difficulty", "-d", help="Difficulty (samples) file.", metavar="FILE")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Selection file to write (JSON).", metavar="PATH")
    ],
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="RLVR config whose `sampling` section is used.", metavar="FILE"
        ),
    ] = None,
    target_size: Annotated[
        int | None,
        typer.Option(
            "--target-size",
            min=1,
            help="Total target, split evenly over the 9 TimeLens buckets.",
            metavar="N",
        ),
    ] = None,
    mean: Annotated[
        float | None, typer.Option("--mean", help="Gaussian centre (IoU).", metavar="IOU")
    ] = None,
    std: Annotated[
        float | None, typer.Option("--std", help="Gaussian width.", metavar="IOU")
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", metavar="N", help="Seed of the draw (default: the config's, 42)."),
    ] = None,
) -> None:
    """Draw the training subset with the Gaussian difficulty sampler (writes a plot too)."""
    from timelens_eval.rlvr.pipeline import sample_training_set
    from timelens_eval.rlvr.sampling import SamplingConfig, default_buckets

    base = SamplingConfig()
    if config is not None:
        from timelens_eval.rlvr.config import load_config

        base = load_config(config).sampling
    update: dict[str, Any] = {}
    if target_size is not None:
        update["buckets"] = tuple(default_buckets(target_size))
    for key, value in (("mean", mean), ("std", std), ("seed", seed)):
        if value is not None:
            update[key] = value
    settings = SamplingConfig.model_validate({**base.model_dump(), **update})
    selection = sample_training_set(difficulty, settings, output)
    typer.echo(f"selected {len(selection.sample_ids)} samples ({selection.unbucketed} unbucketed)")
    for bucket, pool, chosen in selection.bucket_counts:
        if pool:
            typer.echo(
                f"  duration [{bucket.min_duration:g}, {bucket.max_duration:g}]: "
                f"{chosen}/{pool} (target {bucket.target_size})"
            )
    typer.echo(f"selection: {output}  plot: {output.with_suffix('.png')}")


def train(
    config: Annotated[
        Path, typer.Option("--config", help="RLVR config (YAML or JSON).", metavar="FILE")
    ],
    max_steps: Annotated[
        int | None, typer.Option("--max-steps", help="Override grpo.max_steps.", metavar="N")
    ] = None,
    output_dir: Annotated[
        Path | None, typer.Option("--output-dir", help="Override output_dir.", metavar="DIR")
    ] = None,
    selection: Annotated[
        Path | None,
        typer.Option(
            "--selection", help="Override data.selection (file from `rlvr sample`).", metavar="FILE"
        ),
    ] = None,
) -> None:
    """Train with GRPO (TimeLens settings, video inputs, early stopping); writes metrics,
    curves.png and the final checkpoint."""
    from timelens_eval.rlvr.config import load_config
    from timelens_eval.rlvr.pipeline import train as run

    overrides: dict[str, Any] = {}
    if max_steps is not None:
        overrides["grpo.max_steps"] = max_steps
    if output_dir is not None:
        overrides["output_dir"] = str(output_dir)
    if selection is not None:
        overrides["data.selection"] = str(selection)
    outcome = run(load_config(config, overrides))
    stop = (
        f", stopped early at step {outcome.stopped_early_at}"
        if outcome.stopped_early_at is not None
        else ""
    )
    typer.echo(f"trained {outcome.steps} steps{stop}")
    typer.echo(f"checkpoint: {outcome.final_checkpoint}")
    typer.echo(f"metrics: {outcome.metrics_file}  curves: {outcome.curves_plot}")


def sft(
    config: Annotated[
        Path, typer.Option("--config", help="RLVR config (YAML or JSON).", metavar="FILE")
    ],
    max_steps: Annotated[
        int | None, typer.Option("--max-steps", help="Override sft.max_steps.", metavar="N")
    ] = None,
    output_dir: Annotated[
        Path | None, typer.Option("--output-dir", help="Override output_dir.", metavar="DIR")
    ] = None,
) -> None:
    """Supervised warm start on the ground-truth answers (before GRPO); writes
    OUTPUT_DIR/sft/final."""
    from timelens_eval.rlvr.config import load_config
    from timelens_eval.rlvr.pipeline import warm_start

    overrides: dict[str, Any] = {}
    if max_steps is not None:
        overrides["sft.max_steps"] = max_steps
    if output_dir is not None:
        overrides["output_dir"] = str(output_dir)
    final = warm_start(load_config(config, overrides))
    typer.echo(f"SFT checkpoint: {final}")


def reference(
    config: Annotated[
        Path, typer.Option("--config", help="Reference recipe (YAML or JSON).", metavar="FILE")
    ],
    output_dir: Annotated[
        Path | None, typer.Option("--output-dir", help="Override output_dir.", metavar="DIR")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a config key: dotted.key=JSON value (repeatable).",
            metavar="KEY=VALUE",
        ),
    ] = None,
) -> None:
    """Train the reference model from scratch (SFT, difficulty, sampling, GRPO) and
    evaluate it beside the baselines; writes OUTPUT_DIR/evaluation.json."""
    from timelens_eval.rlvr.config import load_config
    from timelens_eval.rlvr.reference import run_reference

    overrides = _parse_options(",".join(set_ or []))
    if output_dir is not None:
        overrides["output_dir"] = str(output_dir)
    report = run_reference(load_config(config, overrides))
    for name, metrics in report["models"].items():
        cells = "  ".join(f"{k} {v['value']:.1f}" for k, v in metrics.items())
        typer.echo(f"{name:>10}: {cells}")
    for pair, test in report["paired"].items():
        typer.echo(
            f"{pair}: {test['metric']} {test['difference']:+.1f} "
            f"[{test['ci_low']:+.1f}, {test['ci_high']:+.1f}] p={test['p_value']:.3f}"
        )


def register(app: typer.Typer) -> None:
    """Add the ``rlvr`` command group to ``app``."""
    group = typer.Typer(
        name="rlvr",
        help="RL with verifiable rewards (GRPO, reward = temporal IoU): difficulty "
        "estimation, Gaussian sampling, training.",
        no_args_is_help=True,
    )
    group.command("estimate-difficulty")(estimate_difficulty)
    group.command("sample")(sample)
    group.command("sft")(sft)
    group.command("train")(train)
    group.command("reference")(reference)
    app.add_typer(group, name="rlvr")
