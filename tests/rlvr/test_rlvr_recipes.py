"""The TimeLens-7B and -8B configs against the official training code, value for value.

Each :class:`Fact` is one setting of TencentARC/TimeLens, branch ``train``, written out
with the file and line it comes from, and where it lives in our config. The test loads
``configs/rlvr/timelens-7b.yaml`` / ``timelens-8b.yaml`` and compares; a second test
changes every compared value in turn and checks that the comparison catches it, so
putting any one value back to what it was fails. Settings with no counterpart here are
listed in :data:`NOT_COMPARED` with the reason. Where the official code and its own
comments disagree the code wins (see docs/rlvr.md).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from repo_paths import ROOT

from timelens_eval.rlvr.config import load_config

CONFIGS = ROOT / "configs" / "rlvr"

GRPO_7B = "train_scripts/run_grpo_qwen25_vl_7b.sh"
GRPO_8B = "train_scripts/run_grpo_qwen3_8b.sh"
SFT_8B = "train_scripts/run_sft_qwen3_8b.sh"
FILTER_7B = "scripts/filter_data/filter_data_qwen25_vl_7b.sh"
FILTER_8B = "scripts/filter_data/filter_data_qwen3_vl.sh"
FILTER_PY = "training/filter/infer_qwen3_vl_tvg_dataloader_filter_data.py"
GROUNDING = "training/data/grounding.py"
HYBRID = "training/data/hybrid.py"
PARAMS = "training/params.py"
REWARD = "training/train/reward_funcs.py"
TRAIN_GRPO = "training/train/train_grpo_timelens.py"
TRAIN_SFT = "training/train/train_sft_timelens.py"

GPUS = 8
"""num_devices in every official script; our launch files' num_processes."""

Dump = dict[str, Any]


def at(path: str) -> Callable[[Dump], Any]:
    """Reads the dotted ``path`` of a config dump."""

    def read(dump: Dump) -> Any:
        value: Any = dump
        for key in path.split("."):
            value = value[key]
        return value

    read.keys = (path,)  # type: ignore[attr-defined]
    return read


def derived(
    keys: tuple[str, ...], fn: Callable[[Dump], Any], *, together: bool = False
) -> Callable[[Dump], Any]:
    """A value computed from several config keys: each of them is changed in turn by the
    mutation test, or all at once with ``together`` (a rule that either key satisfies)."""
    fn.keys = keys  # type: ignore[attr-defined]
    fn.together = together  # type: ignore[attr-defined]
    return fn


@dataclass(frozen=True)
class Fact:
    """One official setting: its name, value and source, and how our config holds it."""

    name: str
    official: Any
    source: str
    read: Callable[[Dump], Any]
    ours: Any = None
    """Our spelling of the official value when it differs (e.g. ``False`` -> ``"none"``)."""

    @property
    def expected(self) -> Any:
        return self.official if self.ours is None else self.ours


def _per_bucket(total: int) -> int:
    return int(total / 9)  # hybrid.py:10, int(target_size / len(ranges))


def _bucket_edges(dump: Dump, section: str) -> list[tuple[float, float]]:
    return [(b["min_duration"], b["max_duration"]) for b in at(section)(dump)["buckets"]]


EDGES = [(float(i), float(i + 30)) for i in range(0, 240, 30)] + [(240.0, math.inf)]
"""hybrid.py:9, ranges [(i, i + 30) for i in range(0, 240, 30)] + [(240, inf)]."""

AUDIO = ["hear", "heard", "hears", "hearing", "sound", "sounded", "sounds", "sounding", "audio"]

GROUNDING_PROMPT = (
    "Please find the visual event described by the sentence '{}', determining its starting "
    "and ending times. The format should be: 'The event happens in <start time> - <end time> "
    "seconds'."
)
TEXT_TIMESTAMP_PROMPT = (
    "You are given a video with multiple frames. The numbers before each video frame "
    "indicate its sampling timestamp (in seconds). " + GROUNDING_PROMPT
)


def _resolved(dump: Dump) -> Any:
    """The config's :class:`~timelens_eval.rlvr.inputs.InputSpec` (preset defaults applied)."""
    from timelens_eval.rlvr.config import RLVRConfig
    from timelens_eval.rlvr.inputs import InputSpec

    return InputSpec.from_config(RLVRConfig.model_validate(dump))


def _rendered(dump: Dump) -> str:
    from timelens_eval.prompts import get_template

    return get_template(_resolved(dump).template).render("QUERY")


def _global_batch(section: str, launch: str) -> Callable[[Dump], Any]:
    import yaml

    processes = yaml.safe_load((CONFIGS / launch).read_text())["num_processes"]
    return derived(
        (f"{section}.per_device_train_batch_size", f"{section}.gradient_accumulation_steps"),
        lambda d: (
            at(f"{section}.per_device_train_batch_size")(d)
            * at(f"{section}.gradient_accumulation_steps")(d)
            * processes
        ),
    )


def _deepspeed(section: str) -> Callable[[Dump], Any]:
    return derived(
        (f"{section}.deepspeed",),
        lambda d: json.loads((ROOT / at(f"{section}.deepspeed")(d)).read_text()),
    )


ZERO1 = {
    "fp16": {
        "enabled": "auto",
        "loss_scale": 0,
        "loss_scale_window": 1000,
        "initial_scale_power": 16,
        "hysteresis": 2,
        "min_loss_scale": 1,
    },
    "bf16": {"enabled": "auto"},
    "train_micro_batch_size_per_gpu": "auto",
    "train_batch_size": "auto",
    "gradient_accumulation_steps": "auto",
    "zero_optimization": {
        "stage": 1,
        "overlap_comm": True,
        "contiguous_gradients": True,
        "sub_group_size": 1e9,
        "reduce_bucket_size": "auto",
    },
}
"""scripts/zero1.json:1-23."""

ZERO3 = copy.deepcopy(ZERO1)
ZERO3["zero_optimization"] = {
    "stage": 3,
    "overlap_comm": True,
    "contiguous_gradients": True,
    "sub_group_size": 1e9,
    "reduce_bucket_size": "auto",
    "stage3_prefetch_bucket_size": "auto",
    "stage3_param_persistence_threshold": "auto",
    "stage3_max_live_parameters": 1e9,
    "stage3_max_reuse_distance": 1e9,
    "gather_16bit_weights_on_model_save": True,
}
"""scripts/zero3.json:1-28."""


def _inputs_facts(script: str, filter_script: str, patch: int, lines: dict[str, str]) -> list[Fact]:
    """Frames, data filters and difficulty: the same in the 7B and 8B GRPO scripts."""
    src = lambda flag: f"{script}:{lines[flag]}"  # noqa: E731
    return [
        Fact("--min_tokens", 64, f"{src('min_tokens')}; {filter_script}:{lines['filter']}",
             derived(("frames.min_pixels", "frames.patch"),
                     lambda d: d["frames"]["min_pixels"] / d["frames"]["patch"] ** 2)),
        Fact("--total_tokens", 14336, src("total_tokens"),
             derived(("frames.total_pixels", "frames.patch"),
                     lambda d: d["frames"]["total_pixels"] / d["frames"]["patch"] ** 2)),
        Fact("pixels per token side", patch, f"{GROUNDING}:112 (28x28 Qwen2.5-VL, 32x32 Qwen3-VL)",
             at("frames.patch")),
        Fact("qwen_vl_utils.process_vision_info picks and resizes frames", "qwen-vl-utils",
             f"{GROUNDING}:7, 466-482; {FILTER_PY}:16-17 (inference_collator.py:42-80)",
             at("frames.sampler")),
        Fact("--fps", 2, src("fps"), at("frames.fps")),
        Fact("--fps_max_frames", 448, src("fps_max_frames"), at("frames.max_frames")),
        Fact("--min_video_len", 5, src("min_video_len"), at("data.filters.min_duration")),
        Fact("--max_video_len", 500, src("max_video_len"), at("data.filters.max_duration")),
        Fact("--max_num_words", 200, src("max_num_words"), at("data.filters.max_words")),
        Fact("AUDIO_QUERY_KEYWORDS (gemini_refined_data)", AUDIO,
             f"{GROUNDING}:24-34, 177-184; {FILTER_PY}:21-31, 67-74",
             at("data.filters.audio_keywords")),
        Fact("a GT window inside the video", True, f"{GROUNDING}:217-220",
             at("data.filters.require_span_inside")),
        Fact("filter max_new_tokens (greedy)", 512, f"{FILTER_PY}:143-152",
             at("difficulty.max_new_tokens")),
        Fact("TimeLens-100K train", "timelens-100k", f"{GROUNDING}:177-178; {FILTER_PY}:61-79",
             at("data.benchmark")),
    ]  # fmt: skip


def _sampler_facts(script: str, lines: dict[str, str]) -> list[Fact]:
    src = lambda flag: f"{script}:{lines[flag]}"  # noqa: E731
    return [
        Fact("--fixed_gaussian_sampling", True, src("fixed"), at("sampling.inverse_density")),
        Fact("Gaussian weights", "gaussian", f"{src('mean')}; {GROUNDING}:287-307",
             at("sampling.method")),
        Fact("--gaussian_filter_mean", 0.05, src("mean"), at("sampling.mean")),
        Fact("--gaussian_filter_std", 0.2, src("std"), at("sampling.std")),
        Fact("num_bins", 20, f"{GROUNDING}:296", at("sampling.num_bins")),
        Fact("--target_size 2500: per bucket", [_per_bucket(2500)] * 9,
             f"{src('target_size')}; {HYBRID}:10",
             derived(("sampling.buckets",),
                     lambda d: [b["target_size"] for b in d["sampling"]["buckets"]])),
        Fact("duration ranges", EDGES, f"{HYBRID}:9; {GROUNDING}:270 (both ends included)",
             derived(("sampling.buckets",), lambda d: _bucket_edges(d, "sampling"))),
        Fact("--seed", 42, f"{src('seed')}; {GROUNDING}:260-262", at("sampling.seed")),
    ]  # fmt: skip


def _grpo_facts(script: str, lines: dict[str, Any]) -> list[Fact]:
    """The settings both GRPO scripts pass the same way (``lines``: flag -> line)."""
    src = lambda flag: f"{script}:{lines[flag]}"  # noqa: E731
    return [
        Fact("--bf16", True, src("bf16"), at("grpo.bf16")),
        Fact("--disable_flash_attn2 False", "flash_attention_2",
             f"{src('flash')}; {TRAIN_GRPO}:143-152", at("attn_implementation")),
        Fact("--tf32", True, src("tf32"), at("grpo.tf32")),
        Fact("--gradient_checkpointing", True, src("ckpt"), at("grpo.gradient_checkpointing")),
        Fact("gradient_checkpointing_kwargs", {"use_reentrant": True}, f"{TRAIN_GRPO}:174-176",
             at("grpo.gradient_checkpointing_kwargs")),
        Fact("--deepspeed scripts/zero1.json", ZERO1, src("deepspeed"), _deepspeed("grpo")),
        Fact("--freeze_vision_tower True / --freeze_merger False / --freeze_llm False", True,
             src("freeze"), at("grpo.freeze_vision_tower")),
        Fact("--learning_rate", 1e-6, src("lr"), at("grpo.learning_rate")),
        Fact("--num_train_epochs", 1, src("epochs"), at("grpo.num_train_epochs")),
        Fact("global batch (64 completions = 8 prompts x 8)", 64, src("batch"),
             _global_batch("grpo", "accelerate-8gpu.yaml")),
        Fact("--per_device_train_batch_size", 1, src("per_device"),
             at("grpo.per_device_train_batch_size")),
        Fact("--logging_steps", 1, src("logging"), at("grpo.logging_steps")),
        Fact("--save_strategy", "steps", src("save_strategy"), at("grpo.save_strategy")),
        Fact("--save_steps", 100, src("save_steps"), at("grpo.save_steps")),
        Fact("--save_total_limit", 5, src("save_total_limit"), at("grpo.save_total_limit")),
        Fact("--log_completions", True, src("log_completions"), at("grpo.log_completions")),
        Fact("--reward_funcs tiou (thinking-free)", False, src("reward"), at("reward.thinking")),
        Fact("--num_generations", 8, src("num_generations"), at("grpo.num_generations")),
        Fact("--steps_per_generation", 1, src("steps_per_generation"),
             at("grpo.steps_per_generation")),
        Fact("--temperature", 1.0, src("temperature"), at("grpo.temperature")),
        Fact("--seed", 42, src("seed"), at("grpo.seed")),
        Fact("--save_only_model", True, src("save_only_model"), at("grpo.save_only_model")),
        Fact("loss_type", "bnpo", f"{PARAMS}:112", at("grpo.loss_type")),
        Fact("beta", 0.0, f"{PARAMS}:113", at("grpo.beta")),
        Fact("num_iterations", 1, f"{PARAMS}:114", at("grpo.num_iterations")),
        Fact("top_p", 1.0, f"{PARAMS}:119", at("grpo.top_p")),
        Fact("max_completion_length", 512, f"{PARAMS}:122", at("grpo.max_completion_length")),
        Fact("optim", "adamw_torch", f"{PARAMS}:68", at("grpo.optim")),
        Fact("weight_decay (transformers' default)", 0.0, f"{PARAMS}:66 (GRPOConfig)",
             at("grpo.weight_decay")),
        Fact("warmup (transformers' default)", 0.0, f"{PARAMS}:66 (GRPOConfig)",
             at("grpo.warmup")),
        Fact("reward: the first GT window", "first", f"{REWARD}:30-32", at("reward.gt_spans")),
        Fact("no early stopping (official length)", True, f"{script} (no stopping logic)",
             derived(("early_stopping.enabled", "early_stopping.min_steps"),
                     lambda d: not d["early_stopping"]["enabled"]
                     or d["early_stopping"]["min_steps"] >= lines["length"],
                     together=True)),
    ]  # fmt: skip


FACTS_8B_GRPO = [
    *_grpo_facts(
        GRPO_8B,
        {
            "bf16": 77, "flash": 79, "tf32": 80, "ckpt": 81, "deepspeed": "23, 82",
            "freeze": "97-99", "lr": 101, "epochs": "21, 102", "batch": "18-20, 62, 104",
            "per_device": "19, 103", "logging": 105,
            "save_strategy": 106, "save_steps": 107, "save_total_limit": 108,
            "log_completions": 110, "reward": 113, "num_generations": 114,
            "steps_per_generation": 115, "temperature": 116, "seed": 118,
            "save_only_model": 122, "length": 100,
        },
    ),
    Fact("--lr_scheduler_type", "constant", f"{GRPO_8B}:100", at("grpo.lr_scheduler_type")),
    Fact("--scale_rewards", False, f"{GRPO_8B}:117", at("grpo.scale_rewards"), ours="none"),
    Fact("--max_steps", 100, f"{GRPO_8B}:123", at("grpo.max_steps")),
    Fact("--model_name_or_path: the SFT checkpoint", True, f"{GRPO_8B}:52-55",
         derived(("model", "output_dir"), lambda d: d["model"] == f"{d['output_dir']}/sft/final")),
    Fact("model_id qwen3-vl-8b (Qwen3-VL inputs, plain prompt)", "timelens-8b",
         f"{GRPO_8B}:11; {GROUNDING}:13-16, 366-410", at("preset")),
    Fact("GROUNDING_PROMPT", GROUNDING_PROMPT.format("QUERY"), f"{GROUNDING}:13-16",
         derived(("preset", "template"), _rendered)),
    Fact("no GT snapping (not TimeLens-7B)", False, f"{GROUNDING}:450-464",
         at("reward.snap_gt_to_frames")),
    Fact("filter model_path", "Qwen/Qwen3-VL-8B-Instruct", f"{FILTER_8B}:14",
         at("difficulty.model")),
    *_inputs_facts(
        GRPO_8B,
        FILTER_8B,
        32,
        {
            "min_tokens": "12, 90", "total_tokens": "13, 91", "fps": "14, 92",
            "fps_max_frames": "15, 63-65, 93", "min_video_len": "94", "max_video_len": "95",
            "max_num_words": "96", "filter": "16-19",
        },
    ),
    *_sampler_facts(
        GRPO_8B,
        {"fixed": "84", "mean": "85", "std": "86", "target_size": "22, 87", "seed": "16, 118"},
    ),
]  # fmt: skip

FACTS_7B_GRPO = [
    *_grpo_facts(
        GRPO_7B,
        {
            "bf16": 77, "flash": 79, "tf32": 80, "ckpt": 81, "deepspeed": "25, 82",
            "freeze": "101-103", "lr": 104, "epochs": "23, 105", "batch": "20-22, 65, 107",
            "per_device": "21, 106", "logging": 108,
            "save_strategy": 109, "save_steps": 110, "save_total_limit": 111,
            "log_completions": 113, "reward": 116, "num_generations": 117,
            "steps_per_generation": 118, "temperature": 119, "seed": 121,
            "save_only_model": 125, "length": 311,  # one epoch: 2,493 prompts / 8 per step
        },
    ),
    # Not passed: transformers' default. The script's header comment says "Constant LR".
    Fact("lr_scheduler_type (not passed)", "linear", f"{GRPO_7B}:100-105 (absent)",
         at("grpo.lr_scheduler_type")),
    # The header comment says scale_rewards=False; the flag passed is True.
    Fact("--scale_rewards", True, f"{GRPO_7B}:120", at("grpo.scale_rewards"), ours="group"),
    Fact("max_steps (not passed: one epoch)", -1, f"{GRPO_7B}:23, 105",
         at("grpo.max_steps")),
    Fact("--model_name_or_path: the base model, no SFT", "Qwen/Qwen2.5-VL-7B-Instruct",
         f"{GRPO_7B}:2, 55-57", at("model")),
    Fact("--processor_path TencentARC/TimeLens-7B (interleaved timestamps)", "timelens-7b",
         f"{GRPO_7B}:10; {GROUNDING}:96-97, 450-464", at("preset")),
    Fact("GROUNDING_PROMPT_TEXT_TIMESTAMP", TEXT_TIMESTAMP_PROMPT.format("QUERY"),
         f"{GROUNDING}:19-22", derived(("preset", "template"), _rendered)),
    Fact("GT aligned to the sampled timestamps", True, f"{GROUNDING}:76-93, 461-464",
         at("reward.snap_gt_to_frames")),
    Fact("a timestamp per temporal patch (frames_indices[::2] / fps)", "interleaved-patches",
         f"{GROUNDING}:60-73", derived(("preset", "encoding"), lambda d: _resolved(d).encoding)),
    Fact("frames as a video per timestamp text", "chunks", f"{GROUNDING}:450-464",
         derived(("preset", "input_mode"), lambda d: _resolved(d).vision)),
    Fact("filter model_path (the base model)", None, f"{FILTER_7B}:16",
         at("difficulty.model")),
    *_inputs_facts(
        GRPO_7B,
        FILTER_7B,
        28,
        {
            "min_tokens": "14, 94", "total_tokens": "15, 95", "fps": "16, 96",
            "fps_max_frames": "17, 97", "min_video_len": "98", "max_video_len": "99",
            "max_num_words": "100", "filter": "18-21",
        },
    ),
    *_sampler_facts(
        GRPO_7B,
        {"fixed": "88", "mean": "89", "std": "90", "target_size": "24, 91", "seed": "18, 121"},
    ),
]  # fmt: skip

FACTS_8B_SFT = [
    Fact("--model_name_or_path", "Qwen/Qwen3-VL-8B-Instruct", f"{SFT_8B}:7", at("sft.model")),
    Fact("--bf16", True, f"{SFT_8B}:61", at("sft.bf16")),
    Fact("--disable_flash_attn2 False", "flash_attention_2", f"{SFT_8B}:63; {TRAIN_SFT}:140-149",
         at("attn_implementation")),
    Fact("--tf32", True, f"{SFT_8B}:64", at("sft.tf32")),
    Fact("--gradient_checkpointing", True, f"{SFT_8B}:65", at("sft.gradient_checkpointing")),
    Fact("gradient_checkpointing_kwargs", {"use_reentrant": True}, f"{TRAIN_SFT}:172-174",
         at("sft.gradient_checkpointing_kwargs")),
    Fact("--deepspeed scripts/zero3.json", ZERO3, f"{SFT_8B}:21, 67", _deepspeed("sft")),
    Fact("target_size 30000, uniform per bucket", [_per_bucket(30000)] * 9,
         f"{SFT_8B}:20, 78; {HYBRID}:8-14",
         derived(("sft.sampling",),
                 lambda d: [b["target_size"] for b in d["sft"]["sampling"]["buckets"]])),
    Fact("duration ranges", EDGES, f"{HYBRID}:9; {GROUNDING}:270",
         derived(("sft.sampling",), lambda d: _bucket_edges(d, "sft.sampling"))),
    Fact("random.Random(seed).sample per bucket", "uniform", f"{GROUNDING}:262, 309",
         at("sft.sampling.method")),
    Fact("--seed", 42, f"{SFT_8B}:14, 97", at("sft.sampling.seed")),
    Fact("--seed (trainer)", 42, f"{SFT_8B}:14, 97", at("sft.seed")),
    Fact("min_video_len / max_video_len / max_num_words", [5, 500, 200], f"{SFT_8B}:79-81",
         derived(("data.filters.min_duration", "data.filters.max_duration",
                  "data.filters.max_words"),
                 lambda d: [d["data"]["filters"][k]
                            for k in ("min_duration", "max_duration", "max_words")])),
    Fact("audio queries removed (gemini_refined_data)", AUDIO, f"{SFT_8B}:8; {GROUNDING}:177-184",
         at("data.filters.audio_keywords")),
    Fact("--freeze_vision_tower True / --freeze_merger False / --freeze_llm False", True,
         f"{SFT_8B}:82-84", at("sft.freeze_vision_tower")),
    Fact("--learning_rate", 1e-5, f"{SFT_8B}:85", at("sft.learning_rate")),
    Fact("--merger_lr (equal to the learning rate)", 1e-5, f"{SFT_8B}:86",
         at("sft.learning_rate")),
    Fact("--weight_decay", 0.1, f"{SFT_8B}:87", at("sft.weight_decay")),
    Fact("decay on all but biases and nn.LayerNorm", "layernorm",
         "training/trainer/sft_trainer.py:20-21", at("sft.weight_decay_exempt")),
    Fact("--warmup_ratio", 0.03, f"{SFT_8B}:88", at("sft.warmup")),
    Fact("--lr_scheduler_type", "cosine", f"{SFT_8B}:89", at("sft.lr_scheduler_type")),
    Fact("--num_train_epochs", 1, f"{SFT_8B}:19, 90", at("sft.num_train_epochs")),
    Fact("max_steps (not passed)", -1, f"{SFT_8B}:60-101 (absent)", at("sft.max_steps")),
    Fact("--per_device_train_batch_size", 1, f"{SFT_8B}:17, 91",
         at("sft.per_device_train_batch_size")),
    Fact("global batch", 128, f"{SFT_8B}:16-18, 49, 92",
         _global_batch("sft", "accelerate-8gpu-zero3.yaml")),
    Fact("--logging_steps", 1, f"{SFT_8B}:93", at("sft.logging_steps")),
    Fact("--save_strategy", "epoch", f"{SFT_8B}:94", at("sft.save_strategy")),
    Fact("--save_total_limit (epochs)", 1, f"{SFT_8B}:95", at("sft.save_total_limit")),
    Fact("--save_only_model", True, f"{SFT_8B}:101", at("sft.save_only_model")),
    Fact("optim", "adamw_torch", f"{PARAMS}:19", at("sft.optim")),
    Fact("_format_response: every span, one decimal", ["all", 1], f"{GROUNDING}:52-57, 379",
         derived(("sft.answer_spans", "sft.answer_decimals"),
                 lambda d: [d["sft"]["answer_spans"], d["sft"]["answer_decimals"]])),
    Fact("min_tokens / total_tokens / fps / max_frames", [64, 14336, 2, 448],
         f"{SFT_8B}:10-13, 50-52",
         derived(("frames.min_pixels", "frames.total_pixels", "frames.fps", "frames.max_frames"),
                 lambda d: [d["frames"]["min_pixels"] / 32**2, d["frames"]["total_pixels"] / 32**2,
                            d["frames"]["fps"], d["frames"]["max_frames"]])),
]  # fmt: skip

NOT_COMPARED = {
    "--dataloader_num_workers 4": "frames are decoded in the trainer process; speed only",
    "--report_to none / --run_name / --logging_dir wandb / output_root": "logging and paths",
    "--use_liger False / --use_liger_loss False (GRPO)": "off here too",
    "--use_liger True (SFT)": "Liger kernels are not used: the same loss, other numerics",
    "--conv_type chatml": "the checkpoint's own (ChatML) chat template renders the turns",
    "--remove_unused_columns False": "always False here (test_built_arguments_pass_through)",
    "CUDA_LAUNCH_BLOCKING=1": "a debugging switch of the launch environment",
    "--datasets filtered_hybrid / --raw_anno_path": "difficulty file + selection file here",
    "adam_beta1 0.9 / adam_beta2 0.999 / adam_epsilon 1e-8 (params.py:20-22, 69-71)": (
        "transformers' defaults, checked on the built arguments"
    ),
}

RECIPES = [
    ("timelens-8b.yaml", "8B GRPO", FACTS_8B_GRPO),
    ("timelens-7b.yaml", "7B GRPO", FACTS_7B_GRPO),
    ("timelens-8b.yaml", "8B SFT", FACTS_8B_SFT),
]


def _dump(name: str) -> Dump:
    return load_config(CONFIGS / name).model_dump(mode="python")


def _differences(dump: Dump, facts: list[Fact]) -> list[str]:
    out = []
    for fact in facts:
        try:
            value = fact.read(dump)
        except (KeyError, TypeError, ValueError, OSError) as exc:
            value = f"<unreadable: {exc}>"
        if isinstance(value, tuple):
            value = [tuple(v) if isinstance(v, list) else v for v in value]
            value = list(value)
        if value != fact.expected:
            out.append(f"{fact.name} ({fact.source}): official {fact.expected!r}, ours {value!r}")
    return out


@pytest.mark.parametrize(("config", "label", "facts"), RECIPES, ids=[r[1] for r in RECIPES])
def test_the_config_reproduces_the_official_script(config, label, facts) -> None:  # type: ignore[no-untyped-def]
    assert _differences(_dump(config), facts) == []


def _changed(value: Any) -> Any:
    """A different value of the same kind."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value // 2 - 1 if value > 2 else value + 3  # smaller: a shorter min_steps too
    if isinstance(value, float):
        return 0.5 if math.isinf(value) else value * 2 + 1
    if isinstance(value, str):
        return value + "-other"
    if value is None:
        return "other"
    if isinstance(value, dict):
        return {**value, "changed": True} if value else {"changed": True}
    if isinstance(value, (list, tuple)):
        return [_changed(value[0]), *value[1:]] if value else ["other"]
    raise TypeError(f"cannot change {value!r}")


def _set(dump: Dump, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target = dump
    for key in parents:
        target = target[key]
    target[last] = value


@pytest.mark.parametrize(("config", "label", "facts"), RECIPES, ids=[r[1] for r in RECIPES])
def test_changing_any_compared_value_fails_the_comparison(config, label, facts, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every compared config value is checked: changing it (or one of the values a
    derived fact is computed from) makes that fact differ."""
    dump = _dump(config)
    for fact in facts:
        keys = fact.read.keys  # type: ignore[attr-defined]
        groups = [keys] if getattr(fact.read, "together", False) else [(k,) for k in keys]
        for group in groups:
            mutated = copy.deepcopy(dump)
            for key in group:
                _mutate(mutated, key, tmp_path / label.replace(" ", "-"))
            assert _differences(mutated, [fact]), f"{label}: {fact.name} ignores {group}"


def _mutate(dump: Dump, key: str, scratch: Path) -> None:
    """Change the value at ``key`` of ``dump``."""
    value = at(key)(dump)
    if key.endswith("deepspeed"):  # a config file with one other value
        document = json.loads((ROOT / value).read_text())
        document["zero_optimization"]["overlap_comm"] = False
        scratch.mkdir(parents=True, exist_ok=True)
        other = scratch / Path(value).name
        other.write_text(json.dumps(document))
        _set(dump, key, str(other))
    elif key.endswith("buckets") or key == "sft.sampling":
        bucket = at(key.removesuffix(".buckets"))(dump)["buckets"][3]
        bucket["max_duration"] += 1
        bucket["target_size"] += 1
    else:
        _set(dump, key, _changed(value))


def test_built_arguments_pass_through(tmp_path) -> None:
    """The values reach TRL's GRPOConfig and transformers' TrainingArguments as they are
    (DeepSpeed, bf16 and TF32 need a GPU, and one process holds a whole group only with 8
    completions per device: those are checked on the config above)."""
    pytest.importorskip("trl")
    from timelens_eval.rlvr.sft import sft_training_args
    from timelens_eval.rlvr.trainer import grpo_config

    cpu = {"deepspeed": None, "tf32": None, "bf16": False, "use_cpu": True}
    for name in ("timelens-7b.yaml", "timelens-8b.yaml"):
        config = load_config(CONFIGS / name)
        one_process = {**cpu, "per_device_train_batch_size": 8}
        args = grpo_config(config.grpo.model_copy(update=one_process), tmp_path / name)
        expected_scale = "group" if "7b" in name else "none"
        expected_lr = "linear" if "7b" in name else "constant"
        assert (args.scale_rewards, args.lr_scheduler_type) == (expected_scale, expected_lr)
        assert (args.loss_type, args.beta, args.num_iterations, args.epsilon) == (
            "bnpo", 0.0, 1, 0.2,
        )  # fmt: skip
        assert (args.optim, args.adam_beta1, args.adam_beta2, args.adam_epsilon) == (
            "adamw_torch", 0.9, 0.999, 1e-8,
        )  # fmt: skip
        assert (args.learning_rate, args.weight_decay, args.warmup_steps) == (1e-6, 0.0, 0)
        assert (args.num_generations, args.steps_per_generation, args.temperature) == (8, 1, 1.0)
        assert args.gradient_accumulation_steps == 8
        assert args.max_completion_length == 512 and args.top_p == 1.0
        assert args.save_only_model and args.log_completions and not args.remove_unused_columns
        assert args.activation_checkpointing is True
        assert args.activation_checkpointing_kwargs == {"use_reentrant": True}
        assert (args.save_strategy, args.save_steps, args.save_total_limit) == ("steps", 100, 5)
        assert args.max_steps == (-1 if "7b" in name else 100) and args.num_train_epochs == 1
    sft = load_config(CONFIGS / "timelens-8b.yaml").sft.model_copy(update=cpu)
    args = sft_training_args(sft, tmp_path / "sft")
    assert (args.learning_rate, args.weight_decay, args.warmup_steps) == (1e-5, 0.1, 0.03)
    assert (args.lr_scheduler_type, args.optim) == ("cosine", "adamw_torch")
    assert args.gradient_accumulation_steps == 16 and args.per_device_train_batch_size == 1
    assert (args.save_strategy, args.save_total_limit, args.save_only_model) == ("epoch", 1, True)
    assert args.activation_checkpointing_kwargs == {"use_reentrant": True}


@pytest.mark.parametrize("name", ["timelens-7b.yaml", "timelens-8b.yaml"])
def test_a_recipe_written_as_json_loads_back_the_same(name, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`rlvr train` writes the validated recipe to config.json; it must load back (the
    open last duration bucket is written as Infinity)."""
    config = load_config(CONFIGS / name)
    path = tmp_path / "config.json"
    path.write_text(config.model_dump_json(indent=2))
    assert load_config(path) == config
