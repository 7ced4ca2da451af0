"""The video GRPO trainer on a tiny Qwen2.5-VL built offline: generation, log-probs, backward."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

pytest.importorskip("trl")
torch = pytest.importorskip("torch")

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from timelens_eval.rlvr.inputs import (  # noqa: E402
    InputSpec,
    encode_message,
    prompt_message,
    shown_times,
)
from timelens_eval.rlvr.trainer import (  # noqa: E402
    WITHIN_GROUP_STD,
    GRPOSettings,
    freeze_vision_tower,
    grpo_config,
)
from timelens_eval.rlvr.video_grpo import (  # noqa: E402
    PatchLayout,
    qwen_video_patches,
    video_grpo_trainer_class,
    video_prompt,
)
from timelens_eval.video.types import FrameSpec  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:`is_gradient_checkpointing` is deprecated:FutureWarning"
)

NUM_GENERATIONS = 4


@pytest.fixture(scope="module")
def tiny_vl(tmp_path_factory):  # type: ignore[no-untyped-def]
    from timelens_eval.tiny_models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "qwen2_5_vl", "qwen2_5_vl", seed=0)


def _load(path):  # type: ignore[no-untyped-def]
    from transformers import AutoModelForImageTextToText

    from timelens_eval.tiny_models import load_processor

    model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
    return model, load_processor(path)


def test_patches_match_the_qwen_image_processor() -> None:
    """A still video (one frame repeated) must patch exactly like the library's image path."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(56, 84, 3), dtype=np.uint8)
    layout = PatchLayout()
    processor = Qwen2VLImageProcessorPil(
        patch_size=14,
        temporal_patch_size=2,
        merge_size=2,
        image_mean=list(layout.mean),
        image_std=list(layout.std),
        size={"shortest_edge": layout.min_pixels, "longest_edge": layout.max_pixels},
    )
    from PIL import Image

    expected = processor(images=[Image.fromarray(image)], return_tensors="np")
    patches, grid = qwen_video_patches(np.stack([image, image]), layout)
    assert grid.tolist() == expected["image_grid_thw"].tolist() == [[1, 4, 6]]
    np.testing.assert_allclose(patches, expected["pixel_values"], atol=1e-5)
    # An odd number of frames is padded with the last one.
    patches3, grid3 = qwen_video_patches(np.stack([image, image, image]), layout)
    assert grid3.tolist() == [[2, 4, 6]] and patches3.shape[0] == 2 * patches.shape[0]


def _inputs(vision: str = "video") -> InputSpec:
    """Qwen2.5-VL inputs for 56 x 56 frames at 2 fps (video, or TimeLens-7B's chunks)."""
    from timelens_eval.adapters.presets import PRESETS

    preset = PRESETS["qwen2.5-vl" if vision == "video" else "timelens-7b"]
    return InputSpec(
        preset=preset,
        vision=vision,
        frames=FrameSpec(fps=2.0, patch=28),
        template=preset.template,
        encoding=preset.encoding,
    )


def test_prompt_encoding_expands_the_video_placeholder(tiny_vl) -> None:
    _, processor = _load(tiny_vl)
    row = {
        "video": {"frames": np.zeros((4, 56, 56, 3), dtype=np.uint8), "fps": 2.0},
        "query": "When does it happen?",
        "duration": 2.0,
    }
    enc = encode_message(processor, prompt_message(row, _inputs()), _inputs(), backend="patches")
    video_id = processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    grid = enc.fields["video_grid_thw"][0].tolist()
    assert grid == [2, 4, 4]
    assert enc.input_ids.count(video_id) == 2 * 4 * 4 // 4
    assert enc.fields["pixel_values_videos"].shape == (32, 3 * 2 * 14 * 14)
    assert enc.fields["second_per_grid_ts"].tolist() == [1.0]
    # TimeLens-7B's chunks: one video after each timestamp text; the frame times the
    # model can tell apart (what the 7B reward snaps the GT to) are the times the texts say.
    chunks = _inputs("chunks")
    message = prompt_message(row, chunks)
    enc = encode_message(processor, message, chunks, backend="patches")
    text = processor.tokenizer.decode(enc.input_ids)
    stated = [float(t) for t in re.findall(r"([0-9.]+)s<\|vision_start\|>", text)]
    assert len(stated) == len(enc.fields["video_grid_thw"]) >= 2
    assert stated == shown_times(message, "chunks").tolist()
    assert enc.input_ids.count(video_id) == 4 * len(stated)
    assert enc.fields["second_per_grid_ts"].tolist() == [1.0] * len(stated)


def _dataset(n_prompts: int = 2):  # type: ignore[no-untyped-def]
    from datasets import Dataset

    rng = np.random.default_rng(1)
    return Dataset.from_dict(
        {
            "prompt": [
                video_prompt(f"Find event {i}. Answer in seconds.") for i in range(n_prompts)
            ],
            "query": [f"event {i}" for i in range(n_prompts)],
            "video": [
                {"frames": rng.integers(0, 256, size=(4, 56, 56, 3)).tolist(), "fps": 2.0}
                for _ in range(n_prompts)
            ],
            "gt": [[[0.5, 1.5]]] * n_prompts,
            "duration": [2.0] * n_prompts,
        }
    )


def _even_tokens(completions, completion_ids, **_):  # type: ignore[no-untyped-def]
    return [sum(1 for t in ids if t % 2 == 0) / max(len(ids), 1) for ids in completion_ids]


@pytest.mark.slow
def _one_step_trainer(model, processor, tmp_path, *, learning_rate):  # type: ignore[no-untyped-def]
    """A video GRPO trainer for one step of 2 prompts x NUM_GENERATIONS on the CPU."""
    settings = GRPOSettings(
        num_generations=NUM_GENERATIONS,
        per_device_train_batch_size=2 * NUM_GENERATIONS,
        max_completion_length=6,
        learning_rate=learning_rate,
        max_steps=1,
        save_strategy="no",
        use_cpu=True,
    )
    return video_grpo_trainer_class()(
        model=model,
        reward_funcs=[_even_tokens],
        args=grpo_config(settings, tmp_path / "out"),
        train_dataset=_dataset(),
        processing_class=processor,
        inputs=_inputs(),
        video_backend="patches",
    )


def test_video_trainer_generates_scores_and_backpropagates_through_the_video(
    tiny_vl, tmp_path
) -> None:
    model, processor = _load(tiny_vl)
    frozen = freeze_vision_tower(model)
    assert frozen > 0

    # Record every call of the vision encoder (prefill of generation, training forward).
    visual = model.model.visual
    calls: list[tuple[int, bool]] = []
    visual.register_forward_hook(
        lambda module, args, output: calls.append((int(args[0].shape[0]), torch.is_grad_enabled()))
    )

    trainer = _one_step_trainer(model, processor, tmp_path, learning_rate=5e-2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer.train()

    rows_per_video = 2 * 4 * 4  # grid (2, 4, 4) for 4 frames of 56 x 56
    batch_rows = 2 * NUM_GENERATIONS * rows_per_video
    # Generation saw every sample's video once (no gradients) ...
    assert (batch_rows, False) in calls
    # ... and so did the training forward pass (with gradients).
    assert (batch_rows, True) in calls

    changed = {n for n, p in model.named_parameters() if not torch.equal(before[n], p.detach())}
    assert any(".merger." in n for n in changed), "no gradient reached the video features"
    assert not any(".visual.blocks." in n for n in changed), "the frozen ViT moved"
    assert any("lm_head" in n or "embed_tokens" in n for n in changed)
    logs = [e for e in trainer.state.log_history if WITHIN_GROUP_STD in e]
    assert logs and logs[0][WITHIN_GROUP_STD] > 0


def test_sampled_completions_never_hold_a_video_placeholder(tiny_vl, tmp_path) -> None:
    """A model that prefers ``<|video_pad|>`` above all else must still train: the trainer
    suppresses vision placeholders in generation (a sampled one would add a video token
    without a video feature and break the training forward pass)."""
    model, processor = _load(tiny_vl)
    video_id = processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")

    def prefer_video_pad(module, args, output):  # type: ignore[no-untyped-def]
        output[..., video_id] += 1e4
        return output

    model.lm_head.register_forward_hook(prefer_video_pad)
    trainer = _one_step_trainer(model, processor, tmp_path, learning_rate=1e-3)
    assert video_id in trainer.generation_config.suppress_tokens
    trainer.train()  # raised "Video features and video tokens do not match" before
    assert trainer.state.global_step == 1
