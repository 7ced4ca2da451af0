"""Tiny runs of the TimeLens recipes, for the tests and the GPU check script.

:func:`tiny_recipe` loads ``configs/rlvr/timelens-7b.yaml`` or ``timelens-8b.yaml`` and
changes only what a tiny model on one device needs: the checkpoint (a tiny random
Qwen2.5-VL / Qwen3-VL from :mod:`timelens_eval.tiny_models`), the data (two videos of
the synthetic benchmark), the precision and DeepSpeed (none on one device; bf16 and
TF32 on a GPU), one step with two completions, a few frames. The model's inputs
(preset, template, encoding, frame budget and how frames reach the model) stay the
recipe's.

:class:`GenerateRecorder` records what ``generate`` receives, so a training step and an
evaluation request can be compared (:func:`adapter_generate_inputs`,
:func:`generate_input_differences`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from timelens_eval.tiny_models import TinyFamily

__all__ = [
    "RECIPE_FAMILIES",
    "tiny_checkpoint",
    "tiny_recipe",
    "GenerateRecorder",
    "adapter_generate_inputs",
    "generate_input_differences",
]

RECIPE_FAMILIES = {"timelens-7b.yaml": "qwen2_5_vl", "timelens-8b.yaml": "qwen3_vl"}
"""The tiny model family of each recipe."""

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "rlvr"


def tiny_checkpoint(workdir: str | Path, family: TinyFamily) -> Path:
    """A tiny checkpoint of ``family`` in ``workdir`` (built once). Its processor's pixel
    cap (16 tokens a frame) is below the recipes' floor (64), so a processor that
    resized the frames would change the grid: equal grids show ``do_resize=False``."""
    from timelens_eval.tiny_models import TinyModelSpec, build_tiny_model

    out = Path(workdir) / f"tiny-{family}"
    if not (out / "config.json").exists():
        unit = 28 if family == "qwen2_5_vl" else 32
        build_tiny_model(out, spec=TinyModelSpec(family=family, max_pixels=16 * unit * unit))
    return out


def tiny_recipe(recipe: str, workdir: str | Path, *, gpu: bool = False, **changes: Any) -> Any:
    """The recipe ``recipe`` (a file name in ``configs/rlvr``) on its tiny model in
    ``workdir``; ``changes`` are more dotted overrides."""
    from timelens_eval.rlvr.config import load_config

    workdir = Path(workdir)
    model = tiny_checkpoint(workdir, RECIPE_FAMILIES[recipe])  # type: ignore[arg-type]
    device = {"bf16": gpu, "tf32": True if gpu else None, "deepspeed": None, "use_cpu": not gpu}
    overrides: dict[str, Any] = {
        "model": str(model),
        "output_dir": str(workdir / recipe / "run"),
        "dtype": "bfloat16" if gpu else "float32",
        "attn_implementation": "sdpa",
        "frames.max_frames": 8,
        "data.benchmark": "synthetic-refined",
        "data.loader_options": {
            "split": "train",
            "videos": 2,
            "cache_dir": str(workdir / "synthetic"),
        },
        "data.selection": None,
        "data.limit": 1,
        "difficulty.model": None,
        "difficulty.device": "cuda" if gpu else "cpu",
        **{f"grpo.{k}": v for k, v in device.items()},
        "grpo.max_steps": 1,
        "grpo.num_generations": 2,
        "grpo.per_device_train_batch_size": 2,
        "grpo.gradient_accumulation_steps": 1,
        "grpo.max_completion_length": 8,
        "grpo.save_strategy": "no",
        **{f"sft.{k}": v for k, v in device.items()},
        "sft.model": None,
        "sft.max_steps": 1,
        "sft.gradient_accumulation_steps": 1,
        "sft.save_strategy": "no",
        **changes,
    }
    return load_config(CONFIGS / recipe, overrides)


class GenerateRecorder:
    """Within ``with``: records the tensor arguments of every ``generate`` call (CPU copies)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._real: Any = None

    def __enter__(self) -> GenerateRecorder:
        import torch
        from transformers.generation.utils import GenerationMixin

        real = self._real = GenerationMixin.generate

        def recording(model: Any, *args: Any, **kwargs: Any) -> Any:
            self.calls.append(
                {k: v.detach().cpu().clone() for k, v in kwargs.items() if torch.is_tensor(v)}
            )
            return real(model, *args, **kwargs)

        GenerationMixin.generate = recording  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: Any) -> None:
        from transformers.generation.utils import GenerationMixin

        GenerationMixin.generate = self._real  # type: ignore[method-assign]


def adapter_generate_inputs(config: Any, output: str | Path, device: str = "cpu") -> dict[str, Any]:
    """What the ``transformers`` adapter passes to ``generate`` for the first training
    sample of ``config``, through the runner, on the config's inputs."""
    from timelens_eval.adapters import GenerationConfig, build_adapter
    from timelens_eval.rlvr.data import filtered_benchmark
    from timelens_eval.rlvr.inputs import InputSpec
    from timelens_eval.runner import RunOptions, run_benchmark

    inputs = InputSpec.from_config(config)
    data = config.data
    bench, _ = filtered_benchmark(
        data.benchmark, data.filters, annotations=data.annotations,
        video_root=data.video_root, loader_options=data.loader_options,
    )  # fmt: skip
    args = {"model": config.model, "device": device, "dtype": config.dtype}
    adapter = build_adapter("transformers", {**args, **inputs.adapter_args()})
    options = RunOptions(
        output=Path(output),
        limit=1,
        concurrency=1,
        bootstrap=0,
        fresh=True,
        generation=GenerationConfig(max_new_tokens=2),
        **inputs.run_options(),
    )
    with GenerateRecorder() as recorder:
        outcome = run_benchmark(adapter, bench, options, adapter_name="transformers")
    if outcome.result is None or len(recorder.calls) != 1:
        raise RuntimeError("the adapter did not answer the sample once")
    return recorder.calls[0]


def _prompts(call: dict[str, Any]) -> list[list[int]]:
    return [
        ids[mask.bool()].tolist()
        for ids, mask in zip(call["input_ids"], call["attention_mask"], strict=True)
    ]


def generate_input_differences(trained: dict[str, Any], evaluated: dict[str, Any]) -> list[str]:
    """How a training ``generate`` call (one prompt, its completions in a batch) differs
    from an evaluation call for the same sample; empty when they agree exactly."""
    import torch

    out = []
    prompts = _prompts(trained)
    if any(p != _prompts(evaluated)[0] for p in prompts):
        out.append("prompt token ids")
    copies = len(prompts)
    grid = evaluated["video_grid_thw"]
    if not torch.equal(trained["video_grid_thw"], grid.repeat(copies, 1)):
        out.append("video_grid_thw")
    pixels = evaluated["pixel_values_videos"]
    if not torch.equal(trained["pixel_values_videos"], pixels.repeat(copies, 1)):
        out.append("pixel_values_videos")
    if "second_per_grid_ts" in evaluated:
        expected = evaluated["second_per_grid_ts"].float().repeat(copies)
        if not torch.equal(trained.get("second_per_grid_ts", torch.empty(0)).float(), expected):
            out.append("second_per_grid_ts")
    if "mm_token_type_ids" in evaluated:
        types = trained["mm_token_type_ids"][0][trained["attention_mask"][0].bool()]
        if not torch.equal(types, evaluated["mm_token_type_ids"][0]):
            out.append("mm_token_type_ids")
    return out
