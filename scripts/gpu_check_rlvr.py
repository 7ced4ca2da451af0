#!/usr/bin/env python3
"""GPU check of the RLVR video trainer: one bf16 GRPO step on CUDA with a tiny model.

Builds a tiny random Qwen2.5-VL and its tokenizer offline (nothing is downloaded), runs
one GRPO step of :mod:`timelens_eval.rlvr.video_grpo` in bf16 on the first CUDA device
and prints one JSON object: whether the step ran, how long it took, peak GPU memory,
which parameters moved (the merger must, the frozen ViT must not) and the logged reward
statistics. When the checkpoint's processor has a video processor (``torchvision``
installed), it also compares the built-in patch layout with the processor's video path.

Run from the repository root:  python scripts/gpu_check_rlvr.py
(``--cpu`` runs the same step in fp32 on the CPU, as a dry run of the script itself.)
Needs torch (CUDA), transformers, trl (with its datasets/accelerate) and the project's
base dependencies (numpy, pydantic); exits 1 with a JSON reason otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if importlib.util.find_spec("timelens_eval_adapters") is None:
    # Not installed: load adapters/ under its installed name (see pyproject's package-dir).
    _spec = importlib.util.spec_from_file_location(
        "timelens_eval_adapters",
        ROOT / "adapters" / "__init__.py",
        submodule_search_locations=[str(ROOT / "adapters")],
    )
    sys.modules["timelens_eval_adapters"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["timelens_eval_adapters"])

NUM_GENERATIONS = 4


def _emit(result: dict, code: int) -> None:
    print(json.dumps(result, indent=2, default=str))
    sys.exit(code)


def _check_imports() -> None:
    needed = ["torch", "transformers", "trl", "datasets", "accelerate", "numpy", "pydantic"]
    missing = [m for m in needed if importlib.util.find_spec(m) is None]
    if missing:
        _emit({"ok": False, "stage": "imports", "missing": missing}, 1)


def _even_tokens(completions, completion_ids, **_):  # scripted reward: varies by completion
    return [sum(1 for t in ids if t % 2 == 0) / max(len(ids), 1) for ids in completion_ids]


def _compare_backends(processor, result: dict) -> None:
    """Built-in patches vs the processor's video processor, on the same frames."""
    import numpy as np

    from timelens_eval.rlvr.video_grpo import VideoClip, encode_video_prompt, video_prompt

    if getattr(processor, "video_processor", None) is None:
        result["processor_backend"] = "not available (no video processor)"
        return
    try:
        rng = np.random.default_rng(0)
        clip = VideoClip(rng.integers(0, 256, size=(4, 56, 56, 3), dtype=np.uint8), fps=2.0)
        text = processor.apply_chat_template(
            video_prompt("When?"), tokenize=False, add_generation_prompt=True
        )
        a = encode_video_prompt(processor, text, clip, backend="patches")
        b = encode_video_prompt(processor, text, clip, backend="processor")
        result["processor_backend"] = {
            "grid_patches": a["video_grid_thw"].tolist(),
            "grid_processor": b["video_grid_thw"].tolist(),
            "same_input_ids": a["input_ids"] == b["input_ids"],
            "max_abs_pixel_diff": float(
                (a["pixel_values_videos"].float() - b["pixel_values_videos"].float()).abs().max()
            )
            if a["pixel_values_videos"].shape == b["pixel_values_videos"].shape
            else "shape mismatch",
            "second_per_grid_ts": [
                a["second_per_grid_ts"].tolist(),
                b["second_per_grid_ts"].tolist(),
            ],
        }
    except Exception as exc:  # report, never fail the main check
        result["processor_backend"] = f"error: {type(exc).__name__}: {exc}"


def main() -> None:
    _check_imports()
    import numpy as np
    import torch
    import transformers
    import trl
    from datasets import Dataset
    from transformers import AutoModelForImageTextToText

    on_cpu = "--cpu" in sys.argv[1:]
    if not on_cpu and not torch.cuda.is_available():
        _emit({"ok": False, "stage": "cuda", "reason": "torch.cuda.is_available() is False"}, 1)

    from timelens_eval.rlvr.trainer import (
        FRAC_GROUPS_ZERO_STD,
        WITHIN_GROUP_STD,
        GRPOSettings,
        freeze_vision_tower,
        grpo_config,
    )
    from timelens_eval.rlvr.video_grpo import video_grpo_trainer_class, video_prompt
    from timelens_eval.tiny_models import build_tiny_model, load_processor

    result: dict = {
        "ok": False,
        "device": "cpu" if on_cpu else torch.cuda.get_device_name(0),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "trl": trl.__version__,
            "cuda": torch.version.cuda,
        },
    }
    stage = "build"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = build_tiny_model(Path(tmp) / "tiny", "qwen2_5_vl", seed=0)
            processor = load_processor(path)
            _compare_backends(processor, result)
            stage = "load"
            dtype = torch.float32 if on_cpu else torch.bfloat16
            model = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype)
            freeze_vision_tower(model)
            rng = np.random.default_rng(1)
            data = Dataset.from_dict(
                {
                    "prompt": [video_prompt(f"Find event {i}.") for i in range(2)],
                    "video": [
                        {"frames": rng.integers(0, 256, size=(4, 56, 56, 3)).tolist(), "fps": 2.0}
                        for _ in range(2)
                    ],
                    "gt": [[[0.5, 1.5]]] * 2,
                    "duration": [2.0] * 2,
                }
            )
            settings = GRPOSettings(
                num_generations=NUM_GENERATIONS,
                per_device_train_batch_size=2 * NUM_GENERATIONS,
                max_completion_length=8,
                learning_rate=1e-3,
                max_steps=1,
                save_strategy="no",
                bf16=not on_cpu,
                use_cpu=on_cpu,
            )
            stage = "trainer"
            trainer = video_grpo_trainer_class()(
                model=model,
                reward_funcs=[_even_tokens],
                args=grpo_config(settings, Path(tmp) / "out"),
                train_dataset=data,
                processing_class=processor,
                video_backend="patches",
            )
            before = {n: p.detach().clone() for n, p in model.named_parameters()}
            if not on_cpu:
                torch.cuda.reset_peak_memory_stats()
            stage = "train"
            start = time.perf_counter()
            trainer.train()
            if not on_cpu:
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            changed = [
                n for n, p in model.named_parameters() if not torch.equal(before[n], p.detach())
            ]
            logs = [e for e in trainer.state.log_history if WITHIN_GROUP_STD in e]
            param = next(model.parameters())
            result.update(
                ok=bool(changed)
                and any(".merger." in n for n in changed)
                and not any(".visual.blocks." in n for n in changed),
                stage="done",
                param_device=str(param.device),
                param_dtype=str(param.dtype),
                train_seconds=round(seconds, 3),
                peak_gpu_mib=None
                if on_cpu
                else round(torch.cuda.max_memory_allocated() / 2**20, 1),
                params_changed=len(changed),
                merger_changed=any(".merger." in n for n in changed),
                frozen_vit_changed=any(".visual.blocks." in n for n in changed),
                reward=logs[0].get("reward") if logs else None,
                reward_std_within_group=logs[0].get(WITHIN_GROUP_STD) if logs else None,
                frac_groups_zero_std=logs[0].get(FRAC_GROUPS_ZERO_STD) if logs else None,
                loss=next((e.get("loss") for e in trainer.state.log_history if "loss" in e), None),
            )
    except Exception as exc:
        result.update(
            stage=stage,
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(limit=6),
        )
        _emit(result, 1)
    _emit(result, 0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
