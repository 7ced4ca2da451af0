"""Supervised warm start before GRPO: next-token loss on the ground-truth answer.

Each training row (the same rows GRPO uses: prompt, video, gt) becomes the rendered
prompt with its video placeholder expanded, followed by the answer in the TimeLens
format (``The event happens in <start> - <end> seconds.``) and the end-of-turn token.
Only the answer tokens carry a loss. Video tensors are built exactly as for GRPO
(:func:`timelens_eval.rlvr.video_grpo.encode_video_prompt`) and passed to the model's
forward with the matching ``mm_token_type_ids``.

Training runs on ``transformers.Trainer`` with this collator; TRL's ``SFTTrainer``
prepares text and images itself and has no video path, so it is not used here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from timelens_eval.rlvr.video_grpo import VideoClip, encode_video_prompt, load_row_video
from timelens_eval.video.types import FrameSpec

__all__ = ["SFTSettings", "answer_text", "VideoSFTCollator", "sft_training_args", "run_sft"]


class SFTSettings(BaseModel):
    """Supervised warm-start options."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    learning_rate: float = Field(1e-5, gt=0)
    lr_scheduler_type: str = "cosine"
    warmup: float = Field(
        0.03, ge=0, description="Warm-up: a fraction of the steps (< 1) or a step count."
    )
    weight_decay: float = Field(0.0, ge=0)
    num_train_epochs: float = Field(1.0, gt=0)
    max_steps: int = -1
    per_device_train_batch_size: int = Field(1, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    seed: int = 42
    logging_steps: int = Field(1, ge=1)
    save_strategy: str = "no"
    bf16: bool = False
    gradient_checkpointing: bool = False
    use_cpu: bool = False
    answer_decimals: int = Field(1, ge=0, description="Decimals of the times in the answer.")


def answer_text(gt: Sequence[Sequence[float]], decimals: int = 1) -> str:
    """The TimeLens answer for the first ground-truth window."""
    start, end = float(gt[0][0]), float(gt[0][1])
    return f"The event happens in {start:.{decimals}f} - {end:.{decimals}f} seconds."


class VideoSFTCollator:
    """Turns GRPO-style rows into padded SFT batches with video tensors."""

    def __init__(
        self,
        processor: Any,
        *,
        frame_spec: FrameSpec | None = None,
        video_loader: Callable[[Mapping[str, Any]], VideoClip | None] | None = None,
        video_backend: str = "auto",
        answer_decimals: int = 1,
    ) -> None:
        self.processor = processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.video_loader = video_loader or (lambda row: load_row_video(row, frame_spec))
        self.video_backend = video_backend
        self.answer_decimals = answer_decimals
        self.end_of_turn = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        self.video_token = self.tokenizer.convert_tokens_to_ids("<|video_pad|>")
        self.image_token = self.tokenizer.convert_tokens_to_ids("<|image_pad|>")

    def _encode(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Prompt ids and vision tensors of one row (video, or frames as images)."""
        text = self.processor.apply_chat_template(
            row["prompt"], tokenize=False, add_generation_prompt=True
        )
        if row.get("images"):
            out = self.processor(text=[text], images=list(row["images"]), return_tensors="pt")
            return {
                "input_ids": out["input_ids"][0].tolist(),
                "pixel_values": out["pixel_values"],
                "image_grid_thw": out["image_grid_thw"],
            }
        clip = self.video_loader(row)
        if clip is None:
            raise ValueError("SFT rows need a video or images")
        return encode_video_prompt(self.processor, text, clip, backend=self.video_backend)

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        import torch

        sequences, prompt_lengths = [], []
        vision: dict[str, list[Any]] = {}
        for row in rows:
            enc = self._encode(row)
            answer = self.tokenizer(
                answer_text(row["gt"], self.answer_decimals), add_special_tokens=False
            )["input_ids"]
            sequences.append(enc["input_ids"] + list(answer) + [self.end_of_turn])
            prompt_lengths.append(len(enc["input_ids"]))
            for key, value in enc.items():
                if key != "input_ids" and value is not None:
                    vision.setdefault(key, []).append(value)
        if any(len(v) != len(rows) for v in vision.values()):
            raise ValueError("a batch mixes rows with videos and rows with images")
        width = max(len(s) for s in sequences)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(sequences), width), pad, dtype=torch.long)
        attention = torch.zeros((len(sequences), width), dtype=torch.long)
        labels = torch.full((len(sequences), width), -100, dtype=torch.long)
        for i, (seq, n_prompt) in enumerate(zip(sequences, prompt_lengths, strict=True)):
            ids = torch.tensor(seq)
            input_ids[i, : len(seq)] = ids
            attention[i, : len(seq)] = 1
            labels[i, n_prompt : len(seq)] = ids[n_prompt:]
        types = torch.zeros_like(input_ids)
        types[input_ids == self.image_token] = 1
        types[input_ids == self.video_token] = 2
        batch = {
            "input_ids": input_ids,
            "attention_mask": attention,
            "labels": labels,
            "mm_token_type_ids": types,
        }
        batch.update({key: torch.cat(values) for key, values in vision.items()})
        return batch


def sft_training_args(settings: SFTSettings, output_dir: str | Path) -> Any:
    """``transformers.TrainingArguments`` for ``settings``."""
    from transformers import TrainingArguments

    fields = getattr(TrainingArguments, "__dataclass_fields__", {})
    checkpointing = (
        "activation_checkpointing"
        if "activation_checkpointing" in fields
        else "gradient_checkpointing"
    )
    return TrainingArguments(
        output_dir=str(output_dir),
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler_type,
        warmup_steps=settings.warmup,
        weight_decay=settings.weight_decay,
        num_train_epochs=settings.num_train_epochs,
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.per_device_train_batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        seed=settings.seed,
        logging_steps=settings.logging_steps,
        save_strategy=settings.save_strategy,
        bf16=settings.bf16,
        use_cpu=settings.use_cpu,
        remove_unused_columns=False,
        report_to="none",
        **{checkpointing: settings.gradient_checkpointing},
    )


def run_sft(
    model: Any,
    processor: Any,
    dataset: Any,
    settings: SFTSettings,
    output_dir: str | Path,
    *,
    frame_spec: FrameSpec | None = None,
    video_backend: str = "auto",
    callbacks: Sequence[Any] = (),
) -> Any:
    """Fine-tune ``model`` on ``dataset`` rows; returns the finished ``Trainer``."""
    from transformers import Trainer

    collator = VideoSFTCollator(
        processor,
        frame_spec=frame_spec,
        video_backend=video_backend,
        answer_decimals=settings.answer_decimals,
    )
    trainer = Trainer(
        model=model,
        args=sft_training_args(settings, output_dir),
        train_dataset=dataset,
        data_collator=collator,
        callbacks=list(callbacks),
    )
    trainer.train()
    return trainer
