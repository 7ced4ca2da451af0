"""One input pipeline for a model: difficulty estimation, SFT, GRPO and evaluation.

A model should be trained on exactly what it is evaluated on. :class:`InputSpec` holds
what decides a model's inputs (preset, how frames are passed, frame sampling, prompt
template, timestamp encoding), resolved once from an RLVR config
(:meth:`InputSpec.from_config`). Every stage reads it:

* difficulty estimation and evaluation run the ``transformers`` adapter with
  :meth:`InputSpec.adapter_args` and the runner with the same frames, template and
  encoding; a trained checkpoint gets an inputs file (:meth:`InputSpec.checkpoint_inputs`)
  so that a later ``timelens-eval run`` uses them too;
* SFT and GRPO build each prompt with :func:`prompt_message` (the runner's own
  ``sample_frames`` and ``build_prompt``) and encode it with :func:`encode_message`,
  which calls the adapter's ``build_qwen_inputs`` and the ``transformers`` adapter's
  ``hf_processor_inputs``: the processor gets the very call evaluation makes (frames as
  already sampled, ``do_sample_frames=False``, ``do_resize=False`` for frames sized to
  the patch), not a copy of it.

Without ``torchvision`` (no Hugging Face video processor) ``backend="patches"`` encodes
the same frames and text with the built-in Qwen2-VL patch layout
(:func:`timelens_eval.rlvr.video_grpo.qwen_video_patches`); it is meant for CPU tests of
Qwen2.5-VL and cannot write Qwen3-VL's frame timestamps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from timelens_eval.errors import ConfigError, InputError
from timelens_eval.video.types import Frames, FrameSpec

__all__ = [
    "InputSpec",
    "EncodedPrompt",
    "prompt_message",
    "encode_message",
    "shown_times",
    "snap_row_gt",
    "VIDEO_FIELDS",
]

VIDEO_FIELDS = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")
"""The processor outputs that carry a prompt's videos to the model."""


@dataclass(frozen=True)
class InputSpec:
    """What a model sees: preset, frames, template, encoding and how frames are passed."""

    preset: Any
    """A :class:`timelens_eval.adapters.presets.ModelPreset`."""
    vision: str
    """``video``, ``chunks`` (one video per run of frames between texts) or ``images``."""
    frames: FrameSpec
    template: str
    encoding: str
    system_prompt: str | None = None

    @classmethod
    def from_config(cls, config: Any) -> InputSpec:
        """Resolve an :class:`~timelens_eval.rlvr.config.RLVRConfig`'s inputs.

        The preset is ``config.preset`` or the one the model name implies; ``frames``,
        ``template`` and ``encoding`` default to the preset's; ``input_mode: images``
        passes frames as images, otherwise the preset's way (``video`` or ``chunks``).
        """
        from timelens_eval.adapters.presets import resolve_preset
        from timelens_eval.video.encodings import ENCODINGS

        preset = resolve_preset(config.model, config.preset)
        vision = "images" if config.input_mode == "images" else preset.vision
        encoding = config.encoding or preset.encoding
        ENCODINGS.get(encoding)  # unknown names fail before anything runs
        return cls(
            preset=preset,
            vision=vision,
            frames=config.frames or preset.frames,
            template=config.template or preset.template,
            encoding=encoding,
            system_prompt=config.system_prompt,
        )

    def adapter_args(self) -> dict[str, Any]:
        """The ``transformers`` adapter's arguments for these inputs (model aside)."""
        return {"preset": self.preset.name, "vision": self.vision}

    def run_options(self) -> dict[str, Any]:
        """The runner's options for these inputs (``RunOptions`` fields)."""
        return {"frames": self.frames, "template": self.template, "encoding": self.encoding}

    def checkpoint_inputs(self, adapter_args: Mapping[str, Any] | None = None) -> Any:
        """The inputs file of a checkpoint trained on these inputs."""
        from timelens_eval.checkpoint_inputs import CheckpointInputs

        return CheckpointInputs(
            adapter="transformers",
            adapter_args={**self.adapter_args(), **dict(adapter_args or {})},
            frames=self.frames,
            template=self.template,
            encoding=self.encoding,
        )


@dataclass
class EncodedPrompt:
    """One prompt as the model takes it: token ids and the vision tensors that go with them."""

    input_ids: list[int]
    fields: dict[str, Any]
    """``pixel_values_videos``, ``video_grid_thw``, ``second_per_grid_ts`` (when the family
    takes it) or ``pixel_values``, ``image_grid_thw``: torch tensors, rows in prompt order."""


def _row_frames(row: Mapping[str, Any], spec: InputSpec) -> Frames:
    video = row.get("video")
    if isinstance(video, str):
        from timelens_eval.spans import Span
        from timelens_eval.video.sampler import sample_frames

        clip = row.get("clip")
        return sample_frames(
            video,
            spec.frames,
            clip=Span(float(clip[0]), float(clip[1])) if clip else None,
            duration_hint=row.get("duration"),
        )
    if isinstance(video, Mapping) and "frames" in video:
        images = np.asarray(video["frames"], dtype=np.uint8)
        fps = float(video.get("fps") or spec.frames.fps)
        times = np.arange(len(images), dtype=np.float64) / fps
        return Frames(images, times, row.get("duration"))
    raise InputError(
        "the video column must hold a file path or {'frames': T x H x W x 3, 'fps': float}",
        sample=str(row["sample_id"]) if row.get("sample_id") is not None else None,
    )


def prompt_message(row: Mapping[str, Any], spec: InputSpec) -> Any:
    """The :class:`~timelens_eval.messages.PromptMessage` of a training row, built as the
    runner builds an evaluation request: the row's frames sampled with ``spec.frames``
    (``video``: a file path, or ``{"frames", "fps"}``), then ``build_prompt`` with the
    row's ``query`` and ``duration``."""
    from timelens_eval.prompts import build_prompt

    frames = _row_frames(row, spec)
    duration = float(row.get("duration") or frames.video_duration or 0.0)
    return build_prompt(str(row["query"]), frames, spec.template, spec.encoding, duration)


def shown_times(message: Any, vision: str = "video", temporal_patch: int = 2) -> np.ndarray:
    """The frame times a Qwen-VL model can tell apart in ``message``: the time of the
    first frame of each temporal patch (``temporal_patch`` consecutive frames of one
    video are encoded together), for each run of frames between two text parts (one
    video each with ``vision`` ``video`` or ``chunks``); every frame's time with
    ``images``. For TimeLens-7B's prompt these are the timestamps its texts state."""
    from timelens_eval.messages import ImagePart

    if vision == "images":
        return np.asarray(message.timestamps, dtype=np.float64)
    times: list[float] = []
    run: list[float] = []
    for part in (*message.parts, None):
        if isinstance(part, ImagePart):
            run.append(part.timestamp)
        elif run and (part is None or part.text):
            times.extend(run[::temporal_patch])
            run = []
    return np.asarray(times, dtype=np.float64)


def snap_row_gt(row: Mapping[str, Any], message: Any, vision: str = "video") -> dict[str, Any]:
    """``row`` with its ``gt`` windows moved onto the frame times ``message`` shows
    (:func:`shown_times`, :func:`~timelens_eval.rlvr.reward.snap_span_to_times`)."""
    from timelens_eval.rlvr.reward import snap_span_to_times

    times = shown_times(message, vision)
    if times.size == 0:
        raise InputError("cannot snap the GT: the prompt shows no frame")
    return {**row, "gt": [list(snap_span_to_times(w, list(times))) for w in row["gt"]]}


def processor_call(processor: Any, message: Any, spec: InputSpec) -> dict[str, Any]:
    """The keyword arguments of the processor call the ``transformers`` adapter makes for
    ``message`` (plus the system turn of ``spec.system_prompt``, which evaluation has not)."""
    from timelens_eval.adapters.presets import build_qwen_inputs
    from timelens_eval.adapters.transformers_hf import hf_processor_inputs

    inputs = build_qwen_inputs(message, spec.preset, spec.vision)  # type: ignore[arg-type]
    call = hf_processor_inputs(processor, inputs, spec.preset)
    if spec.system_prompt:
        system = {"role": "system", "content": [{"type": "text", "text": spec.system_prompt}]}
        call["text"] = [
            processor.apply_chat_template(
                [system, *inputs.messages], tokenize=False, add_generation_prompt=True
            )
        ]
    return call


def encode_message(
    processor: Any, message: Any, spec: InputSpec, *, backend: str = "auto"
) -> EncodedPrompt:
    """Encode ``message`` for the model: ``backend`` ``processor`` (the adapter's call of
    the checkpoint's processor), ``patches`` (built-in layout, no torchvision) or ``auto``
    (the processor when it has a video processor, or when frames go as images)."""
    if backend == "auto":
        has_video = getattr(processor, "video_processor", None) is not None
        backend = "processor" if has_video or spec.vision == "images" else "patches"
    call = processor_call(processor, message, spec)
    if backend == "processor":
        out = processor(**call)
        fields = {
            key: out[key]
            for key in (*VIDEO_FIELDS, "pixel_values", "image_grid_thw")
            if out.get(key) is not None
        }
        if "second_per_grid_ts" in fields:
            import torch

            fields["second_per_grid_ts"] = torch.as_tensor(
                fields["second_per_grid_ts"], dtype=torch.float32
            )
        return EncodedPrompt(out["input_ids"][0].tolist(), fields)
    if backend != "patches":
        raise ConfigError(f"unknown video backend {backend!r}; use auto, processor or patches")
    if spec.vision == "images" or spec.preset.family != "qwen2.5-vl":
        raise ConfigError(
            "the built-in patch layout encodes Qwen2.5-VL videos only; install torchvision "
            "for the processor's video path"
        )
    return _encode_patches(processor, call)


def _sample_fps(meta: Any) -> float:
    """Frames per second of a video's sample from its metadata (a dict or VideoMetadata):
    ``len(frames_indices) / total_num_frames * fps``, as the processors derive it."""
    get = meta.get if isinstance(meta, Mapping) else lambda key: getattr(meta, key)
    indices, total, fps = get("frames_indices"), get("total_num_frames"), get("fps")
    return len(indices) / max(float(total), 1e-6) * fps  # type: ignore[arg-type,operator]


def _encode_patches(processor: Any, call: dict[str, Any]) -> EncodedPrompt:
    import torch

    from timelens_eval.rlvr.video_grpo import PatchLayout, qwen_video_patches

    layout = PatchLayout.from_processor(processor)
    tokenizer = getattr(processor, "tokenizer", processor)
    video_token = getattr(processor, "video_token", None) or "<|video_pad|>"
    text = call["text"][0]
    videos = call.get("videos") or []
    pieces = text.split(video_token)
    if len(pieces) != len(videos) + 1:
        raise InputError(
            f"the rendered prompt holds {len(pieces) - 1} {video_token} for {len(videos)} videos"
        )
    patches, grids, seconds = [], [], []
    expanded = pieces[0]
    for frames, meta, piece in zip(videos, call["video_metadata"], pieces[1:], strict=True):
        rows, grid = qwen_video_patches(frames, layout, resize=call.get("do_resize", True))
        patches.append(torch.from_numpy(rows))
        grids.append(torch.from_numpy(grid))
        seconds.append(layout.temporal_patch_size / _sample_fps(meta))
        expanded += video_token * (int(grid.prod()) // layout.merge_size**2) + piece
    ids = tokenizer(expanded, add_special_tokens=False)["input_ids"]
    fields: dict[str, Any] = {}
    if patches:
        fields = {
            "pixel_values_videos": torch.cat(patches),
            "video_grid_thw": torch.cat(grids),
            "second_per_grid_ts": torch.tensor(seconds, dtype=torch.float32),
        }
    return EncodedPrompt(list(ids), fields)
