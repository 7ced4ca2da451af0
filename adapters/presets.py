"""Model-family presets and Qwen-VL request building, shared by ``vllm`` and ``transformers``.

A :class:`ModelPreset` says how a model family was evaluated in the TimeLens paper:

================  ======  ==========  ==============  ===============  ======================
preset            patch   template    encoding        vision input     timestamps reach the
                                                                       model as
================  ======  ==========  ==============  ===============  ======================
``qwen2.5-vl``    28      timelens    none            one video        MRoPE time positions
                                                                       (from the video fps)
``qwen3-vl``      32      timelens    none            one video        ``<t seconds>`` text the
                                                                       processor writes
                                                                       before each frame pair
``timelens-7b``   28      timelens-7b interleaved     video chunks     ``"0.0s"`` text before
                                                                       each frame (the prompt)
``timelens-8b``   32      timelens    none            one video        as ``qwen3-vl``
================  ======  ==========  ==============  ===============  ======================

Every preset samples at 2 fps with a pixel budget of at least 64 and at most 14,336
visual tokens per video (``tokens x patch**2`` pixels), the settings of the TimeLens
evaluation script; frames are resized by the runner's sampler, so the processors get
them at their final size and do not resize again (TimeLens passes ``do_resize=False``).

:func:`build_qwen_inputs` turns a :class:`~timelens_eval.messages.PromptMessage` into
chat content plus the arrays and per-video metadata both engines take:

* ``video``: all frames become one video (the instruction text after it);
* ``chunks``: every run of frames between two text parts becomes its own video, so the
  textual timestamps sit between them (TimeLens-7B);
* ``images``: every frame is an image (a fallback where no video processor can run).

Frame times are passed as video metadata with a millisecond time base (``fps=1000`` and
``frames_indices`` = the frame times in ms), so a processor that derives timestamps from
the metadata (Qwen3-VL) shows the true times, including clip offsets, and the sampling
rate a processor derives from it (Qwen2.5-VL's ``second_per_grid_ts``) is the real one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from timelens_eval.errors import ConfigError, UnknownNameError
from timelens_eval.messages import ImagePart, PromptMessage, TextPart
from timelens_eval.video.types import FrameSpec

__all__ = [
    "PRESETS",
    "ModelPreset",
    "QwenInputs",
    "VisionInput",
    "build_qwen_inputs",
    "frames_fps",
    "resolve_preset",
    "video_metadata",
]

VisionInput = Literal["video", "chunks", "images"]

TIMELENS_FPS = 2.0
MIN_TOKENS = 64
TOTAL_TOKENS = 14336
TIME_BASE = 1000.0
"""Ticks per second of the frame indices in video metadata (milliseconds)."""


def _frames(patch: int) -> FrameSpec:
    return FrameSpec(
        fps=TIMELENS_FPS,
        min_pixels=MIN_TOKENS * patch * patch,
        total_pixels=TOTAL_TOKENS * patch * patch,
        patch=patch,
    )


@dataclass(frozen=True)
class ModelPreset:
    """How one model family is evaluated: sampling, prompt, and how frames reach it."""

    name: str
    family: Literal["qwen2.5-vl", "qwen3-vl"]
    patch: int
    """Pixels per visual-token side: 28 (Qwen2.5-VL) or 32 (Qwen3-VL)."""
    template: str
    encoding: str
    vision: VisionInput
    description: str
    frames: FrameSpec = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "frames", _frames(self.patch))


PRESETS: dict[str, ModelPreset] = {
    p.name: p
    for p in (
        ModelPreset(
            name="qwen2.5-vl",
            family="qwen2.5-vl",
            patch=28,
            template="timelens",
            encoding="none",
            vision="video",
            description="Qwen2.5-VL: the video with its fps; time lives in MRoPE positions.",
        ),
        ModelPreset(
            name="qwen3-vl",
            family="qwen3-vl",
            patch=32,
            template="timelens",
            encoding="none",
            vision="video",
            description="Qwen3-VL: the video with frame times; the processor writes '<t seconds>'.",
        ),
        ModelPreset(
            name="timelens-7b",
            family="qwen2.5-vl",
            patch=28,
            template="timelens-7b",
            encoding="interleaved",
            vision="chunks",
            description="TimeLens-7B (Qwen2.5-VL): '0.0s' before each frame, frames as chunks.",
        ),
        ModelPreset(
            name="timelens-8b",
            family="qwen3-vl",
            patch=32,
            template="timelens",
            encoding="none",
            vision="video",
            description="TimeLens-8B (Qwen3-VL): as Qwen3-VL.",
        ),
    )
}
"""The presets by name."""


def resolve_preset(model: str, preset: str | None = None) -> ModelPreset:
    """The preset named ``preset``, or the one the model name implies (as TimeLens does).

    Name rules, in order: ``timelens-7b``; ``timelens-8b``; ``qwen3`` -> ``qwen3-vl``;
    ``qwen2`` -> ``qwen2.5-vl``. A name matching none raises ``ConfigError`` asking for
    ``preset=``.
    """
    if preset is not None:
        if preset not in PRESETS:
            raise UnknownNameError("model preset", preset, PRESETS)
        return PRESETS[preset]
    name = model.lower().replace("_", "-")
    for key, target in (
        ("timelens-7b", "timelens-7b"),
        ("timelens-8b", "timelens-8b"),
        ("qwen3", "qwen3-vl"),
        ("qwen2", "qwen2.5-vl"),
    ):
        if key in name:
            return PRESETS[target]
    raise ConfigError(
        f"cannot tell the model family of {model!r} from its name; "
        f"pass preset=... (one of {', '.join(PRESETS)})"
    )


@dataclass
class QwenInputs:
    """One request in the form Qwen-VL processors take.

    ``content`` is the user turn for the chat template (``{"type": "text"|"image"|"video"}``
    items in order); ``videos[i]`` is ``N x H x W x 3`` uint8 with ``video_metadata[i]``;
    ``images`` are ``H x W x 3`` uint8.
    """

    content: list[dict[str, Any]]
    videos: list[np.ndarray] = field(default_factory=list)
    video_metadata: list[dict[str, Any]] = field(default_factory=list)
    video_fps: list[float] = field(default_factory=list)
    """Sampling rate of each video (frames per second)."""
    images: list[np.ndarray] = field(default_factory=list)
    frames_presized: bool = True
    """True when every frame side is a multiple of the preset's patch (no resize needed)."""

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages (one user turn) for ``apply_chat_template``."""
        return [{"role": "user", "content": self.content}]


def frames_fps(timestamps: np.ndarray, default: float = TIMELENS_FPS) -> float:
    """Sampling rate of frames at ``timestamps`` (``default`` for fewer than two frames)."""
    if len(timestamps) < 2:
        return float(default)
    span = float(timestamps[-1] - timestamps[0])
    return (len(timestamps) - 1) / span if span > 0 else float(default)


def video_metadata(timestamps: np.ndarray, fps: float) -> dict[str, Any]:
    """Metadata of a video made of frames at ``timestamps`` sampled at ``fps``.

    ``frames_indices`` count milliseconds (the metadata's ``fps`` is 1000), so
    ``index / fps`` is each frame's true time. ``total_num_frames`` is chosen so that
    ``len(indices) / total * 1000`` (the rate processors derive) is ``fps``.
    """
    indices = [int(round(float(t) * TIME_BASE)) for t in timestamps]
    total = max(1, int(round(len(indices) * TIME_BASE / fps)))
    return {
        "fps": TIME_BASE,
        "frames_indices": indices,
        "total_num_frames": total,
        "duration": total / TIME_BASE,
    }


def _stack(run: list[ImagePart]) -> np.ndarray:
    shapes = {p.image.shape for p in run}
    if len(shapes) != 1:
        raise ConfigError(f"frames of one video must share a size, got {sorted(shapes)}")
    return np.stack([np.asarray(p.image, dtype=np.uint8) for p in run])


def build_qwen_inputs(
    message: PromptMessage, preset: ModelPreset, vision: VisionInput | None = None
) -> QwenInputs:
    """Translate ``message`` into Qwen-VL chat content and vision inputs (see module doc).

    ``vision`` overrides the preset's way of passing frames. ``video`` needs the frames
    in one run (text only before and after them); a message whose encoding puts text
    between frames raises ``ConfigError`` pointing at ``chunks`` or ``images``.
    """
    mode = vision or preset.vision
    runs: list[list[ImagePart]] = []
    layout: list[TextPart | int] = []  # text parts and indices into runs, in order
    for part in message.parts:
        if isinstance(part, ImagePart):
            if not layout or not isinstance(layout[-1], int):
                runs.append([])
                layout.append(len(runs) - 1)
            runs[-1].append(part)
        elif part.text:
            layout.append(part)
    if mode == "video" and len(runs) > 1:
        raise ConfigError(
            f"encoding {message.encoding!r} puts text between frames; one video cannot carry "
            "it: use vision=chunks or vision=images"
        )
    out = QwenInputs(content=[])
    all_images = message.images
    out.frames_presized = all(
        p.image.shape[0] % preset.patch == 0 and p.image.shape[1] % preset.patch == 0
        for p in all_images
    )
    fps = frames_fps(message.timestamps, preset.frames.fps)
    for item in layout:
        if isinstance(item, TextPart):
            out.content.append({"type": "text", "text": item.text})
            continue
        run = runs[item]
        if mode == "images":
            for p in run:
                out.content.append({"type": "image"})
                out.images.append(np.asarray(p.image, dtype=np.uint8))
            continue
        out.content.append({"type": "video"})
        out.videos.append(_stack(run))
        times = np.array([p.timestamp for p in run], dtype=np.float64)
        out.video_metadata.append(video_metadata(times, fps))
        out.video_fps.append(fps)
    return out
