"""One input pipeline: the TimeLens-7B and -8B configs run on tiny Qwen2.5-VL / Qwen3-VL
models on the CPU, and the trainer's model inputs equal the ``transformers`` adapter's.

Each recipe config is loaded as shipped and changed only where a CPU needs it (the tiny
model, the synthetic benchmark, float32 without DeepSpeed, TF32 or flash attention, one
step, a few frames); the inputs (preset, template, encoding, frame budget, vision input)
stay the recipe's. What ``generate`` receives is recorded in both paths and compared.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("trl")
torch = pytest.importorskip("torch")

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from timelens_eval.rlvr.config import RLVRConfig  # noqa: E402
from timelens_eval.rlvr.inputs import InputSpec, prompt_message, shown_times  # noqa: E402
from timelens_eval.rlvr.reward import snap_span_to_times  # noqa: E402
from timelens_eval.rlvr.testing import (  # noqa: E402
    RECIPE_FAMILIES,
    GenerateRecorder,
    adapter_generate_inputs,
    generate_input_differences,
    tiny_recipe,
)
from timelens_eval.tiny_models import has_video_processor  # noqa: E402

# TRL 1.16 calls transformers' deprecated checkpointing names around generation; with the
# recipes' reentrant checkpointing, Qwen3-VL's frozen ViT blocks get inputs that need no
# gradient and say so (they need none: only the merger after them trains).
pytestmark = [
    pytest.mark.filterwarnings("ignore:None of the inputs have requires_grad=True:UserWarning"),
    pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning"),
    pytest.mark.filterwarnings(
        "ignore:`gradient_checkpointing_disable` is deprecated:FutureWarning"
    ),
    pytest.mark.filterwarnings(
        "ignore:`gradient_checkpointing_enable` is deprecated:FutureWarning"
    ),
]

NEEDS_VIDEO_PROCESSOR = pytest.mark.skipif(
    not has_video_processor(), reason="the Hugging Face video processors need torchvision"
)
FAMILIES = RECIPE_FAMILIES


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):  # type: ignore[no-untyped-def]
    return tmp_path_factory.mktemp("inputs")


def _cpu_config(workdir: Path, name: str, **changes: Any) -> RLVRConfig:
    """The recipe ``name`` with only what a CPU run of a tiny model needs changed."""
    return tiny_recipe(name, workdir, **changes)


STEPS = {
    "timelens-7b": ("timelens-7b.yaml", {}),
    "timelens-8b": ("timelens-8b.yaml", {}),
    # Qwen2.5-VL with one plain video (its time in MRoPE positions), on the 7B recipe.
    "qwen2.5-vl": (
        "timelens-7b.yaml",
        {"preset": "qwen2.5-vl", "reward.snap_gt_to_frames": False, "output_dir": None},
    ),
}


@NEEDS_VIDEO_PROCESSOR
@pytest.mark.slow
@pytest.mark.parametrize("preset", sorted(STEPS))
def test_a_grpo_step_through_the_recipe_sees_what_evaluation_sees(preset, workdir) -> None:  # type: ignore[no-untyped-def]
    """One GRPO step of the recipe on a tiny model (TimeLens-7B: Qwen2.5-VL with a
    timestamp text before each frame pair and the GT snapped to them; TimeLens-8B:
    Qwen3-VL; Qwen2.5-VL with one video), and the prompt and video tensors it generates
    from equal the ``transformers`` adapter's for the same sample."""
    from timelens_eval.checkpoint_inputs import read_checkpoint_inputs
    from timelens_eval.rlvr.pipeline import train

    name, changes = STEPS[preset]
    if "output_dir" in changes:
        changes = {**changes, "output_dir": str(workdir / preset / "run")}
    config = _cpu_config(workdir, name, **changes)
    inputs = InputSpec.from_config(config)
    assert inputs.preset.name == preset
    with GenerateRecorder() as recorder:
        outcome = train(config)
    assert outcome.steps == 1 and len(recorder.calls) == 1
    trained = recorder.calls[0]
    evaluated = adapter_generate_inputs(config, workdir / f"eval-{preset}" / "run.json")
    # Two completions of one prompt: the same ids twice, the video rows twice, all equal.
    assert trained["input_ids"].shape[0] == 2
    assert generate_input_differences(trained, evaluated) == []

    # The frames reach the model at the size the sampler gave them (do_resize=False),
    # although the checkpoint's processor would have shrunk them.
    from timelens_eval.rlvr.data import load_training_samples
    from timelens_eval.video.sampler import sample_frames

    bench, samples = load_training_samples(config)
    frames = sample_frames(bench.video_path(samples[0]), inputs.frames)
    patch = 14 if inputs.preset.family == "qwen2.5-vl" else 16
    grid = evaluated["video_grid_thw"][0].tolist()
    assert grid[1:] == [frames.images.shape[1] // patch, frames.images.shape[2] // patch]
    assert grid[1] * grid[2] > 16 * 4  # more than the processor's own cap (16 tokens)

    if preset == "timelens-7b":  # one video after each timestamp text
        row = {"video": str(bench.video_path(samples[0])), "query": samples[0].query,
               "duration": samples[0].duration}  # fmt: skip
        message = prompt_message(row, inputs)
        assert evaluated["video_grid_thw"].shape[0] == len(shown_times(message, "chunks")) > 1

    written = read_checkpoint_inputs(outcome.final_checkpoint)
    assert written is not None and written.adapter_args == inputs.adapter_args()
    assert (written.template, written.encoding) == (inputs.template, inputs.encoding)
    assert written.frames == inputs.frames
    summary = json.loads((outcome.output_dir / "summary.json").read_text())
    assert summary["data_filters"]["kept"] == summary["data_filters"]["total"] > 0


@NEEDS_VIDEO_PROCESSOR
@pytest.mark.slow
def test_sft_through_the_8b_recipe(workdir) -> None:
    """`rlvr sft` with the 8B recipe: uniform per-bucket draw from the filtered pool, the
    recipe's inputs, one step; the checkpoint records those inputs."""
    from timelens_eval.checkpoint_inputs import read_checkpoint_inputs
    from timelens_eval.rlvr.pipeline import warm_start

    config = _cpu_config(workdir, "timelens-8b.yaml", **{"data.limit": None})
    final = warm_start(config)
    out = final.parent
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1]
    drawn = json.loads((out / "sft_selection.json").read_text())
    assert drawn["selected"] == len(drawn["sample_ids"]) > 0  # every bucket is below 3,333
    assert json.loads((out / "filters.json").read_text())["dropped"]["audio"] == 0
    written = read_checkpoint_inputs(final)
    assert written is not None and written.adapter_args == {
        "preset": "timelens-8b",
        "vision": "video",
    }


@NEEDS_VIDEO_PROCESSOR
@pytest.mark.slow
def test_difficulty_from_the_7b_recipe_runs_on_its_inputs(workdir) -> None:
    """`rlvr estimate-difficulty --config`: the recipe's model, preset, frames, template,
    encoding, 512 greedy tokens and filters, all from the one file."""
    from timelens_eval.cli import main

    config = _cpu_config(workdir, "timelens-7b.yaml")
    path = workdir / "7b-cpu.json"
    path.write_text(config.model_dump_json())
    assert main(["rlvr", "estimate-difficulty", "--config", str(path), "--limit", "1"]) == 0
    out = Path(config.output_dir) / "difficulty"
    spec = json.loads(next(out.glob("*.json.spec")).read_text())
    text = json.dumps(spec)
    assert '"max_new_tokens": 512' in text and '"temperature": 0.0' in text
    inputs = InputSpec.from_config(config)
    assert f'"encoding": "{inputs.encoding}"' in text and '"template": "timelens-7b"' in text
    assert '"max_frames": 8' in text and '"preset": "timelens-7b"' in text
    assert '"sampler": "qwen-vl-utils"' in text
    assert (out / "filters.json").exists()


def _snapping_trainer(tmp_path: Path, snap: bool, seen: list[Any]) -> tuple[Any, InputSpec]:
    """A video trainer on TimeLens-7B's inputs (built-in patches: no torchvision needed)
    whose reward records the GT it is given."""
    from datasets import Dataset
    from transformers import AutoModelForImageTextToText

    from timelens_eval.adapters.presets import PRESETS
    from timelens_eval.rlvr.trainer import GRPOSettings, grpo_config
    from timelens_eval.rlvr.video_grpo import video_grpo_trainer_class, video_prompt
    from timelens_eval.tiny_models import build_tiny_model, load_processor
    from timelens_eval.video.types import FrameSpec

    path = tmp_path / "tiny"
    if not (path / "config.json").exists():
        build_tiny_model(path, "qwen2_5_vl")
    frames = np.random.default_rng(0).integers(0, 256, size=(4, 56, 56, 3), dtype=np.uint8)
    data = Dataset.from_dict(
        {
            "prompt": [video_prompt("x")],
            "query": ["a cat jumps"],
            "video": [{"frames": frames.tolist(), "fps": 2.0}],
            "gt": [[[0.3, 1.2]]],
            "duration": [2.0],
        }
    )

    def reward(completions: Any, gt: Any, **_: Any) -> list[float]:
        seen.extend(gt)
        return [float(i % 2) for i in range(len(completions))]

    settings = GRPOSettings(
        num_generations=2,
        per_device_train_batch_size=2,
        max_completion_length=4,
        max_steps=1,
        save_strategy="no",
        use_cpu=True,
    )
    preset = PRESETS["timelens-7b"]
    spec = InputSpec(preset, "chunks", FrameSpec(fps=2.0, patch=28), preset.template, "interleaved")
    model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
    return video_grpo_trainer_class()(
        model=model,
        reward_funcs=[reward],
        args=grpo_config(settings, tmp_path / "out"),
        train_dataset=data,
        processing_class=load_processor(path),
        inputs=spec,
        video_backend="patches",
        snap_gt=snap,
    ), spec


@pytest.mark.slow
def test_the_7b_reward_sees_the_gt_snapped_to_the_shown_frame_times(tmp_path) -> None:
    seen: list[Any] = []
    trainer, spec = _snapping_trainer(tmp_path, True, seen)
    trainer.train()
    row = {"video": {"frames": np.zeros((4, 56, 56, 3), np.uint8), "fps": 2.0},
           "query": "a cat jumps", "duration": 2.0}  # fmt: skip
    times = shown_times(prompt_message(row, spec), "chunks")
    expected = [list(snap_span_to_times([0.3, 1.2], times))]
    assert expected != [[0.3, 1.2]] and seen == [expected, expected]
    raw: list[Any] = []
    trainer, _ = _snapping_trainer(tmp_path, False, raw)
    trainer.train()
    assert raw == [[[0.3, 1.2]], [[0.3, 1.2]]]


def test_the_policy_loads_with_the_configs_attention_and_dtype(tmp_path) -> None:
    """`attn_implementation` and `dtype` reach the loaded policy (the recipes: flash
    attention 2 in bf16; here eager and sdpa in float32 on the CPU)."""
    from timelens_eval.rlvr.pipeline import _load_policy

    for attention in ("eager", "sdpa"):
        config = tiny_recipe("timelens-7b.yaml", tmp_path, attn_implementation=attention)
        model, processor = _load_policy(config)
        assert model.config._attn_implementation == attention
        assert next(model.parameters()).dtype == torch.float32
        assert processor.tokenizer.convert_tokens_to_ids("<|video_pad|>") > 0
