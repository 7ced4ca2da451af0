"""What a Qwen-VL family model gets for one video and query: ``timelens-eval inputs``.

:func:`describe_inputs` runs the real request path of an adapter up to the model: the
runner's frame sampler with the preset's settings, the prompt template and timestamp
encoding, :func:`~timelens_eval.adapters.presets.build_qwen_inputs`, and the Hugging Face
processor called as the ``transformers`` adapter calls it, or as vLLM calls it for the
``vllm`` adapter's prompt. It reports the frame indices and times, the video grid, the
number of visual tokens, the whole prompt text (with the timestamps a processor writes)
and a SHA-256 of the input ids.

No weights are needed. Without ``model`` the processor is a tiny offline one of the
preset's family (:func:`timelens_eval.tiny_models.build_tiny_processor`): real image and
video processors with the family's settings, the family's chat template, and a byte-level
tokenizer. Frames, grid, visual tokens and the prompt text are then those of the real
model; the input ids are the tiny tokenizer's. With ``model`` (a checkpoint directory or a
Hub name) its own processor and tokenizer are used, and the ids are the model's.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from timelens_eval.adapters.presets import (
    PRESETS,
    ModelPreset,
    build_qwen_inputs,
    is_checkpoint_processor,
    processor_call,
    vllm_multimodal,
)
from timelens_eval.errors import ConfigError, UnknownNameError
from timelens_eval.spans import Span

__all__ = ["Engine", "InputsReport", "describe_inputs", "input_ids_sha256", "load_family_processor"]

Engine = Literal["transformers", "vllm"]

_FAMILY_DIR = {"qwen2.5-vl": "qwen2_5_vl", "qwen3-vl": "qwen3_vl"}


@dataclass
class InputsReport:
    """What the model gets (see the module doc); ``to_dict`` is the ``--json`` output."""

    preset: str
    engine: str
    processor: str
    sampler: str
    template: str
    encoding: str
    n_frames: int
    frame_indices: list[int] | None
    timestamps: list[float]
    frame_size: list[int]
    video_grid_thw: list[list[int]]
    visual_tokens: int
    n_input_ids: int
    input_ids_sha256: str
    prompt: str
    second_per_grid_ts: list[float] | None = None
    processor_kwargs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def input_ids_sha256(ids: list[int]) -> str:
    """SHA-256 of the input ids written as decimal numbers joined by commas."""
    return hashlib.sha256(",".join(str(int(i)) for i in ids).encode()).hexdigest()


def _cache_root() -> Path:
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "timelens-eval" / "processors"


def load_family_processor(family: str) -> Any:
    """The tiny offline processor of ``family`` (built once per transformers version)."""
    import transformers
    from transformers import AutoProcessor

    from timelens_eval.tiny_models import build_tiny_processor

    folder = _cache_root() / f"{_FAMILY_DIR[family]}-{transformers.__version__}"
    if not (folder / "processor_config.json").exists():
        build_tiny_processor(folder, _FAMILY_DIR[family])  # type: ignore[arg-type]
    return AutoProcessor.from_pretrained(folder)


def _load_model_processor(model: str, trust_remote_code: bool) -> Any:
    from transformers import AutoProcessor

    try:
        return AutoProcessor.from_pretrained(model, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise ConfigError(f"cannot load the processor of {model!r}: {reason}") from None


def _collapse_pads(text: str) -> str:
    """``<|video_pad|>`` runs as ``<|video_pad|>×N`` so the prompt stays readable."""

    def shorten(match: re.Match[str]) -> str:
        n = len(match.group(0)) // len(match.group(1))
        return match.group(1) if n == 1 else f"{match.group(1)}×{n}"

    return re.sub(r"(<\|(?:video|image)_pad\|>)(?:\1)*", shorten, text)


def _vllm_hf_call(prompt: dict[str, Any]) -> dict[str, Any]:
    """The Hugging Face processor call vLLM makes for a vLLM prompt dict (its text aside)."""
    data = prompt["multi_modal_data"]
    call: dict[str, Any] = dict(prompt["mm_processor_kwargs"])
    videos = data.get("video")
    if videos is not None:
        items = videos if isinstance(videos, list) else [videos]
        if items and isinstance(items[0], tuple):
            call["videos"] = [v for v, _ in items]
            call["video_metadata"] = [
                {k: m[k] for k in m if k != "do_sample_frames"} for _, m in items
            ]
        else:
            call["videos"] = items
    images = data.get("image")
    if images is not None:
        call["images"] = images if isinstance(images, list) else [images]
    return call


def describe_inputs(
    video: str | Path,
    preset: str,
    *,
    engine: Engine = "transformers",
    model: str | None = None,
    query: str = "a person opens the door",
    clip: Span | None = None,
    sampler: str | None = None,
    trust_remote_code: bool = False,
) -> InputsReport:
    """The model input for ``video`` and ``query`` under ``preset`` (see the module doc)."""
    import importlib.util

    from timelens_eval.errors import MissingDependencyError
    from timelens_eval.prompts import build_prompt
    from timelens_eval.video.sampler import sample_frames

    for module in ("torch", "transformers", "torchvision"):
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError("timelens-eval inputs", "transformers-video", module)
    if preset not in PRESETS:
        raise UnknownNameError("model preset", preset, PRESETS)
    if engine not in ("transformers", "vllm"):
        raise ConfigError(f"--engine must be transformers or vllm, got {engine!r}")
    chosen: ModelPreset = PRESETS[preset]
    if model is not None:
        processor = _load_model_processor(model, trust_remote_code)
        source = f"checkpoint {model}"
    else:
        processor = load_family_processor(chosen.family)
        source = f"tiny offline {chosen.family} processor (byte-level tokenizer)"
    own = is_checkpoint_processor(processor) and engine == "transformers"
    spec = (
        chosen.frames if sampler is None else chosen.frames.model_copy(update={"sampler": sampler})
    )
    frames = sample_frames(video, spec, clip=clip)
    encoding = "none" if own else chosen.encoding
    vision = "video" if own else chosen.vision
    duration = float(frames.video_duration or 0.0)
    message = build_prompt(query, frames, chosen.template, encoding, duration)
    qwen = build_qwen_inputs(message, chosen, vision)
    text = processor.apply_chat_template(qwen.messages, tokenize=False, add_generation_prompt=True)
    if engine == "transformers":
        call = processor_call(qwen, chosen, own_processor=own)
        shown = {k: v for k, v in call.items() if k not in ("videos", "images")}
    else:
        prompt = {"prompt": text, **vllm_multimodal(qwen, chosen)}
        call = _vllm_hf_call(prompt)
        shown = dict(prompt["mm_processor_kwargs"])
    out = processor(text=[text], return_tensors="pt", padding=True, **call)
    ids = [int(i) for i in out["input_ids"][0].tolist()]
    grid = out["video_grid_thw"].tolist() if "video_grid_thw" in out else []
    pad = processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    seconds = out.get("second_per_grid_ts")
    return InputsReport(
        preset=chosen.name,
        engine=engine,
        processor=source + (" (its own class)" if own else ""),
        sampler=spec.sampler,
        template=chosen.template,
        encoding=encoding,
        n_frames=len(frames),
        frame_indices=None if frames.indices is None else [int(i) for i in frames.indices],
        timestamps=[round(float(t), 6) for t in frames.timestamps],
        frame_size=[int(frames.images.shape[1]), int(frames.images.shape[2])],
        video_grid_thw=[[int(x) for x in row] for row in grid],
        visual_tokens=int(np.sum(np.asarray(ids) == pad)),
        n_input_ids=len(ids),
        input_ids_sha256=input_ids_sha256(ids),
        prompt=_collapse_pads(processor.tokenizer.decode(ids, skip_special_tokens=False)),
        second_per_grid_ts=None if seconds is None else [float(x) for x in seconds],
        processor_kwargs={k: _plain(v) for k, v in shown.items()},
    )


def _plain(value: Any) -> Any:
    """JSON-friendly form of a processor option (metadata dicts, numbers, lists)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value
