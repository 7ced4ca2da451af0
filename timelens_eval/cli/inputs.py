"""CLI command: ``timelens-eval inputs VIDEO --preset NAME``: what a model will get."""

# Typer reads the annotations at runtime: no ``from __future__ import annotations`` here.

import json
from pathlib import Path
from typing import Annotated

import typer

from timelens_eval.errors import ConfigError


def _clip(text: str | None):  # noqa: ANN202
    if text is None:
        return None
    from timelens_eval.spans import Span

    try:
        start, end = (float(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(f"--clip {text!r}: expected START,END in seconds, e.g. 10,40") from None
    return Span(start, end)


def inputs(
    video: Annotated[Path, typer.Argument(help="Video file.", metavar="VIDEO")],
    preset: Annotated[
        str,
        typer.Option(
            metavar="NAME",
            help="Model preset: qwen2.5-vl, qwen3-vl, timelens-7b or timelens-8b.",
        ),
    ],
    engine: Annotated[
        str,
        typer.Option(metavar="NAME", help="Whose request to build: transformers or vllm."),
    ] = "transformers",
    model: Annotated[
        str | None,
        typer.Option(
            metavar="PATH",
            help="Checkpoint (folder or Hub name) whose processor and tokenizer to use "
            "(default: a tiny offline processor of the preset's family).",
        ),
    ] = None,
    query: Annotated[str, typer.Option(metavar="TEXT", help="The sentence to ground.")] = (
        "a person opens the door"
    ),
    clip: Annotated[
        str | None,
        typer.Option(metavar="START,END", help="Only this part of the video, in seconds."),
    ] = None,
    frame_sampler: Annotated[
        str | None,
        typer.Option(
            metavar="NAME", help="Override the preset's frame sampler: qwen-vl-utils or pts."
        ),
    ] = None,
    trust_remote_code: Annotated[
        bool, typer.Option(help="Load the checkpoint's own processor code (TimeLens-7B).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show what a model gets for VIDEO: frames, timestamps, grid, visual tokens, prompt.

    Runs the adapters' real request building and the Hugging Face processor; needs no
    weights (torch, transformers and torchvision: the transformers-video extra)."""
    from timelens_eval.adapters import get_adapter_class

    get_adapter_class("transformers")  # registers the adapters package (and checks it)
    from timelens_eval.adapters.inputs import describe_inputs

    report = describe_inputs(
        video,
        preset,
        engine=engine,  # type: ignore[arg-type]
        model=model,
        query=query,
        clip=_clip(clip),
        sampler=frame_sampler,
        trust_remote_code=trust_remote_code,
    )
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
        return
    times = ", ".join(f"{t:.2f}" for t in report.timestamps[:8])
    more = f", ... ({report.n_frames} in all)" if report.n_frames > 8 else ""
    lines = [
        f"preset {report.preset}, engine {report.engine}, processor: {report.processor}",
        f"frames: {report.n_frames} ({report.sampler} sampler), "
        f"{report.frame_size[0]}x{report.frame_size[1]} pixels each",
        f"frame times (s): {times}{more}",
        f"video grid (t, h, w): {report.video_grid_thw[:4]}"
        + (f" ... ({len(report.video_grid_thw)} videos)" if len(report.video_grid_thw) > 4 else ""),
        f"visual tokens: {report.visual_tokens}; input ids: {report.n_input_ids} "
        f"(sha256 {report.input_ids_sha256[:16]}...)",
        f"template {report.template}, timestamp encoding {report.encoding}",
        "prompt:",
        report.prompt,
    ]
    typer.echo("\n".join(lines))


def register(app: typer.Typer) -> None:
    """Add ``inputs`` to ``app``."""
    app.command("inputs")(inputs)
