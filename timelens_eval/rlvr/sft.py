"""Supervised warm start before GRPO: next-token loss on the ground-truth answer.

Each training row (the same kind of rows GRPO uses: video, query, gt, duration) becomes
its prompt, built and encoded exactly as for GRPO and evaluation
(:func:`timelens_eval.rlvr.inputs.prompt_message` and
:func:`~timelens_eval.rlvr.inputs.encode_message`), followed by the answer in the
TimeLens format and the end-of-turn token. The answer names every ground-truth window,
as TimeLens' SFT data does (``The event happens in 1.0 - 3.0 seconds, 5.0 - 6.0
seconds.``); ``answer_spans: first`` keeps only the first. Only the answer tokens carry a
loss; the vision tensors go to the model's forward with the matching
``mm_token_type_ids``. Rows whose frames are already images (``input_mode: images``)
carry ``prompt`` and ``images`` instead.

Training runs on ``transformers.Trainer`` with this collator; TRL's ``SFTTrainer``
prepares text and images itself and has no video path, so it is not used here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from timelens_eval.rlvr.sampling import SamplingConfig

__all__ = ["SFTSettings", "answer_text", "VideoSFTCollator", "sft_training_args", "run_sft"]


class SFTSettings(BaseModel):
    """Supervised warm-start options."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = Field(
        None,
        description="Checkpoint SFT starts from (None: the config's model). TimeLens-8B: the "
        "base Qwen3-VL-8B-Instruct, while the GRPO config's model is the SFT result.",
    )
    sampling: SamplingConfig | None = Field(
        None,
        description="Draw the SFT rows from the filtered pool with this sampler (TimeLens-8B: "
        "uniform, 9 duration buckets x 3,333); None: the GRPO rows (data.selection).",
    )
    learning_rate: float = Field(1e-5, gt=0)
    lr_scheduler_type: str = "cosine"
    warmup: float = Field(
        0.03, ge=0, description="Warm-up: a fraction of the steps (< 1) or a step count."
    )
    optim: str = "adamw_torch"
    weight_decay: float = Field(0.0, ge=0)
    weight_decay_exempt: Literal["norms", "layernorm"] = Field(
        "norms",
        description="Parameters without weight decay: 'norms' (transformers: biases and every "
        "normalisation weight) or 'layernorm' (TimeLens' SFT trainer: biases and nn.LayerNorm "
        "weights only, so RMSNorm weights decay).",
    )
    num_train_epochs: float = Field(1.0, gt=0)
    max_steps: int = -1
    per_device_train_batch_size: int = Field(1, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    seed: int = 42
    logging_steps: int = Field(1, ge=1)
    save_strategy: str = "no"
    save_total_limit: int | None = None
    save_only_model: bool = False
    bf16: bool = False
    tf32: bool | None = None
    gradient_checkpointing: bool = False
    gradient_checkpointing_kwargs: dict[str, Any] | None = None
    deepspeed: str | None = Field(None, description="DeepSpeed JSON config (TimeLens: ZeRO-3).")
    freeze_vision_tower: bool | None = Field(
        None, description="Freeze the ViT, not its merger (None: as grpo.freeze_vision_tower)."
    )
    use_cpu: bool = False
    answer_decimals: int = Field(1, ge=0, description="Decimals of the times in the answer.")
    answer_spans: Literal["all", "first"] = Field(
        "all", description="Name every GT window in the answer (TimeLens) or the first only."
    )


def answer_text(gt: Sequence[Sequence[float]], decimals: int = 1, spans: str = "all") -> str:
    """The TimeLens answer naming the ground-truth windows (``spans``: all, or the first):
    ``The event happens in 1.0 - 3.0 seconds, 5.0 - 6.0 seconds.``"""
    windows = list(gt) if spans == "all" else list(gt[:1])
    if not windows:
        raise ValueError("an answer needs at least one ground-truth window")
    parts = [f"{float(s):.{decimals}f} - {float(e):.{decimals}f} seconds" for s, e in windows]
    return "The event happens in " + ", ".join(parts) + "."


class VideoSFTCollator:
    """Turns GRPO-style rows into padded SFT batches with video tensors."""

    def __init__(
        self,
        processor: Any,
        *,
        inputs: Any = None,
        message_loader: Callable[[Mapping[str, Any]], Any] | None = None,
        video_backend: str = "auto",
        answer_decimals: int = 1,
        answer_spans: str = "all",
        snap_gt: bool = False,
    ) -> None:
        self.processor = processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.inputs = inputs
        self.message_loader = message_loader
        self.video_backend = video_backend
        self.answer_decimals = answer_decimals
        self.answer_spans = answer_spans
        self.snap_gt = snap_gt
        self.end_of_turn = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        self.video_token = self.tokenizer.convert_tokens_to_ids("<|video_pad|>")
        self.image_token = self.tokenizer.convert_tokens_to_ids("<|image_pad|>")

    def _encode(self, row: Mapping[str, Any]) -> tuple[list[int], dict[str, Any], Any]:
        """Prompt ids, vision tensors and GT windows of one row (video, or frames as images)."""
        from timelens_eval.rlvr.inputs import encode_message, prompt_message, snap_row_gt

        if row.get("images"):
            text = self.processor.apply_chat_template(
                row["prompt"], tokenize=False, add_generation_prompt=True
            )
            out = self.processor(text=[text], images=list(row["images"]), return_tensors="pt")
            fields = {"pixel_values": out["pixel_values"], "image_grid_thw": out["image_grid_thw"]}
            return out["input_ids"][0].tolist(), fields, row["gt"]
        if "video" not in row:
            raise ValueError("SFT rows need a video or images")
        if self.message_loader is not None:
            message = self.message_loader(row)
        elif self.inputs is not None:
            message = prompt_message(row, self.inputs)
        else:
            raise ValueError("video SFT rows need the collator's inputs=InputSpec(...)")
        enc = encode_message(self.processor, message, self.inputs, backend=self.video_backend)
        gt = snap_row_gt(row, message, self.inputs.vision)["gt"] if self.snap_gt else row["gt"]
        return enc.input_ids, enc.fields, gt

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        import torch

        sequences, prompt_lengths = [], []
        vision: dict[str, list[Any]] = {}
        for row in rows:
            prompt_ids, fields, gt = self._encode(row)
            answer = self.tokenizer(
                answer_text(gt, self.answer_decimals, self.answer_spans), add_special_tokens=False
            )["input_ids"]
            sequences.append(prompt_ids + list(answer) + [self.end_of_turn])
            prompt_lengths.append(len(prompt_ids))
            for key, value in fields.items():
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

    from timelens_eval.rlvr.trainer import checkpointing_arguments

    return TrainingArguments(
        output_dir=str(output_dir),
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler_type,
        warmup_steps=settings.warmup,
        optim=settings.optim,
        weight_decay=settings.weight_decay,
        num_train_epochs=settings.num_train_epochs,
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.per_device_train_batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        seed=settings.seed,
        logging_steps=settings.logging_steps,
        save_strategy=settings.save_strategy,
        save_total_limit=settings.save_total_limit,
        save_only_model=settings.save_only_model,
        bf16=settings.bf16,
        tf32=settings.tf32,
        deepspeed=settings.deepspeed,
        use_cpu=settings.use_cpu,
        remove_unused_columns=False,
        report_to="none",
        **checkpointing_arguments(
            TrainingArguments,
            settings.gradient_checkpointing,
            settings.gradient_checkpointing_kwargs,
        ),
    )


def _trainer_class(exempt: str) -> type:
    """``transformers.Trainer``, or with ``exempt == "layernorm"`` one that decays every
    parameter but biases and ``nn.LayerNorm`` weights, as TimeLens' SFT trainer does."""
    from transformers import Trainer

    if exempt == "norms":
        return Trainer

    class LayerNormExemptTrainer(Trainer):
        """Weight decay on all but biases and nn.LayerNorm weights."""

        def get_decay_parameter_names(self, model: Any) -> list[str]:
            import torch
            from transformers.trainer_pt_utils import get_parameter_names

            names = get_parameter_names(model, [torch.nn.LayerNorm])
            return [n for n in names if "bias" not in n]

    return LayerNormExemptTrainer


def run_sft(
    model: Any,
    processor: Any,
    dataset: Any,
    settings: SFTSettings,
    output_dir: str | Path,
    *,
    inputs: Any = None,
    video_backend: str = "auto",
    snap_gt: bool = False,
    callbacks: Sequence[Any] = (),
) -> Any:
    """Fine-tune ``model`` on ``dataset`` rows (prompts built with ``inputs``, an
    :class:`~timelens_eval.rlvr.inputs.InputSpec`); returns the finished ``Trainer``."""
    collator = VideoSFTCollator(
        processor,
        inputs=inputs,
        video_backend=video_backend,
        answer_decimals=settings.answer_decimals,
        answer_spans=settings.answer_spans,
        snap_gt=snap_gt,
    )
    trainer = _trainer_class(settings.weight_decay_exempt)(
        model=model,
        args=sft_training_args(settings, output_dir),
        train_dataset=dataset,
        data_collator=collator,
        callbacks=list(callbacks),
    )
    trainer.train()
    return trainer
