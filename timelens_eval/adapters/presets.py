"""Model-family presets and Qwen-VL request building, shared by ``vllm`` and ``transformers``.

A :class:`ModelPreset` says how a model family was evaluated in the TimeLens paper:

================  ======  ==========  ===================  ==============  ==================
preset            patch   template    encoding             vision input    timestamps reach
                                                                           the model as
================  ======  ==========  ===================  ==============  ==================
``qwen2.5-vl``    28      timelens    none                 one video       MRoPE time
                                                                           positions (from
                                                                           the sample fps)
``qwen3-vl``      32      timelens    none                 one video       ``<t seconds>``
                                                                           text the processor
                                                                           writes before each
                                                                           temporal patch
``timelens-7b``   28      timelens-7b interleaved-patches  one video per   ``"0.0s"`` text
                                                           temporal patch  before each
                                                                           temporal patch
``timelens-8b``   32      timelens    none                 one video       as ``qwen3-vl``
================  ======  ==========  ===================  ==============  ==================

Every preset samples frames as the TimeLens evaluation does, with qwen-vl-utils' rules
(:mod:`timelens_eval.video.qwen_sampling`): 2 fps, an even number of frames (at most 768),
at least 64 and at most 14,336 visual tokens per video (``tokens x patch**2`` pixels),
resized once by torchvision; the processors get them with ``do_resize=False``.

:func:`build_qwen_inputs` turns a :class:`~timelens_eval.messages.PromptMessage` into
chat content plus the arrays and per-video metadata both engines take:

* ``video``: all frames become one video (the instruction text after it);
* ``chunks``: every run of frames between two text parts becomes its own video, so the
  textual timestamps sit between them (TimeLens-7B: one 2-frame temporal patch each);
* ``images``: every frame is an image (a fallback where no video processor can run).

Video metadata is what qwen-vl-utils gives the processors: the source frame indices, the
stream's average frame rate and the source frame count, so Qwen3-VL writes the same
``<t seconds>`` and Qwen2.5-VL gets the same sample rate. For frames of the ``pts``
sampler (no source indices), frame times are passed with a millisecond time base
(``fps=1000`` and ``frames_indices`` = the frame times in ms).
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
    "is_checkpoint_processor",
    "processor_call",
    "vllm_multimodal",
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
        sampler="qwen-vl-utils",
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
            encoding="interleaved-patches",
            vision="chunks",
            description="TimeLens-7B (Qwen2.5-VL): '0.0s' before each 2-frame temporal patch.",
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
    source = message.video
    fps = source.sample_fps if source else frames_fps(message.timestamps, preset.frames.fps)
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
        if source is not None:
            out.video_metadata.append(
                {
                    "fps": source.fps,
                    "frames_indices": [source.frame_indices[p.index] for p in run],
                    "total_num_frames": source.total_frames,
                }
            )
        else:
            times = np.array([p.timestamp for p in run], dtype=np.float64)
            out.video_metadata.append(video_metadata(times, fps))
        out.video_fps.append(fps)
    return out


def is_checkpoint_processor(processor: Any) -> bool:
    """True for a processor whose class comes with the checkpoint (``trust_remote_code``),
    not from transformers."""
    module = type(processor).__module__ or ""
    return not module.startswith("transformers.") and not module.startswith("timelens_eval")


def _single(values: list[float]) -> float | list[float]:
    return values[0] if len(set(values)) == 1 else list(values)


def processor_call(
    inputs: QwenInputs, preset: ModelPreset, *, own_processor: bool = False
) -> dict[str, Any]:
    """Vision arguments of the Hugging Face processor call for ``inputs`` (all but the text).

    * The stock Qwen-VL processors get the frames (``N x H x W x 3`` uint8; they give the
      same pixel values as qwen-vl-utils' float tensors), ``video_metadata``,
      ``do_sample_frames=False`` and ``do_resize=False`` (the frames are already sized).
      Qwen2.5-VL also gets ``fps``: transformers 4.x derives its ``second_per_grid_ts`` from
      it, 5.x from the metadata's sample rate; both then equal the official ``2 / fps``.
    * A checkpoint's own processor (``own_processor``, TimeLens-7B's with
      ``trust_remote_code``) gets what the TimeLens evaluation hands it: each video as a
      ``(T x C x H x W float tensor, metadata)`` pair, and ``do_resize=False``.
    """
    call: dict[str, Any] = {}
    if inputs.images:
        call["images"] = list(inputs.images)
    if inputs.videos:
        if own_processor:
            import torch

            call["videos"] = [
                (torch.from_numpy(np.ascontiguousarray(v)).permute(0, 3, 1, 2).float(), dict(m))
                for v, m in zip(inputs.videos, inputs.video_metadata, strict=True)
            ]
        else:
            call["videos"] = list(inputs.videos)
            call["video_metadata"] = [dict(m) for m in inputs.video_metadata]
            call["do_sample_frames"] = False
            if preset.family == "qwen2.5-vl":
                call["fps"] = _single(inputs.video_fps)
    if inputs.frames_presized:
        call["do_resize"] = False
    return call


def vllm_multimodal(inputs: QwenInputs, preset: ModelPreset) -> dict[str, Any]:
    """``multi_modal_data`` and ``mm_processor_kwargs`` of a vLLM prompt for ``inputs``.

    vLLM (0.11+) calls the same Hugging Face processor. Qwen3-VL videos travel as
    ``(frames, metadata)`` (vLLM needs the metadata for the ``<t seconds>`` text and reads
    ``do_sample_frames`` from it); Qwen2.5-VL videos as frames, with ``fps`` in the processor
    options. The options are those of :func:`processor_call`: ``do_resize=False``,
    ``do_sample_frames=False``.
    """
    data: dict[str, Any] = {}
    kwargs: dict[str, Any] = {}
    if inputs.videos:
        if preset.family == "qwen3-vl":
            videos: list[Any] = [
                (v, {**m, "do_sample_frames": False})
                for v, m in zip(inputs.videos, inputs.video_metadata, strict=True)
            ]
        else:
            videos = list(inputs.videos)
            kwargs["fps"] = _single(inputs.video_fps)
        data["video"] = videos[0] if len(videos) == 1 else videos
        kwargs["do_sample_frames"] = False
    if inputs.images:
        from PIL import Image

        images = [Image.fromarray(np.ascontiguousarray(i)) for i in inputs.images]
        data["image"] = images[0] if len(images) == 1 else images
    if inputs.frames_presized:
        kwargs["do_resize"] = False
    return {"multi_modal_data": data, "mm_processor_kwargs": kwargs}
