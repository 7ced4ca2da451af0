"""What vLLM's own multimodal processor makes of the ``vllm`` adapter's prompts.

Run under an environment with vLLM (0.11 or later, CPU is enough: no model is loaded,
only vLLM's input processing)::

    python tests/support/vllm_processing_check.py VIDEO

For each preset it builds the ``vllm`` adapter's prompt dict for VIDEO (the real request
path: frame sampler, prompt builder, ``build_qwen_inputs``, ``vllm_multimodal``), hands it
to vLLM's multimodal processor for a tiny checkpoint of the family
(``MULTIMODAL_REGISTRY.create_processor(...).apply``), and compares the prompt token ids,
pixel values, grid and (Qwen2.5-VL) ``second_per_grid_ts`` with the official pipeline's
(qwen-vl-utils and the Hugging Face processor, :mod:`official_pipeline`). For TimeLens-7B
it compares vLLM's result with the ``transformers`` adapter's processor call. Prints one
JSON object.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import fidelity_check
import official_pipeline


def _tiny(root: Path, family: str) -> Path:
    """A tiny checkpoint whose tokenizer loads as the Qwen2 class vLLM's processors expect."""
    from timelens_eval.tiny_models import TinyModelSpec, build_tiny_model

    folder = build_tiny_model(
        root / family, spec=TinyModelSpec(family=family, chat_template="family")
    )
    config_file = folder / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config["tokenizer_class"] = "Qwen2TokenizerFast"
    config_file.write_text(json.dumps(config))
    return folder


def _vllm_processor(folder: Path, videos: int) -> Any:
    from vllm.config import ModelConfig
    from vllm.multimodal import MULTIMODAL_REGISTRY

    config = ModelConfig(
        model=str(folder),
        tokenizer=str(folder),
        dtype="float32",
        seed=0,
        limit_mm_per_prompt={"video": videos, "image": 0},
    )
    return MULTIMODAL_REGISTRY.create_processor(config)


def _apply(processor: Any, prompt: dict[str, Any]) -> dict[str, Any]:
    import torch

    out = processor.apply(
        prompt["prompt"], prompt["multi_modal_data"], prompt["mm_processor_kwargs"]
    )
    items = out["mm_kwargs"]["video"]
    result: dict[str, Any] = {
        "ids": list(out["prompt_token_ids"]),
        "pixels": torch.cat([item["pixel_values_videos"].data for item in items]),
        "grid": [item["video_grid_thw"].data.tolist() for item in items],
    }
    if "second_per_grid_ts" in items[0]:
        result["second_per_grid_ts"] = [float(item["second_per_grid_ts"].data) for item in items]
    return result


def check(folder: Path, preset: str, video: str) -> dict[str, Any]:
    import torch
    from transformers import AutoProcessor

    from timelens_eval.adapters.presets import PRESETS, vllm_multimodal

    processor = AutoProcessor.from_pretrained(folder)
    mine = fidelity_check.ours(processor, preset, video, engine="vllm")
    prompt = {"prompt": mine.text, **vllm_multimodal(mine.inputs, PRESETS[preset])}
    got = _apply(_vllm_processor(folder, max(1, len(mine.inputs.videos))), prompt)
    if preset == "timelens-7b":
        reference = fidelity_check.ours(processor, preset, video, engine="transformers").processed
        return {
            "preset": preset,
            "input_ids": got["ids"] == reference["input_ids"][0].tolist(),
            "pixel_values_videos": torch.equal(got["pixels"], reference["pixel_values_videos"]),
            "video_grid_thw": got["grid"] == reference["video_grid_thw"].tolist(),
        }
    official = official_pipeline.official_input(processor, preset, video, fidelity_check.QUERY)
    ref = official.processed
    out = {
        "preset": preset,
        "input_ids": got["ids"] == ref["input_ids"][0].tolist(),
        "pixel_values_videos": torch.equal(got["pixels"], ref["pixel_values_videos"]),
        "video_grid_thw": got["grid"] == ref["video_grid_thw"].tolist(),
    }
    if "second_per_grid_ts" in got:
        out["second_per_grid_ts"] = all(
            abs(x - 2.0 / official.sample_fps) < 1e-6 for x in got["second_per_grid_ts"]
        )
    return out


def _main(argv: list[str]) -> int:
    import transformers
    import vllm

    video = argv[0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folders = {f: _tiny(Path(tmp), f) for f in ("qwen2_5_vl", "qwen3_vl")}
        for preset in ("qwen2.5-vl", "qwen3-vl", "timelens-8b", "timelens-7b"):
            results.append(check(folders[fidelity_check.FAMILY[preset]], preset, video))
    print(
        json.dumps(
            {"vllm": vllm.__version__, "transformers": transformers.__version__, "results": results}
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
