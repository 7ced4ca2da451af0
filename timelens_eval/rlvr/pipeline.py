"""The RLVR stages end to end: difficulty estimation, sampling, GRPO training.

1. :func:`estimate_difficulty` runs the model to be trained over the training split
   through the project's runner; the per-sample result file (``*.samples.jsonl``) holds
   each sample's IoU and is the difficulty file.
2. :func:`sample_training_set` draws the training subset with the Gaussian sampler and
   writes a selection file (ids, per-bucket counts, histograms) plus a plot.
3. :func:`train` runs GRPO (video trainer, TimeLens settings) with early stopping and
   writes ``metrics.jsonl``, ``early_stopping.jsonl``, ``curves.png`` and the final
   checkpoint (``final/``), which the ``transformers`` adapter evaluates like any other.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from timelens_eval.errors import ConfigError, InputError
from timelens_eval.rlvr.config import RLVRConfig
from timelens_eval.rlvr.sampling import (
    SamplingConfig,
    Selection,
    expected_bin_distribution,
    read_difficulty,
    select_samples,
)

__all__ = [
    "DifficultyOutcome",
    "TrainOutcome",
    "estimate_difficulty",
    "sample_training_set",
    "read_selection",
    "load_training_samples",
    "build_dataset",
    "train",
    "warm_start",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DifficultyOutcome:
    """Where the difficulty file is, and the IoU summary of the model before RL."""

    difficulty_file: Path
    header: Path
    samples: int
    mean_iou: float | None


def estimate_difficulty(
    adapter: str,
    adapter_args: str | dict[str, Any] | None,
    benchmark: str,
    *,
    annotations: str | Path | None = None,
    video_root: str | Path | None = None,
    loader_options: dict[str, Any] | None = None,
    output: str | Path | None = None,
    limit: int | None = None,
    concurrency: int = 1,
    progress: bool = False,
    frames: Any = None,
    template: str | None = None,
    encoding: str | None = None,
) -> DifficultyOutcome:
    """Run ``adapter`` (the model before RL) over ``benchmark`` and return the IoU file.

    ``frames``, ``template`` and ``encoding`` override the adapter's defaults (use the
    training config's, so the difficulty is measured on the inputs GRPO will see).
    Reruns resume like any run. The samples file has ``sample_id``, ``iou`` and
    ``duration`` per line, which is what the sampler reads.
    """
    from timelens_eval.adapters import build_adapter
    from timelens_eval.benchmarks import load_benchmark
    from timelens_eval.runner import RunOptions, run_benchmark

    built = build_adapter(adapter, adapter_args)
    bench = load_benchmark(benchmark, annotations, video_root=video_root, **(loader_options or {}))
    options = RunOptions(
        output=Path(output) if output is not None else None,
        limit=limit,
        concurrency=concurrency,
        progress=progress,
        bootstrap=0,
        frames=frames,
        template=template,
        encoding=encoding,
    )
    outcome = run_benchmark(built, bench, options, adapter_name=adapter)
    if outcome.result is None:
        raise InputError(
            f"difficulty run stopped before every sample was done ({outcome.errors} errors); "
            "run the same command again to resume",
            path=outcome.paths.header,
        )
    records = read_difficulty(outcome.paths.samples)
    mean = float(np.mean([r.iou for r in records])) if records else None
    return DifficultyOutcome(outcome.paths.samples, outcome.paths.header, len(records), mean)


def sample_training_set(
    difficulty_file: str | Path,
    config: SamplingConfig,
    output: str | Path,
    *,
    plot: bool = True,
) -> Selection:
    """Draw the training subset and write it (JSON) with a histogram plot beside it."""
    records = read_difficulty(difficulty_file)
    if not records:
        raise InputError("the difficulty file has no samples", path=difficulty_file)
    selection = select_samples(records, config)
    by_id = {r.sample_id: r for r in records}
    pool = np.array([r.iou for r in records])
    chosen = np.array([by_id[i].iou for i in selection.sample_ids])
    target = expected_bin_distribution(pool, config)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "difficulty_file": str(difficulty_file),
        "sampling": config.model_dump(mode="json"),
        "pool_size": len(records),
        "selected": len(selection.sample_ids),
        "unbucketed": selection.unbucketed,
        "buckets": [
            {
                "min_duration": b.min_duration,
                "max_duration": b.max_duration if np.isfinite(b.max_duration) else None,
                "target_size": b.target_size,
                "pool": pool_n,
                "selected": chosen_n,
            }
            for b, pool_n, chosen_n in selection.bucket_counts
        ],
        "iou_histogram": {
            "bins": config.num_bins,
            "pool": np.histogram(np.clip(pool, 0, 1), config.num_bins, (0, 1))[0].tolist(),
            "selected": np.histogram(np.clip(chosen, 0, 1), config.num_bins, (0, 1))[0].tolist(),
            "target_share": [round(float(x), 6) for x in target],
        },
        "sample_ids": selection.sample_ids,
    }
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    if plot:
        from timelens_eval.rlvr.plots import plot_selection

        plot_selection(pool, chosen, target, out.with_suffix(".png"))
    return selection


def read_selection(path: str | Path) -> list[str]:
    """The sample ids of a selection file written by :func:`sample_training_set`."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        ids = document["sample_ids"]
    except OSError as exc:
        raise InputError(f"cannot read selection: {exc.strerror}", path=path) from None
    except (ValueError, KeyError, TypeError):
        raise InputError("not a selection file (no sample_ids list)", path=path) from None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InputError("sample_ids must be a list of strings", path=path)
    return ids


def load_training_samples(config: RLVRConfig) -> tuple[Any, list[Any]]:
    """The benchmark and its samples chosen for training (selection, then limit)."""
    from timelens_eval.benchmarks import load_benchmark

    data = config.data
    bench = load_benchmark(
        data.benchmark, data.annotations, video_root=data.video_root, **data.loader_options
    )
    samples = list(bench.samples)
    if data.selection is not None:
        wanted = read_selection(data.selection)
        by_id = bench.by_id()
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise InputError(
                f"{len(missing)} selected samples are not in {bench.name} (first: {missing[0]})",
                path=data.selection,
            )
        samples = [by_id[i] for i in wanted]
    if data.limit is not None:
        samples = samples[: data.limit]
    if not samples:
        raise ConfigError("no training samples selected")
    return bench, samples


def build_dataset(config: RLVRConfig) -> Any:
    """A ``datasets.Dataset`` of GRPO rows for ``config.input_mode``.

    ``video``: prompt (a video part and the instruction), ``video`` (file path), ``gt``,
    ``duration``, ``sample_id``. ``images``: ``video_path`` instead of ``video``; the
    ``prompt`` (frames as image parts with the timestamp encoding, exactly as the
    ``transformers`` adapter builds a ``vision=images`` request) and ``images`` are made
    when a row is read, so frames are decoded lazily.
    """
    from datasets import Dataset

    from timelens_eval.prompts import get_template
    from timelens_eval.rlvr.video_grpo import video_prompt

    bench, samples = load_training_samples(config)
    template = get_template(config.template)
    images = config.input_mode == "images"
    rows: dict[str, list[Any]] = {
        k: [] for k in ("prompt", "video", "gt", "duration", "sample_id", "query")
    }
    for sample in samples:
        video = bench.video_path(sample)
        if video is None:
            raise InputError("training needs a video file per sample", sample=sample.sample_id)
        rows["prompt"].append(
            [] if images else video_prompt(template.render(sample.query), config.system_prompt)
        )
        rows["video"].append(str(video.resolve()))
        rows["gt"].append([[float(s.start), float(s.end)] for s in sample.gt])
        rows["duration"].append(float(sample.duration))
        rows["sample_id"].append(sample.sample_id)
        rows["query"].append(sample.query)
    if not images:
        del rows["query"]
        return Dataset.from_dict(rows)
    rows["video_path"] = rows.pop("video")
    del rows["prompt"]
    dataset = Dataset.from_dict(rows)
    dataset.set_transform(_ImageRows(config))
    return dataset


class _ImageRows:
    """Row transform for ``input_mode=images``: decode frames, build the adapter's prompt."""

    def __init__(self, config: RLVRConfig) -> None:
        from timelens_eval_adapters.presets import resolve_preset

        from timelens_eval.video.encodings import ENCODINGS

        ENCODINGS.get(config.encoding)  # unknown names fail before training starts
        self.config = config
        self.preset = resolve_preset(config.model, config.preset)
        # TRL reads each row num_generations times in a row, SFT reads every row once per
        # epoch: decoded frames are kept, least recently used first out (data.frame_cache).
        self._frames: dict[str, Any] = {}

    def _sample(self, path: str, duration: float) -> Any:
        from timelens_eval.video.sampler import sample_frames

        frames = self._frames.pop(path, None)
        if frames is None:
            if len(self._frames) >= self.config.data.frame_cache:
                self._frames.pop(next(iter(self._frames)))  # least recently used
            frames = sample_frames(path, self.config.frames, duration_hint=duration)
        self._frames[path] = frames
        return frames

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        from PIL import Image
        from timelens_eval_adapters.presets import build_qwen_inputs

        from timelens_eval.prompts import build_prompt

        prompts, images = [], []
        for path, query, duration in zip(
            batch["video_path"], batch["query"], batch["duration"], strict=True
        ):
            frames = self._sample(path, duration)
            message = build_prompt(
                query, frames, self.config.template, self.config.encoding, duration
            )
            inputs = build_qwen_inputs(message, self.preset, "images")
            turn: list[dict[str, Any]] = []
            if self.config.system_prompt:
                turn.append(
                    {
                        "role": "system",
                        "content": [{"type": "text", "text": self.config.system_prompt}],
                    }
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


def _load_policy(config: RLVRConfig) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForImageTextToText

    from timelens_eval.tiny_models import load_processor

    dtype = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16}[config.dtype]
    try:
        model = AutoModelForImageTextToText.from_pretrained(config.model, dtype=dtype)
        processor = load_processor(config.model)
    except OSError as exc:
        raise InputError(f"cannot load the policy checkpoint: {exc}", path=config.model) from None
    return model, processor


_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_MODEL_FILES = {"config.json", "generation_config.json", "model.safetensors.index.json"}


def _save_processor(processor: Any, source: str, dest: Path) -> None:
    """Save the processor beside the trained weights.

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


def warm_start(config: RLVRConfig) -> Path:
    """Supervised warm start of ``config.model`` on the training rows; returns ``sft/final``.

    Uses the config's data (selection and limit included), frames and ``sft`` settings;
    point ``model`` of the GRPO config at the returned directory.
    """
    from timelens_eval.rlvr.sft import run_sft

    out = Path(config.output_dir) / "sft"
    out.mkdir(parents=True, exist_ok=True)
    dataset = build_dataset(config)
    model, processor = _load_policy(config)
    if config.grpo.freeze_vision_tower:
        from timelens_eval.rlvr.trainer import freeze_vision_tower

        freeze_vision_tower(model)
    recorder = _metrics_recorder(out / "metrics.jsonl")
    (out / "metrics.jsonl").unlink(missing_ok=True)
    trainer = run_sft(
        model,
        processor,
        dataset,
        config.sft,
        out / "checkpoints",
        frame_spec=config.frames,
        video_backend=config.video_backend,
        callbacks=[recorder],
    )
    final = out / "final"
    trainer.save_model(str(final))
    _save_processor(processor, config.model, final)
    return final


def train(config: RLVRConfig) -> TrainOutcome:
    """Run GRPO for ``config``; returns where the checkpoint, metrics and plots are."""
    from timelens_eval.rlvr.early_stopping import make_early_stopping_callback
    from timelens_eval.rlvr.plots import plot_training_curves
    from timelens_eval.rlvr.reward import make_reward_funcs
    from timelens_eval.rlvr.trainer import freeze_vision_tower, grpo_config, require_trl
    from timelens_eval.rlvr.video_grpo import video_grpo_trainer_class

    require_trl()
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(config.model_dump_json(indent=2) + "\n", encoding="utf-8")
    for stale in ("metrics.jsonl", "early_stopping.jsonl"):
        (out / stale).unlink(missing_ok=True)

    dataset = build_dataset(config)
    model, processor = _load_policy(config)
    if config.grpo.freeze_vision_tower:
        freeze_vision_tower(model)
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
        frame_spec=config.frames,
        video_backend=config.video_backend,
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
    _save_processor(processor, config.model, final)
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
