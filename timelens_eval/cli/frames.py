"""CLI command ``frames``: show what a model would see of a video."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from timelens_eval.prompts import TEMPLATES
from timelens_eval.video.encodings import ENCODINGS

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command(name="frames")(frames)


_TEMPLATES = ", ".join(TEMPLATES.names())
_ENCODINGS = ", ".join(ENCODINGS.names())


def frames(
    video: Path = typer.Argument(..., help="Video file.", show_default=False, metavar="VIDEO"),  # noqa: B008
    fps: float = typer.Option(2.0, "--fps", help="Target frames per second.", metavar="FPS"),
    max_frames: int | None = typer.Option(None, "--max-frames", help="Cap on frames.", metavar="N"),
    encoding: str = typer.Option(
        "none",
        "--encoding",
        help=f"Timestamp encoding: {_ENCODINGS}.",
        metavar="NAME",
    ),
    template: str = typer.Option(
        "timelens", "--template", help=f"Prompt template: {_TEMPLATES}.", metavar="NAME"
    ),
    query: str = typer.Option(
        "<query>", "--query", help="Query text put into the prompt.", metavar="TEXT"
    ),
    family: str | None = typer.Option(
        None,
        "--family",
        help="TimeLens pixel budget of a model family (qwen2.5-vl, qwen3-vl); sets --patch.",
        metavar="NAME",
    ),
    patch: int = typer.Option(
        28,
        "--patch",
        help="Round frame sides to this multiple (with a pixel budget).",
        metavar="PIXELS",
    ),
    min_pixels: int | None = typer.Option(
        None, "--min-pixels", help="Min pixels/frame.", metavar="N"
    ),
    max_pixels: int | None = typer.Option(
        None, "--max-pixels", help="Max pixels/frame.", metavar="N"
    ),
    total_pixels: int | None = typer.Option(
        None, "--total-pixels", help="Pixel budget over all frames.", metavar="N"
    ),
    start: float | None = typer.Option(None, "--start", help="Clip start (s).", metavar="SECONDS"),
    end: float | None = typer.Option(None, "--end", help="Clip end (s).", metavar="SECONDS"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    sheet: Path | None = typer.Option(  # noqa: B008
        None,
        "--sheet",
        help="Write a contact sheet PNG of the frames as encoded.",
        metavar="FILE.png",
    ),
    columns: int = typer.Option(
        6, "--columns", help="Tiles per row of the contact sheet.", metavar="N"
    ),
    cache_dir: Path | None = typer.Option(  # noqa: B008
        None, "--cache-dir", help="Frame cache folder.", metavar="DIR"
    ),
) -> None:
    """Print the timestamps (and prompt) a model would get for VIDEO."""
    from timelens_eval.errors import ConfigError
    from timelens_eval.prompts import build_prompt
    from timelens_eval.spans import Span
    from timelens_eval.video.budget import (
        FrameSize,
        has_budget,
        timelens_frame_spec,
        tokens_per_frame,
    )
    from timelens_eval.video.cache import FrameCache
    from timelens_eval.video.sampler import sample_frames
    from timelens_eval.video.types import FrameSpec

    try:
        if family is not None:
            base = timelens_frame_spec(family, fps=fps, max_frames=max_frames)
            spec = base.model_copy(
                update={
                    k: v
                    for k, v in (
                        ("min_pixels", min_pixels),
                        ("max_pixels", max_pixels),
                        ("total_pixels", total_pixels),
                    )
                    if v is not None
                }
            )
        else:
            spec = FrameSpec(
                fps=fps,
                max_frames=max_frames,
                min_pixels=min_pixels,
                max_pixels=max_pixels,
                total_pixels=total_pixels,
                patch=patch,
            )
    except ValueError as exc:  # pydantic validation
        raise ConfigError(f"bad frame options: {exc.errors()[0]['msg']}") from exc  # type: ignore[attr-defined]
    clip = None
    if start is not None or end is not None:
        clip = Span(start or 0.0, end if end is not None else float("inf"))
        if not clip.start < clip.end:
            raise ConfigError(f"--start must be before --end, got {clip}")
    cache = FrameCache(cache_dir) if cache_dir is not None else None
    sampled = sample_frames(video, spec, clip=clip, cache=cache)
    duration = float(sampled.video_duration or 0.0)
    message = build_prompt(query, sampled, template, encoding, duration)
    n, height, width = len(sampled), int(sampled.images.shape[1]), int(sampled.images.shape[2])
    report = {
        "video": str(video),
        "duration": round(duration, 6),
        "source_fps": round(float(sampled.source_fps or 0.0), 6),
        "frames": n,
        "height": height,
        "width": width,
        "tokens_per_frame": (
            tokens_per_frame(FrameSize(height, width), spec.patch) if has_budget(spec) else None
        ),
        "timestamps": [round(float(t), 6) for t in sampled.timestamps],
        "frame_spec": spec.model_dump(mode="json"),
        "clip": [clip.start, clip.end] if clip is not None else None,
        "encoding": encoding,
        "template": message.template,
        "template_hash": message.template_hash,
        "prompt": message.text("<image>"),
    }
    if sheet is not None:
        from timelens_eval.video.sheet import contact_sheet

        cap = f", at most {spec.max_frames}" if spec.max_frames else ""
        title = (
            f"{video.name}: {n} frames (target {spec.fps:g} fps{cap}), {width}x{height}, "
            f"encoding {encoding}, template {message.template}"
        )
        contact_sheet(message, sheet, columns=columns, title=title)
        report["sheet"] = str(sheet)
    if as_json:
        typer.echo(json.dumps(report))
        return
    typer.echo(f"{video}: {duration:.3f} s, {report['source_fps']:.3f} fps source")
    typer.echo(
        f"{n} frames of {width}x{height}"
        + (f", {report['tokens_per_frame']} tokens each" if has_budget(spec) else "")
    )
    typer.echo("timestamps: " + ", ".join(f"{t:.3f}" for t in sampled.timestamps))
    typer.echo(f"template {message.template} ({message.template_hash}), encoding {encoding}:")
    typer.echo(message.text("<image>"))
    if sheet is not None:
        typer.echo(f"contact sheet: {sheet}")
