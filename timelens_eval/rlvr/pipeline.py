"""The RLVR stages end to end: filters, difficulty, sampling, SFT, GRPO training.

1. :func:`estimate_difficulty_for_config` runs the model to be trained over the
   filtered training split through the project's runner, on the config's inputs; the
   per-sample result file (``*.samples.jsonl``) holds each sample's IoU and is the
   difficulty file (see :mod:`timelens_eval.rlvr.data`).
2. :func:`sample_training_set` draws the training subset with the Gaussian sampler and
   writes a selection file (ids, per-bucket counts, histograms) plus a plot.
3. :func:`warm_start` (SFT) and :func:`train` (GRPO, video trainer, early stopping) build
   every prompt with the config's :class:`~timelens_eval.rlvr.inputs.InputSpec`, the
   inputs evaluation uses; they write ``metrics.jsonl``, ``curves.png`` (GRPO),
   ``filters.json`` and the final checkpoint (``final/``) with its inputs file, which the
   ``transformers`` adapter evaluates like any other checkpoint, on the same inputs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from timelens_eval.errors import ConfigError, InputError
from timelens_eval.rlvr.config import RLVRConfig
from timelens_eval.rlvr.data import (
    DifficultyOutcome,
    estimate_difficulty,
    estimate_difficulty_for_config,
    filter_report_of,
    load_training_samples,
    read_selection,
    sample_training_set,
    sft_samples,
    write_filter_report,
)

__all__ = [
    "DifficultyOutcome",
    "TrainOutcome",
    "estimate_difficulty",
    "estimate_difficulty_for_config",
    "sample_training_set",
    "read_selection",
    "load_training_samples",
    "build_dataset",
    "train",
    "warm_start",
]

logger = logging.getLogger(__name__)


def build_dataset(config: RLVRConfig, bench: Any = None, samples: list[Any] | None = None) -> Any:
    """A ``datasets.Dataset`` of training rows for ``config.input_mode`` (default samples:
    :func:`load_training_samples`).

    ``video``: ``prompt`` (a video part and the instruction: TRL's bookkeeping; the
    trainer builds the real prompt from the other columns), ``video`` (file path),
    ``query``, ``clip``, ``gt``, ``duration``, ``sample_id``. ``images``: ``video_path``
    instead of ``video``; the ``prompt`` (frames as image parts with the timestamp
    encoding, exactly as the ``transformers`` adapter builds a ``vision=images`` request)
    and ``images`` are made when a row is read, so frames are decoded lazily.
    """
    from datasets import Dataset

    from timelens_eval.prompts import get_template
    from timelens_eval.rlvr.inputs import InputSpec
    from timelens_eval.rlvr.video_grpo import video_prompt

    if samples is None:
        bench, samples = load_training_samples(config)
    inputs = InputSpec.from_config(config)
    template = get_template(inputs.template)
    images = inputs.vision == "images"
    rows: dict[str, list[Any]] = {
        k: [] for k in ("prompt", "video", "query", "clip", "gt", "duration", "sample_id")
    }
    for sample in samples:
        video = bench.video_path(sample)
        if video is None:
            raise InputError("training needs a video file per sample", sample=sample.sample_id)
        rows["prompt"].append(
            [] if images else video_prompt(template.render(sample.query), config.system_prompt)
        )
        rows["video"].append(str(video.resolve()))
        rows["query"].append(sample.query)
        rows["clip"].append(list(sample.clip) if sample.clip is not None else None)
        rows["gt"].append([[float(s.start), float(s.end)] for s in sample.gt])
        rows["duration"].append(float(sample.duration))
        rows["sample_id"].append(sample.sample_id)
    if not images:
        return Dataset.from_dict(rows)
    rows["video_path"] = rows.pop("video")
    del rows["prompt"]
    dataset = Dataset.from_dict(rows)
    dataset.set_transform(_ImageRows(config, inputs))
    return dataset


class _ImageRows:
    """Row transform for ``input_mode=images``: decode frames, build the adapter's prompt."""

    def __init__(self, config: RLVRConfig, inputs: Any = None) -> None:
        from timelens_eval.rlvr.inputs import InputSpec

        self.config = config
        self.inputs = inputs or InputSpec.from_config(config)
        # TRL reads each row num_generations times in a row, SFT reads every row once per
        # epoch: decoded frames are kept, least recently used first out (data.frame_cache).
        self._frames: dict[str, Any] = {}

    def _sample(self, path: str, duration: float) -> Any:
        from timelens_eval.video.sampler import sample_frames

        frames = self._frames.pop(path, None)
        if frames is None:
            if len(self._frames) >= self.config.data.frame_cache:
                self._frames.pop(next(iter(self._frames)))  # least recently used
            frames = sample_frames(path, self.inputs.frames, duration_hint=duration)
        self._frames[path] = frames
        return frames

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        from PIL import Image

        from timelens_eval.adapters.presets import build_qwen_inputs
        from timelens_eval.prompts import build_prompt

        spec = self.inputs
        prompts, images = [], []
        for path, query, duration in zip(
            batch["video_path"], batch["query"], batch["duration"], strict=True
        ):
            frames = self._sample(path, duration)
            message = build_prompt(query, frames, spec.template, spec.encoding, duration)
            inputs = build_qwen_inputs(message, spec.preset, "images")
            turn: list[dict[str, Any]] = []
            if spec.system_prompt:
                turn.append(
                    {"role": "system", "content": [{"type": "text", "text": spec.system_prompt}]}
                )
            turn.append({"role": "user", "content": inputs.content})
            prompts.append(turn)
            images.append([Image.fromarray(a) for a in inputs.images])
        return {**batch, "prompt": prompts, "images": images}


@dataclass(frozen=True)
class TrainOutcome:
    """What a training run wrote."""

    output_dir: Path
    final_checkpoint: Path
    metrics_file: Path
    curves_plot: Path
    steps: int
    stopped_early_at: int | None
    restored_step: int | None = None
    """The step whose weights were put back after a format collapse (None: none were)."""


def _metrics_recorder(path: Path) -> Any:
    from transformers import TrainerCallback

    class MetricsRecorder(TrainerCallback):
        """Appends every log (with its step) to ``metrics.jsonl``."""

        def __init__(self) -> None:
            self.rows: list[dict[str, Any]] = []

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> Any:
            if logs:
                row = {"step": state.global_step, **{k: v for k, v in logs.items()}}
                self.rows.append(row)
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row, default=float) + "\n")
            return control

    return MetricsRecorder()


def _load_policy(config: RLVRConfig, model: str | None = None) -> tuple[Any, Any]:
    """The policy ``model`` (default ``config.model``) and its processor, with the
    config's dtype and attention implementation."""
    import torch
    from transformers import AutoModelForImageTextToText

    from timelens_eval.tiny_models import load_processor

    path = model or config.model
    dtype = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16}[config.dtype]
    options: dict[str, Any] = {"dtype": dtype}
    if config.attn_implementation:
        options["attn_implementation"] = config.attn_implementation
    try:
        policy = AutoModelForImageTextToText.from_pretrained(path, **options)
        processor = load_processor(path)
    except OSError as exc:
        raise InputError(f"cannot load the policy checkpoint: {exc}", path=path) from None
    return policy, processor


def _prepare_policy(model: Any, freeze: bool, checkpointing: bool) -> None:
    """Freeze the vision tower (not its merger) and, with activation checkpointing, make
    the input embeddings' outputs require grad, as TimeLens' training scripts do (with
    reentrant checkpointing a segment whose inputs need no grad passes none back)."""
    from timelens_eval.rlvr.trainer import freeze_vision_tower

    if freeze:
        freeze_vision_tower(model)
    if checkpointing:
        model.enable_input_require_grads()


_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_MODEL_FILES = {"config.json", "generation_config.json", "model.safetensors.index.json"}


def _save_processor(processor: Any, source: str, dest: Path) -> None:
    """Save the processor beside the trained weights, and copy the source checkpoint's
    other non-weight files that are not there yet (e.g. a tiny model's card).

    A processor without a video processor (no ``torchvision``) cannot be saved by
    transformers; then the source checkpoint's tokenizer and processor files are copied.
    """
    import shutil

    src = Path(source)
    if getattr(processor, "video_processor", None) is not None:
        processor.save_pretrained(str(dest))
    if not src.is_dir():
        return
    # Files of the source the processor does not write (all of them without a video
    # processor; otherwise e.g. the tiny model card) travel with the checkpoint.
    for path in src.iterdir():
        if (
            path.is_file()
            and path.name not in _MODEL_FILES
            and path.suffix not in _WEIGHT_SUFFIXES
            and not (dest / path.name).exists()
        ):
            shutil.copy2(path, dest / path.name)


def _finish_checkpoint(config: RLVRConfig, processor: Any, source: str, final: Path) -> None:
    """Save the processor and the inputs file beside trained weights in ``final``."""
    from timelens_eval.checkpoint_inputs import write_checkpoint_inputs
    from timelens_eval.rlvr.inputs import InputSpec

    _save_processor(processor, source, final)
    write_checkpoint_inputs(final, InputSpec.from_config(config).checkpoint_inputs())


def warm_start(config: RLVRConfig) -> Path:
    """Supervised warm start of ``sft.model`` (default ``model``); returns ``sft/final``.

    The rows are ``sft.sampling``'s draw from the filtered pool, or the GRPO rows (the
    config's selection and limit); prompts are the config's inputs. Point ``model`` of
    the GRPO config at the returned directory.
    """
    from timelens_eval.rlvr.inputs import InputSpec
    from timelens_eval.rlvr.sft import run_sft

    out = Path(config.output_dir) / "sft"
    out.mkdir(parents=True, exist_ok=True)
    source = config.sft.model or config.model
    bench, samples, selection = sft_samples(config)
    write_filter_report(filter_report_of(bench), out)
    if selection is not None:
        (out / "sft_selection.json").write_text(
            json.dumps({"selected": len(samples), "sample_ids": selection.sample_ids}) + "\n",
            encoding="utf-8",
        )
    dataset = build_dataset(config, bench, samples)
    model, processor = _load_policy(config, source)
    freeze = config.sft.freeze_vision_tower
    _prepare_policy(
        model,
        freeze if freeze is not None else config.grpo.freeze_vision_tower,
        config.sft.gradient_checkpointing,
    )
    recorder = _metrics_recorder(out / "metrics.jsonl")
    (out / "metrics.jsonl").unlink(missing_ok=True)
    trainer = run_sft(
        model,
        processor,
        dataset,
        config.sft,
        out / "checkpoints",
        inputs=InputSpec.from_config(config),
        video_backend=config.video_backend,
        snap_gt=config.reward.snap_gt_to_frames,
        callbacks=[recorder],
    )
    final = out / "final"
    trainer.save_model(str(final))
    _finish_checkpoint(config, processor, source, final)
    return final


def train(config: RLVRConfig) -> TrainOutcome:
    """Run GRPO for ``config``; returns where the checkpoint, metrics and plots are."""
    from timelens_eval.rlvr.early_stopping import make_early_stopping_callback
    from timelens_eval.rlvr.inputs import InputSpec
    from timelens_eval.rlvr.plots import plot_training_curves
    from timelens_eval.rlvr.reward import make_reward_funcs
    from timelens_eval.rlvr.trainer import grpo_config, require_trl
    from timelens_eval.rlvr.video_grpo import video_grpo_trainer_class

    require_trl()
    inputs = InputSpec.from_config(config)
    if config.reward.snap_gt_to_frames and inputs.vision == "images":
        raise ConfigError("reward.snap_gt_to_frames needs input_mode: video")
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(config.model_dump_json(indent=2) + "\n", encoding="utf-8")
    for stale in ("metrics.jsonl", "early_stopping.jsonl"):
        (out / stale).unlink(missing_ok=True)

    bench, samples = load_training_samples(config)
    report = filter_report_of(bench)
    write_filter_report(report, out)
    logger.info("data filters: %s", report.summary())
    dataset = build_dataset(config, bench, samples)
    model, processor = _load_policy(config)
    _prepare_policy(model, config.grpo.freeze_vision_tower, config.grpo.gradient_checkpointing)
    funcs, weights = make_reward_funcs(config.reward)
    settings = config.grpo
    if len(weights) > 1 and "reward_weights" not in settings.extra:
        settings = settings.model_copy(
            update={"extra": {**settings.extra, "reward_weights": weights}}
        )
    early = make_early_stopping_callback(config.early_stopping, log_dir=out)
    recorder = _metrics_recorder(out / "metrics.jsonl")
    trainer = video_grpo_trainer_class()(
        model=model,
        reward_funcs=funcs,
        args=grpo_config(settings, out / "checkpoints"),
        train_dataset=dataset,
        processing_class=processor,
        callbacks=[early, recorder],
        inputs=inputs,
        video_backend=config.video_backend,
        snap_gt=config.reward.snap_gt_to_frames,
    )
    logger.info("GRPO on %d samples, %s", len(dataset), settings.model_dump_json())
    trainer.train()

    final = out / "final"
    if getattr(processor, "video_processor", None) is None:
        # Trainer.save_model also saves the processing class, which fails for a processor
        # without its video part; _save_processor handles that case.
        trainer.processing_class = None
    trainer.save_model(str(final))
    trainer.processing_class = processor
    _finish_checkpoint(config, processor, config.model, final)
    curves = plot_training_curves(
        recorder.rows,
        out / "curves.png",
        stop_step=early.stopped_at,
        restored_step=early.restored_step,
        title=config.name,
    )
    summary = {
        "name": config.name,
        "steps": trainer.state.global_step,
        "stopped_early_at": early.stopped_at,
        "weights_restored_from_step": early.restored_step,
        "samples": len(dataset),
        "data_filters": report.as_dict(),
        "final_checkpoint": str(final),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return TrainOutcome(
        output_dir=out,
        final_checkpoint=final,
        metrics_file=out / "metrics.jsonl",
        curves_plot=curves,
        steps=trainer.state.global_step,
        stopped_early_at=early.stopped_at,
        restored_step=early.restored_step,
    )
