"""The reference model: a tiny Qwen2.5-VL trained from scratch by this module on CPU.

:func:`run_reference` chains every stage on the synthetic benchmark and evaluates the
result with the project's own tools:

1. build a tiny random Qwen2.5-VL and its tokenizer offline (``init/``);
2. supervised warm start on the training split (``sft/final``);
3. difficulty: the SFT model over the training split through the ``transformers``
   adapter and the runner (``difficulty/``);
4. Gaussian sampling of the GRPO subset (``selection.json`` and its plot);
5. GRPO from the SFT checkpoint with early stopping (``grpo/final``, curves);
6. evaluation of the SFT and the GRPO checkpoints (``transformers`` adapter) and the
   ``prior`` baseline on the test split, with paired tests (``evaluation.json``).

Every model sees frames as images with the config's timestamp encoding, in training
and in evaluation alike (``input_mode: images``), so nothing needs ``torchvision``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from timelens_eval.errors import ConfigError
from timelens_eval.rlvr.config import ReferenceSettings, RLVRConfig, TinySize

__all__ = [
    "TinySize",
    "ReferenceSettings",
    "run_reference",
    "evaluate_checkpoints",
    "tokenizer_corpus",
    "write_inputs_file",
]

logger = logging.getLogger(__name__)


def _inputs(config: RLVRConfig) -> Any:
    """The reference model's inputs (a Qwen2.5-VL unless ``preset`` says otherwise)."""
    from timelens_eval.rlvr.inputs import InputSpec

    return InputSpec.from_config(
        config if config.preset else config.model_copy(update={"preset": "qwen2.5-vl"})
    )


def _adapter_args(config: RLVRConfig, checkpoint: Path) -> dict[str, Any]:
    """The ``transformers`` adapter's arguments for ``checkpoint`` (frames as images)."""
    if config.input_mode != "images":
        raise ConfigError("the reference pipeline evaluates with vision=images; set input_mode")
    return {
        "model": str(checkpoint),
        "preset": config.preset or "qwen2.5-vl",
        "vision": "images",
        "device": config.reference.device,
        "dtype": "float32",
    }


def write_inputs_file(config: RLVRConfig, checkpoint: Path, stage: str = "trained") -> Path:
    """Record beside ``checkpoint`` the adapter arguments, frames, template and encoding it
    was trained with (:mod:`timelens_eval.checkpoint_inputs`), so that the adapter and the
    default run evaluate it on the same inputs."""
    from timelens_eval.checkpoint_inputs import CheckpointInputs, write_checkpoint_inputs

    args = _adapter_args(config, checkpoint)
    del args["model"]
    args["device"] = "cpu"
    spec = _inputs(config)
    inputs = CheckpointInputs(
        adapter="transformers",
        adapter_args=args,
        frames=spec.frames,
        template=spec.template,
        encoding=spec.encoding,
    )
    path = write_checkpoint_inputs(checkpoint, inputs)
    card = checkpoint / "tiny_model.json"
    if card.exists():  # copied from the random init: say what the weights are now
        meta = json.loads(card.read_text(encoding="utf-8"))
        meta["note"] = f"trained by timelens-eval rlvr reference ({config.name}): {stage}"
        card.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return path


def tokenizer_corpus(config: RLVRConfig) -> list[str]:
    """The texts a ``bpe`` reference tokenizer learns its merges from.

    For every training sample: the text parts of its prompt exactly as the adapter builds
    them (template, query and the encoding's timestamp texts at the config's frame times)
    and its SFT answer. Only the training split is read; no frame is decoded (the
    timestamps are the sampler's nominal times ``k / fps``).
    """
    import numpy as np

    from timelens_eval.messages import TextPart
    from timelens_eval.prompts import build_prompt
    from timelens_eval.rlvr.pipeline import load_training_samples
    from timelens_eval.rlvr.sft import answer_text
    from timelens_eval.video.types import Frames

    _, samples = load_training_samples(config)
    spec = _inputs(config)
    fps = spec.frames.fps
    texts: list[str] = []
    for sample in samples:
        n = max(1, int(np.ceil(float(sample.duration) * fps - 1e-9)))
        if spec.frames.max_frames is not None:
            n = min(n, spec.frames.max_frames)
        times = np.arange(n, dtype=np.float64) / fps
        frames = Frames(np.zeros((n, 1, 1, 3), dtype=np.uint8), times, float(sample.duration))
        message = build_prompt(
            sample.query, frames, spec.template, spec.encoding, float(sample.duration)
        )
        texts.extend(p.text for p in message.parts if isinstance(p, TextPart) and p.text)
        gt = [[float(s.start), float(s.end)] for s in sample.gt]
        texts.append(answer_text(gt, config.sft.answer_decimals, config.sft.answer_spans))
    if config.system_prompt:
        texts.append(config.system_prompt)
    return texts


def evaluate_checkpoints(
    config: RLVRConfig,
    settings: ReferenceSettings,
    checkpoints: dict[str, Path],
    out: Path,
) -> dict[str, Any]:
    """Evaluate checkpoints and baselines on the eval split; paired tests against the first.

    Returns (and writes to ``out/evaluation.json``) the metrics with CIs of every model
    and, for R1@0.5, the paired difference of the last checkpoint against each other
    model (95% CI over videos).
    """
    from timelens_eval.adapters import build_adapter
    from timelens_eval.benchmarks import load_benchmark
    from timelens_eval.metrics import paired_test
    from timelens_eval.runner import RunOptions, run_benchmark
    from timelens_eval.store import read_sample_records

    bench = load_benchmark(settings.eval_benchmark, **settings.eval_loader_options)
    spec = _inputs(config)
    models: dict[str, tuple[str, dict[str, Any]]] = {
        name: ("transformers", _adapter_args(config, path)) for name, path in checkpoints.items()
    }
    for baseline in settings.baselines:
        models[baseline] = (baseline, {})
    results: dict[str, Any] = {}
    ious: dict[str, dict[str, float]] = {}
    videos: dict[str, str] = {}
    for name, (adapter, args) in models.items():
        options = RunOptions(
            output=out / "eval" / f"{name}.json",
            limit=settings.eval_limit,
            concurrency=1,
            **spec.run_options(),
        )
        outcome = run_benchmark(build_adapter(adapter, args), bench, options, adapter_name=adapter)
        if outcome.result is None:
            raise ConfigError(f"evaluation of {name} did not finish")
        summary = outcome.result.summary
        results[name] = {
            k: {"value": v.value, "ci_low": v.ci_low, "ci_high": v.ci_high}
            for k, v in summary.metrics.items()
        }
        records = read_sample_records(outcome.paths.samples)
        ious[name] = {r.sample_id: r.iou for r in records}
        videos.update({r.sample_id: r.video_id for r in records})
    names = list(models)
    last = list(checkpoints)[-1]
    ids = sorted(ious[last])
    comparisons = {}
    for other in names:
        if other == last:
            continue
        test = paired_test(
            [ious[last][i] for i in ids],
            [ious[other][i] for i in ids],
            [videos[i] for i in ids],
            "R1@0.5",
        )
        comparisons[f"{last} - {other}"] = {
            "metric": test.metric,
            "difference": test.difference,
            "ci_low": test.ci_low,
            "ci_high": test.ci_high,
            "p_value": test.p_value,
            "n": test.n,
        }
    report = {"benchmark": settings.eval_benchmark, "models": results, "paired": comparisons}
    (out / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def run_reference(config: RLVRConfig, settings: ReferenceSettings | None = None) -> dict[str, Any]:
    """Train the reference model from scratch and evaluate it (see the module doc)."""
    from timelens_eval.rlvr.pipeline import (
        estimate_difficulty,
        sample_training_set,
        train,
        warm_start,
    )
    from timelens_eval.tiny_models import TinyModelSpec, build_tiny_model

    settings = settings or config.reference
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    size = settings.size
    spec = TinyModelSpec(
        family="qwen2_5_vl",
        seed=size.seed,
        hidden_size=size.hidden_size,
        num_layers=size.num_layers,
        num_heads=size.num_heads,
        vision_hidden_size=size.vision_hidden_size,
        vision_depth=size.vision_depth,
    )
    if settings.sft_from is not None:
        sft_final = Path(settings.sft_from)
        if not (sft_final / "config.json").exists():
            raise ConfigError(f"reference.sft_from: no checkpoint at {sft_final}")
        logger.info("stage 1/5: SFT skipped (from %s)", sft_final)
    else:
        corpus = tokenizer_corpus(config) if size.tokenizer == "bpe" else None
        init = build_tiny_model(
            out / "init", spec=spec, tokenizer_corpus=corpus, vocab_size=size.vocab_size
        )
        logger.info("stage 1/5: SFT")
        sft_final = warm_start(config.model_copy(update={"model": str(init)}))

    logger.info("stage 2/5: difficulty")
    difficulty = estimate_difficulty(
        "transformers",
        _adapter_args(config, sft_final),
        config.data.benchmark,
        loader_options=config.data.loader_options,
        output=out / "difficulty" / "sft.json",
        limit=settings.difficulty_limit or config.data.limit,
        max_new_tokens=config.difficulty.max_new_tokens,
        filters=config.data.filters,
        **_inputs(config).run_options(),
    )
    logger.info("stage 3/5: sampling")
    selection = out / "selection.json"
    sample_training_set(difficulty.difficulty_file, config.sampling, selection)

    logger.info("stage 4/5: GRPO")
    data = config.data.model_copy(update={"selection": str(selection)})
    grpo = train(
        config.model_copy(
            update={"model": str(sft_final), "data": data, "output_dir": str(out / "grpo")}
        )
    )
    write_inputs_file(config, sft_final, "SFT only")
    write_inputs_file(config, grpo.final_checkpoint, "SFT + GRPO")
    logger.info("stage 5/5: evaluation")
    report = evaluate_checkpoints(
        config, settings, {"sft": sft_final, "sft+grpo": grpo.final_checkpoint}, out
    )
    report["grpo_steps"] = grpo.steps
    report["stopped_early_at"] = grpo.stopped_early_at
    report["weights_restored_from_step"] = grpo.restored_step
    report["difficulty_mean_iou"] = difficulty.mean_iou
    (out / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report
