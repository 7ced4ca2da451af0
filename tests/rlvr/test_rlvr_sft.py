"""Supervised warm start with video inputs on a tiny offline Qwen2.5-VL."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from timelens_eval.rlvr.inputs import InputSpec  # noqa: E402
from timelens_eval.rlvr.sft import SFTSettings, VideoSFTCollator, answer_text, run_sft  # noqa: E402
from timelens_eval.rlvr.video_grpo import video_prompt  # noqa: E402
from timelens_eval.video.types import FrameSpec  # noqa: E402


def _inputs() -> InputSpec:
    from timelens_eval.adapters.presets import PRESETS

    return InputSpec(
        preset=PRESETS["qwen2.5-vl"],
        vision="video",
        frames=FrameSpec(fps=2.0, patch=28),
        template="timelens",
        encoding="none",
    )


@pytest.fixture(scope="module")
def tiny_vl(tmp_path_factory):  # type: ignore[no-untyped-def]
    from timelens_eval.tiny_models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "vl", "qwen2_5_vl", seed=0)


def _rows(n: int = 1) -> list[dict]:
    rng = np.random.default_rng(2)
    return [
        {
            "prompt": video_prompt(f"When does event {i} happen?"),
            "query": f"event {i}",
            "video": {
                "frames": rng.integers(0, 256, size=(4, 56, 56, 3), dtype=np.uint8),
                "fps": 2.0,
            },
            "gt": [[0.5 + i, 1.5 + i]],
            "duration": 4.0,
        }
        for i in range(n)
    ]


def test_answer_text_names_every_window_as_timelens_sft_data_does() -> None:
    assert answer_text([[1.25, 3.0]]) == "The event happens in 1.2 - 3.0 seconds."
    two = [[1.0, 3.0], [5, 6]]
    assert answer_text(two) == "The event happens in 1.0 - 3.0 seconds, 5.0 - 6.0 seconds."
    assert answer_text(two, decimals=0, spans="first") == "The event happens in 1 - 3 seconds."


def test_collator_puts_the_loss_on_the_answer_only(tiny_vl) -> None:
    from timelens_eval.tiny_models import load_processor

    processor = load_processor(tiny_vl)
    batch = VideoSFTCollator(processor, inputs=_inputs(), video_backend="patches")(_rows(2))
    tok = processor.tokenizer
    for i, row in enumerate(_rows(2)):
        target = batch["labels"][i][batch["labels"][i] != -100]
        assert tok.decode(target[:-1]) == answer_text(row["gt"])
        assert int(target[-1]) == tok.convert_tokens_to_ids("<|im_end|>")
        n_video = int((batch["input_ids"][i] == tok.convert_tokens_to_ids("<|video_pad|>")).sum())
        assert n_video == int(batch["video_grid_thw"][i].prod()) // 4
        assert int((batch["mm_token_type_ids"][i] == 2).sum()) == n_video
    assert batch["pixel_values_videos"].shape[0] == int(batch["video_grid_thw"].prod(-1).sum())


@pytest.mark.slow
def test_sft_lowers_the_answer_loss(tiny_vl, tmp_path) -> None:
    from datasets import Dataset
    from transformers import AutoModelForImageTextToText

    from timelens_eval.tiny_models import load_processor

    model = AutoModelForImageTextToText.from_pretrained(tiny_vl, dtype=torch.float32)
    rows = _rows(1)
    rows[0]["video"]["frames"] = rows[0]["video"]["frames"].tolist()
    dataset = Dataset.from_list(rows)
    settings = SFTSettings(
        learning_rate=1e-2, lr_scheduler_type="constant", warmup=0.0, max_steps=8, use_cpu=True
    )
    trainer = run_sft(
        model,
        load_processor(tiny_vl),
        dataset,
        settings,
        tmp_path,
        inputs=_inputs(),
        video_backend="patches",
    )
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    assert len(losses) == 8
    assert losses[-1] < 0.7 * losses[0], losses


def test_weight_decay_spares_what_timelens_sft_spares(tmp_path) -> None:
    """TimeLens' SFT trainer decays every parameter but biases and nn.LayerNorm weights,
    so Qwen's RMSNorm weights decay (transformers' default spares every norm)."""
    from transformers import AutoModelForImageTextToText

    from timelens_eval.rlvr.sft import _trainer_class, sft_training_args
    from timelens_eval.tiny_models import build_tiny_model

    path = build_tiny_model(tmp_path / "qwen3", "qwen3_vl", seed=0)
    model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
    layer_norms = {
        f"{m}.{p}"
        for m, module in model.named_modules()
        if isinstance(module, torch.nn.LayerNorm)
        for p, _ in module.named_parameters(recurse=False)
    }
    rms_norm = next(n for n, _ in model.named_parameters() if n.endswith("input_layernorm.weight"))
    assert layer_norms  # Qwen3-VL's ViT and merger use nn.LayerNorm
    settings = SFTSettings(weight_decay=0.1, use_cpu=True)
    for exempt, rms_decays in (("layernorm", True), ("norms", False)):
        trainer = _trainer_class(exempt)(
            model=model, args=sft_training_args(settings, tmp_path / exempt)
        )
        decayed = set(trainer.get_decay_parameter_names(model))
        assert (rms_norm in decayed) is rms_decays
        assert not decayed & layer_norms and not any("bias" in n for n in decayed)
        groups = trainer.create_optimizer().param_groups
        assert [g["weight_decay"] for g in groups] == [0.1, 0.0]
