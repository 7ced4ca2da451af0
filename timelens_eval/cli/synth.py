"""CLI commands: ``synth generate`` writes a synthetic split (videos and annotations);
``synth confusions`` tells where a model's answers on a split land, event by event."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from timelens_eval.errors import ConfigError

__all__ = ["register"]

_VARIANT_CHOICES = ("both", "original", "refined")


def register(app: typer.Typer) -> None:
    """Add the ``synth`` command group to ``app``."""
    synth = typer.Typer(
        help="Synthetic benchmark: procedurally generated videos with exact ground truth.",
        no_args_is_help=True,
    )

    @synth.command("generate")
    def generate(
        out: Annotated[
            Path, typer.Option(help="Folder to write videos/ and annotations into.", metavar="DIR")
        ],
        split: Annotated[
            str, typer.Option(help="Split name, e.g. test or train.", metavar="NAME")
        ] = "test",
        seed: Annotated[
            int, typer.Option(help="The same seed gives identical files.", metavar="N")
        ] = 0,
        variant: Annotated[
            str, typer.Option(help="Annotation file(s): both, original, refined.", metavar="WHICH")
        ] = "both",
        videos: Annotated[
            int | None,
            typer.Option(help="Number of videos (default: 72 test, 400 train).", metavar="N"),
        ] = None,
        workers: Annotated[
            int, typer.Option(help="Processes rendering videos (bytes do not change).", metavar="N")
        ] = 1,
    ) -> None:
        """Generate a split: MP4 files plus synthetic-original.json / synthetic-refined.json."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        from timelens_eval.synthetic.annotations import VARIANTS
        from timelens_eval.synthetic.generate import generate_split
        from timelens_eval.synthetic.inject import ERROR_RATES
        from timelens_eval.synthetic.plan import SplitConfig, validate_config

        if variant not in _VARIANT_CHOICES:
            raise ConfigError(f"--variant must be one of {', '.join(_VARIANT_CHOICES)}")
        if videos is not None and videos < 1:
            raise ConfigError("--videos must be at least 1")
        chosen = VARIANTS if variant == "both" else (variant,)
        config = SplitConfig(split=split, seed=seed, videos=videos)
        validate_config(config)
        console = Console(stderr=True)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task(f"rendering {split} split", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            made = generate_split(config, out, variants=chosen, progress=progress, workers=workers)

        plan = made.plan
        assert plan is not None  # generate_split always plans
        samples = plan.samples
        counts = plan.category_counts()
        typer.echo(
            f"{len(plan.scenes)} videos, {len(samples)} samples in {made.seconds:.1f} s "
            f"-> {made.root}"
        )
        for name, path in made.annotations.items():
            typer.echo(f"  {name}: {path}")
        if "original" in chosen and samples:
            typer.echo(
                "  injected errors (original): "
                + ", ".join(
                    f"{name} {100 * counts[name] / len(samples):.1f}% (target {100 * rate:.1f}%)"
                    for name, rate in ERROR_RATES.items()
                )
            )

    @synth.command("confusions")
    def confusions(
        predictions: Annotated[
            Path,
            typer.Argument(
                help="A run's samples.jsonl (or any prediction file) on the split.",
                metavar="PREDICTIONS",
            ),
        ],
        split: Annotated[
            str, typer.Option(metavar="NAME", help="Split the predictions were made on.")
        ] = "test",
        seed: Annotated[int, typer.Option(metavar="N", help="Seed of that split.")] = 0,
        videos: Annotated[
            int | None,
            typer.Option(
                metavar="N", help="Number of videos of that split (default: its default)."
            ),
        ] = None,
        threshold: Annotated[
            float, typer.Option(help="IoU that counts as a match.", metavar="IOU")
        ] = 0.5,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print JSON instead of a table.")
        ] = False,
    ) -> None:
        """Sort each answer by the event it lands on: its own, another event of the video, none."""
        import json

        from timelens_eval.predictions import read_predictions
        from timelens_eval.synthetic.confusions import CATEGORIES, event_confusions
        from timelens_eval.synthetic.plan import SplitConfig, plan_split, validate_config

        if not 0.0 < threshold <= 1.0:
            raise ConfigError("--threshold must be in (0, 1]")
        config = SplitConfig(split=split, seed=seed, videos=videos)
        validate_config(config)
        result = event_confusions(read_predictions(predictions), plan_split(config), threshold)
        if as_json:
            typer.echo(json.dumps(result.to_dict(), indent=2))
            return
        typer.echo(
            f"{predictions}: {result.samples} answered samples of {split} (seed {seed})"
            + (f", {result.missing} not answered" if result.missing else "")
            + f", IoU >= {threshold:g}"
        )
        for name in CATEGORIES:
            typer.echo(f"  {name:<13} {result.counts[name]:>6}  {result.share(name):5.1f}%")
        typer.echo(
            f"  answers repeating another query's span of the same video: "
            f"{result.repeated_span_share:.1f}%"
        )
        typer.echo(
            f"  a perfect event detector choosing among a video's events at random: "
            f"R1 {result.random_event_r1:.1f}"
        )

    app.add_typer(synth, name="synth")
