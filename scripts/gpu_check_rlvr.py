#!/usr/bin/env python3
"""GPU check of the TimeLens recipes: one GRPO step of each on CUDA with a tiny model.

For ``configs/rlvr/timelens-7b.yaml`` (a tiny Qwen2.5-VL with TimeLens-7B's timestamp
texts between frame pairs) and ``timelens-8b.yaml`` (a tiny Qwen3-VL), built offline
(nothing is downloaded), it runs one bf16 GRPO step through the recipe
(:func:`timelens_eval.rlvr.testing.tiny_recipe`: only the model, data, precision and
step count change; the inputs stay the recipe's) on the first CUDA device, then the
``transformers`` adapter on the same sample, and prints one JSON object: per recipe,
whether the step ran, its time, peak GPU memory, which parameters moved (the frozen ViT
must not; the merger must unless every group's rewards were equal, which leaves the
advantages at 0) and whether the prompt and video tensors of training equal those of
evaluation.

Run from the repository root:  python scripts/gpu_check_rlvr.py
(``--cpu`` runs the same in fp32 on the CPU, as a dry run of the script itself.)
Needs torch (CUDA), torchvision, transformers, trl, datasets and accelerate, as the
``rlvr`` and ``transformers-video`` extras install them; exits 1 with a JSON reason
otherwise.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _emit(result: dict, code: int) -> None:
    print(json.dumps(result, indent=2, default=str))
    sys.exit(code)


def _check_imports() -> None:
    needed = ["torch", "torchvision", "transformers", "trl", "datasets", "accelerate"]
    missing = [m for m in needed if importlib.util.find_spec(m) is None]
    if missing:
        _emit({"ok": False, "stage": "imports", "missing": missing}, 1)


def _recipe_step(recipe: str, workdir: Path, on_cpu: bool) -> dict[str, Any]:
    """One GRPO step of ``recipe`` and the adapter on the same sample."""
    import torch

    from timelens_eval.rlvr.inputs import InputSpec
    from timelens_eval.rlvr.pipeline import train
    from timelens_eval.rlvr.testing import (
        GenerateRecorder,
        adapter_generate_inputs,
        generate_input_differences,
        tiny_recipe,
    )

    report: dict[str, Any] = {"ok": False, "stage": "config"}
    config = tiny_recipe(recipe, workdir, gpu=not on_cpu)
    inputs = InputSpec.from_config(config)
    report.update(preset=inputs.preset.name, vision=inputs.vision, encoding=inputs.encoding)
    from transformers import AutoModelForImageTextToText

    before = AutoModelForImageTextToText.from_pretrained(config.model).state_dict()
    if not on_cpu:
        torch.cuda.reset_peak_memory_stats()
    report["stage"] = "train"
    start = time.perf_counter()
    with GenerateRecorder() as recorder:
        outcome = train(config)
    if not on_cpu:
        torch.cuda.synchronize()
    report["train_seconds"] = round(time.perf_counter() - start, 3)
    report["peak_gpu_mib"] = None if on_cpu else round(torch.cuda.max_memory_allocated() / 2**20, 1)
    after = AutoModelForImageTextToText.from_pretrained(outcome.final_checkpoint).state_dict()
    changed = [n for n, p in after.items() if not torch.equal(before[n].to(p.dtype), p)]
    rows = [json.loads(x) for x in outcome.metrics_file.read_text().splitlines()]
    logged = next((r for r in rows if "reward" in r), {})
    report["stage"] = "adapter"
    evaluated = adapter_generate_inputs(
        config, workdir / recipe / "eval" / "run.json", device="cpu" if on_cpu else "cuda"
    )
    differences = generate_input_differences(recorder.calls[0], evaluated)
    report.update(
        stage="done",
        steps=outcome.steps,
        params_changed=len(changed),
        merger_changed=any(".merger." in n for n in changed),
        frozen_vit_changed=any(".visual.blocks." in n for n in changed),
        reward=logged.get("reward"),
        reward_std_within_group=logged.get("reward_std_within_group"),
        video_grid_thw=evaluated["video_grid_thw"].tolist(),
        training_inputs_equal_evaluation=not differences,
        differences=differences,
    )
    # A random tiny model rarely earns a reward: with equal rewards in every group the
    # advantages are 0 and nothing may move; otherwise the merger must.
    moved = report["merger_changed"] or not logged.get("reward_std_within_group")
    report["ok"] = (
        outcome.steps == 1 and moved and not report["frozen_vit_changed"] and not differences
    )
    return report


def main() -> None:
    _check_imports()
    import torch
    import transformers
    import trl

    on_cpu = "--cpu" in sys.argv[1:]
    if not on_cpu and not torch.cuda.is_available():
        _emit({"ok": False, "stage": "cuda", "reason": "torch.cuda.is_available() is False"}, 1)
    result: dict[str, Any] = {
        "ok": False,
        "device": "cpu" if on_cpu else torch.cuda.get_device_name(0),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "trl": trl.__version__,
            "cuda": torch.version.cuda,
        },
        "recipes": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for recipe in ("timelens-7b.yaml", "timelens-8b.yaml"):
            try:
                # The trainers print their logs; stdout carries only the JSON result.
                with contextlib.redirect_stdout(sys.stderr):
                    result["recipes"][recipe] = _recipe_step(recipe, Path(tmp), on_cpu)
            except Exception as exc:  # report it, go on with the other recipe
                result["recipes"][recipe] = {
                    "ok": False,
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(limit=8),
                }
    result["ok"] = all(r.get("ok") for r in result["recipes"].values())
    _emit(result, 0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
