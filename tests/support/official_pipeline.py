"""The TimeLens evaluation's model input, built with its real pieces: the oracle of the
input-fidelity tests.

The official evaluation (TencentARC/TimeLens, ``evaluation/eval_dataloader.py`` and
``evaluation/utils.py``; the ``train`` branch's ``training/data/grounding.py`` for
TimeLens-7B's timestamps) builds each request like this:

* a user turn of ``{"type": "video", "video": PATH, "min_pixels": 64 * p * p,
  "total_pixels": 14336 * p * p, "fps": 2}`` and the prompt text, ``p`` = 28 (Qwen2.5-VL,
  TimeLens-7B) or 32 (Qwen3-VL, TimeLens-8B);
* qwen-vl-utils' ``process_vision_info`` reads the frames (decord backend, as TimeLens
  installs ``qwen-vl-utils[decord]``), with ``image_patch_size=16`` for Qwen3-VL;
* the processor, loaded with ``do_resize=False``, gets the text, the frames and: for
  Qwen2.5-VL the sample rate (``fps``); for Qwen3-VL the video metadata; for TimeLens-7B the
  ``(frames, metadata)`` pairs its own processor reads.

This module does the same with qwen-vl-utils 0.0.14 and the installed Hugging Face
processors. It is test code: it states what the official pipeline does, so the tests can
compare the project's inputs with it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("FORCE_QWENVL_VIDEO_READER", "decord")

GROUNDING_PROMPT = (
    "Please find the visual event described by the sentence '{}', determining its starting "
    "and ending times. The format should be: 'The event happens in <start time> - "
    "<end time> seconds'."
)
TIMESTAMP_PROMPT = (
    "You are given a video with multiple frames. The numbers before each video frame "
    "indicate its sampling timestamp (in seconds). "
) + GROUNDING_PROMPT

PATCH = {"qwen2.5-vl": 28, "qwen3-vl": 32, "timelens-7b": 28, "timelens-8b": 32}


@dataclass
class OfficialInput:
    """The official request for one video and query."""

    text: str
    """The chat-templated prompt before the processor expands the vision tokens."""
    frames: Any
    """qwen-vl-utils' frames: ``T x C x H x W`` float tensor."""
    metadata: dict[str, Any]
    """qwen-vl-utils' video metadata: ``fps``, ``frames_indices``, ``total_num_frames``."""
    sample_fps: float
    processed: Any | None
    """The processor's output (None for TimeLens-7B without its own processor)."""


def video_element(
    preset: str, video: str | Path, clip: tuple[float, float] | None = None
) -> dict[str, Any]:
    p = PATCH[preset]
    element: dict[str, Any] = {
        "type": "video",
        "video": str(video),
        "min_pixels": 64 * p * p,
        "total_pixels": 14336 * p * p,
        "fps": 2,
    }
    if clip is not None:
        element["video_start"], element["video_end"] = clip
    return element


def official_input(
    processor: Any,
    preset: str,
    video: str | Path,
    query: str,
    clip: tuple[float, float] | None = None,
) -> OfficialInput:
    """The request the TimeLens evaluation builds for ``preset`` (see the module doc)."""
    from qwen_vl_utils import process_vision_info

    prompt = TIMESTAMP_PROMPT if preset == "timelens-7b" else GROUNDING_PROMPT
    messages = [
        {
            "role": "user",
            "content": [
                video_element(preset, video, clip),
                {"type": "text", "text": prompt.format(query)},
            ],
        }
    ]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if preset in ("qwen3-vl", "timelens-8b"):
        images, videos, kwargs = process_vision_info(
            messages, image_patch_size=16, return_video_kwargs=True, return_video_metadata=True
        )
        frames, metadata = videos[0]
        processed = processor(
            text=[text],
            images=images,
            videos=[frames],
            video_metadata=[metadata],
            padding=True,
            return_tensors="pt",
            do_resize=False,
            **kwargs,
        )
        return OfficialInput(text, frames, metadata, _sample_fps(metadata), processed)
    if preset == "timelens-7b":
        # The frames and metadata TimeLens-7B's own processor receives.
        images, videos = process_vision_info(messages, return_video_metadata=True)
        frames, metadata = videos[0]
        return OfficialInput(text, frames, metadata, _sample_fps(metadata), None)
    images, videos, kwargs = process_vision_info(messages, return_video_kwargs=True)
    _, with_metadata = process_vision_info(messages, return_video_metadata=True)
    metadata = with_metadata[0][1]
    sample_fps = float(kwargs["fps"][0])
    if _transformers_major() >= 5:
        # transformers 5 refuses the list of rates qwen-vl-utils gives (and derives
        # second_per_grid_ts from video metadata instead): the official call cannot run
        # as written there. Its pixels and ids do not depend on the rate; the tests check
        # second_per_grid_ts against the official 2 / sample_fps separately.
        kwargs = {k: v for k, v in kwargs.items() if k != "fps"}
    processed = processor(
        text=[text],
        images=images,
        videos=videos,
        padding=True,
        return_tensors="pt",
        do_resize=False,
        **kwargs,
    )
    return OfficialInput(text, videos[0], metadata, sample_fps, processed)


def _transformers_major() -> int:
    import transformers

    return int(transformers.__version__.split(".", 1)[0])


def _sample_fps(metadata: dict[str, Any]) -> float:
    indices = metadata["frames_indices"]
    return len(indices) / max(metadata["total_num_frames"], 1e-6) * metadata["fps"]


def timelens_7b_timestamps(metadata: dict[str, Any]) -> list[float]:
    """TimeLens-7B's timestamps: one per 2-frame temporal patch, ``frames_indices[::2] / fps``
    (the ``train`` branch's ``training/data/grounding.py``)."""
    indices = [int(i) for i in metadata["frames_indices"]]
    return [i / float(metadata["fps"]) for i in indices[::2]]
