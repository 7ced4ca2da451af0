"""Compare the project's model input with the official pipeline's, for one preset and engine.

Used by ``tests/video/test_input_fidelity.py`` in-process, and run as a script under other
environments (transformers 4.57, TimeLens' pin; vLLM's own multimodal processor), where it
prints one JSON object per check::

    python tests/support/fidelity_check.py VIDEO [--vllm-processor]

The project's side is the real request path of the adapters: the runner's frame sampler
with the preset's frame spec, the prompt builder, ``build_qwen_inputs`` and the processor
call of the ``transformers`` adapter (``processor_call``) or the prompt dict of the ``vllm``
adapter (``vllm_multimodal``). The official side is :mod:`official_pipeline`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import official_pipeline

QUERY = "a person sits on a chair by a table"
FAMILY = {
    "qwen2.5-vl": "qwen2_5_vl",
    "qwen3-vl": "qwen3_vl",
    "timelens-7b": "qwen2_5_vl",
    "timelens-8b": "qwen3_vl",
}


@dataclass
class Ours:
    """The project's request for one video and query."""

    message: Any
    inputs: Any
    text: str
    processed: Any


def ours(
    processor: Any,
    preset_name: str,
    video: str | Path,
    *,
    engine: str = "transformers",
    own_processor: bool = False,
) -> Ours:
    """The adapters' request for ``video`` (see the module doc)."""
    from timelens_eval.adapters.presets import (
        PRESETS,
        build_qwen_inputs,
        processor_call,
        vllm_multimodal,
    )
    from timelens_eval.prompts import build_prompt
    from timelens_eval.video.sampler import sample_frames

    preset = PRESETS[preset_name]
    frames = sample_frames(video, preset.frames)
    encoding, vision = ("none", "video") if own_processor else (preset.encoding, preset.vision)
    message = build_prompt(QUERY, frames, preset.template, encoding, frames.video_duration or 0)
    inputs = build_qwen_inputs(message, preset, vision)
    text = processor.apply_chat_template(
        inputs.messages, tokenize=False, add_generation_prompt=True
    )
    if engine == "transformers":
        call = processor_call(inputs, preset, own_processor=own_processor)
        processed = processor(text=[text], padding=True, return_tensors="pt", **call)
    else:
        processed = vllm_hf_call(processor, {"prompt": text, **vllm_multimodal(inputs, preset)})
    return Ours(message, inputs, text, processed)


def vllm_hf_call(processor: Any, prompt: dict[str, Any]) -> Any:
    """The Hugging Face processor call vLLM (0.11, 0.12) makes for a prompt dict: the text,
    the videos (Qwen3-VL: with their metadata, ``do_sample_frames`` taken out of it) and
    ``mm_processor_kwargs`` as processor options."""
    data = prompt["multi_modal_data"]
    kwargs = dict(prompt["mm_processor_kwargs"])
    videos = data["video"] if isinstance(data["video"], list) else [data["video"]]
    if isinstance(videos[0], tuple):
        kwargs["video_metadata"] = [
            {k: v for k, v in meta.items() if k != "do_sample_frames"} for _, meta in videos
        ]
        videos = [v for v, _ in videos]
    return processor(
        text=[prompt["prompt"]], videos=videos, padding=True, return_tensors="pt", **kwargs
    )


def ids_sha(ids: Any) -> str:
    return hashlib.sha256(",".join(str(int(i)) for i in ids).encode()).hexdigest()


def compare(processor: Any, preset: str, video: str | Path, engine: str) -> dict[str, Any]:
    """Our input against the official one: a dict of what matched (all True when equal)."""
    import torch

    official = official_pipeline.official_input(processor, preset, video, QUERY)
    mine = ours(processor, preset, video, engine=engine)
    a, b = mine.processed, official.processed
    out: dict[str, Any] = {
        "preset": preset,
        "engine": engine,
        "n_frames": len(mine.message.images),
        "official_n_frames": int(official.frames.shape[0]),
        "frame_indices": list(mine.message.video.frame_indices)
        == [int(i) for i in official.metadata["frames_indices"]],
        "input_ids": torch.equal(a["input_ids"], b["input_ids"]),
        "pixel_values_videos": torch.equal(a["pixel_values_videos"], b["pixel_values_videos"]),
        "video_grid_thw": a["video_grid_thw"].tolist() == b["video_grid_thw"].tolist(),
        "grid": a["video_grid_thw"].tolist(),
        "input_ids_sha256": ids_sha(a["input_ids"][0]),
    }
    if "second_per_grid_ts" in a:
        expected = 2.0 / official.sample_fps
        out["second_per_grid_ts"] = abs(float(a["second_per_grid_ts"][0]) - expected) < 1e-6
    return out


def compare_7b(processor: Any, video: str | Path) -> dict[str, Any]:
    """TimeLens-7B with a stock processor: our layout against the official frames and the
    train branch's timestamps, and the two engines against each other, token for token."""
    import numpy as np
    import torch

    official = official_pipeline.official_input(processor, "timelens-7b", video, QUERY)
    hf = ours(processor, "timelens-7b", video, engine="transformers")
    vl = ours(processor, "timelens-7b", video, engine="vllm")
    frames = np.concatenate(hf.inputs.videos)
    reference = official.frames.to(torch.uint8).permute(0, 2, 3, 1).numpy()
    stamps = [f"{t:.1f}s" for t in official_pipeline.timelens_7b_timestamps(official.metadata)]
    texts = [c["text"] for c in hf.inputs.content if c["type"] == "text"][:-1]
    grid = hf.processed["video_grid_thw"].tolist()
    h, w = reference.shape[1] // 14, reference.shape[2] // 14
    return {
        "preset": "timelens-7b",
        "pixels": bool(np.array_equal(frames, reference)),
        "timestamps": texts == stamps,
        "one_video_tokens": sum(t * a * b for t, a, b in grid) == len(reference) // 2 * h * w,
        "grid_rows": grid == [[1, h, w]] * (len(reference) // 2),
        "engines_input_ids": torch.equal(hf.processed["input_ids"], vl.processed["input_ids"]),
        "engines_pixels": torch.equal(
            hf.processed["pixel_values_videos"], vl.processed["pixel_values_videos"]
        ),
        "chunks": len(hf.inputs.videos),
    }


def generate(video: str | Path, root: Path) -> list[dict[str, Any]]:
    """Each preset's tiny random checkpoint answers through the ``transformers`` adapter."""
    import asyncio

    from timelens_eval.adapters import GenerationConfig, GroundingRequest
    from timelens_eval.adapters.transformers_hf import TransformersAdapter
    from timelens_eval.tiny_models import build_tiny_model

    out = []
    for preset in ("qwen2.5-vl", "qwen3-vl", "timelens-7b", "timelens-8b"):
        folder = root / preset
        build_tiny_model(folder, FAMILY[preset])  # type: ignore[arg-type]
        adapter = TransformersAdapter(model=str(folder), preset=preset, device="cpu")
        with_processor = ours(adapter._processor, preset, video)
        request = GroundingRequest(
            sample_id="s",
            query=QUERY,
            duration=float(with_processor.message.timestamps[-1]),
            video_path=Path(video),
            message=with_processor.message,
            generation=GenerationConfig(max_new_tokens=4),
        )
        answer = asyncio.run(adapter.ground(request))
        tokens = answer.usage.input_tokens if answer.usage else 0
        out.append(
            {
                "preset": preset,
                "answered": isinstance(answer.text, str),
                "prompt_tokens": tokens == int(with_processor.processed["input_ids"].shape[1]),
            }
        )
    return out


def _main(argv: list[str]) -> int:
    from transformers import AutoProcessor

    from timelens_eval.tiny_models import build_tiny_processor

    video = argv[0]
    import tempfile

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if "--generate" in argv:
            results.extend(generate(video, Path(tmp) / "models"))
        processors = {
            family: AutoProcessor.from_pretrained(build_tiny_processor(Path(tmp) / family, family))
            for family in ("qwen2_5_vl", "qwen3_vl")
        }
        for preset in ("qwen2.5-vl", "qwen3-vl", "timelens-8b"):
            for engine in ("transformers", "vllm"):
                results.append(compare(processors[FAMILY[preset]], preset, video, engine))
        results.append(compare_7b(processors["qwen2_5_vl"], video))
    import transformers

    print(json.dumps({"transformers": transformers.__version__, "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
