"""The RLVR run configuration (one YAML or JSON file per recipe).

A file holds everything a training run depends on: the model, the data filters and the
difficulty-based selection, the model's inputs (preset, frames, template, encoding: one
set for difficulty estimation, SFT, GRPO and evaluation, see
:mod:`timelens_eval.rlvr.inputs`), the reward, the SFT and GRPO settings and the
early-stopping rule. ``configs/rlvr/`` has the TimeLens-7B and TimeLens-8B recipes and a
tiny CPU recipe. Relative paths are read from the current directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from timelens_eval.errors import ConfigError, InputError, MissingDependencyError
from timelens_eval.rlvr.early_stopping import EarlyStoppingConfig
from timelens_eval.rlvr.filters import DataFilters
from timelens_eval.rlvr.reward import RewardConfig
from timelens_eval.rlvr.sampling import SamplingConfig
from timelens_eval.rlvr.sft import SFTSettings
from timelens_eval.rlvr.trainer import GRPOSettings
from timelens_eval.video.types import FrameSpec

__all__ = [
    "DataConfig",
    "DifficultySettings",
    "TinySize",
    "ReferenceSettings",
    "RLVRConfig",
    "load_config",
]


class DataConfig(BaseModel):
    """Which training samples GRPO sees."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    benchmark: str = Field(
        "synthetic-refined", description="Registered benchmark holding the training split."
    )
    annotations: str | None = Field(None, description="Annotation file (default location if None).")
    video_root: str | None = None
    loader_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra loader arguments, e.g. {split: train, videos: 200} for synthetic data.",
    )
    filters: DataFilters = Field(
        default_factory=DataFilters,
        description="TimeLens' data filters (audio queries, 5-500 s, 200 words, spans inside), "
        "applied before difficulty estimation, sampling and SFT.",
    )
    selection: str | None = Field(
        None, description="Selection file written by `rlvr sample`; None: every sample."
    )
    limit: int | None = Field(None, ge=1, description="Only the first N (selected) samples.")
    frame_cache: int = Field(
        16,
        ge=1,
        description="input_mode=images: decoded videos kept in memory while rows are built "
        "(epochs over a small split re-read every video; a cache as large as the split "
        "decodes each video once).",
    )


class DifficultySettings(BaseModel):
    """How `rlvr estimate-difficulty --config` runs the model before RL."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = Field(
        None, description="Checkpoint to run (None: the config's model, where GRPO starts)."
    )
    max_new_tokens: int = Field(
        512, ge=1, description="Greedy decoding length (TimeLens' filter script: 512)."
    )
    device: str = Field("auto", description="Adapter device: auto, cpu, cuda or cuda:N.")
    output: str | None = Field(
        None, description="Run header path (default OUTPUT_DIR/difficulty/difficulty.json)."
    )


class TinySize(BaseModel):
    """Sizes of the reference model (see :class:`timelens_eval.tiny_models.TinyModelSpec`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    vision_hidden_size: int = 64
    vision_depth: int = 2
    seed: int = 0
    tokenizer: Literal["bytes", "bpe"] = Field(
        "bytes",
        description="bytes: one token per byte; bpe: merges learned from the training prompts "
        "and answers (see timelens_eval.tiny_models.build_tiny_tokenizer).",
    )
    vocab_size: int = Field(1024, ge=256, description="Tokens before the control tokens (bpe).")


class ReferenceSettings(BaseModel):
    """What the reference pipeline evaluates on, besides the training config."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    size: TinySize = Field(default_factory=TinySize)
    eval_benchmark: str = "synthetic-refined"
    eval_loader_options: dict[str, Any] = Field(default_factory=lambda: {"split": "test"})
    eval_limit: int | None = Field(None, ge=1)
    baselines: tuple[str, ...] = ("prior",)
    sft_from: str | None = Field(
        None, description="Skip building and SFT: start from this SFT checkpoint directory."
    )
    difficulty_limit: int | None = Field(
        None, ge=1, description="Estimate difficulty on the first N training samples only."
    )
    device: str = Field(
        "cpu", description="Device of the adapter for difficulty and evaluation (cpu, cuda)."
    )


class RLVRConfig(BaseModel):
    """One RLVR training recipe."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="A label for the run.")
    model: str = Field(description="Checkpoint directory or hub id of the policy to train.")
    output_dir: str = Field(description="Where checkpoints, metrics and plots are written.")
    preset: str | None = Field(
        None,
        description="Model preset (qwen2.5-vl, qwen3-vl, timelens-7b, timelens-8b); default "
        "from the model name. It gives the defaults of template, encoding and frames and how "
        "frames reach the model, as the transformers adapter uses them.",
    )
    template: str | None = Field(
        None, description="Prompt template (see timelens_eval.prompts); None: the preset's."
    )
    input_mode: Literal["video", "images"] = Field(
        "video",
        description="'video': frames as the preset passes them (one video, or TimeLens-7B's "
        "video chunks between timestamp texts; the video trainer); 'images': frames as "
        "images (TRL's own image path; no torchvision needed).",
    )
    encoding: str | None = Field(
        None, description="Timestamp encoding (e.g. 'interleaved'); None: the preset's."
    )
    system_prompt: str | None = Field(
        None, description="A system turn in training prompts (evaluation has none)."
    )
    frames: FrameSpec | None = Field(None, description="Frame sampling; None: the preset's.")
    video_backend: Literal["auto", "processor", "patches"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    attn_implementation: str | None = Field(
        None, description="e.g. flash_attention_2 (TimeLens), sdpa, eager; None: the default."
    )
    data: DataConfig = Field(default_factory=DataConfig)
    difficulty: DifficultySettings = Field(default_factory=DifficultySettings)
    reward: RewardConfig = Field(default_factory=RewardConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    grpo: GRPOSettings = Field(default_factory=GRPOSettings)
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    sft: SFTSettings = Field(
        default_factory=SFTSettings, description="Warm start (`rlvr sft`), before GRPO."
    )
    reference: ReferenceSettings = Field(
        default_factory=ReferenceSettings,
        description="Only for `rlvr reference`: model size, evaluation split, baselines.",
    )


def _read_document(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read config: {exc.strerror}", path=path) from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise MissingDependencyError("YAML RLVR configs", "rlvr", "yaml") from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            raise InputError(
                f"invalid YAML: {getattr(exc, 'problem', exc)}",
                path=path,
                line=line + 1 if line is not None else None,
            ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> RLVRConfig:
    """Read and validate an RLVR config file (``.yaml``/``.yml`` or ``.json``).

    ``overrides`` maps dotted keys (``grpo.max_steps``) to values applied before validation.
    """
    path = Path(path)
    document = _read_document(path)
    if not isinstance(document, dict):
        raise InputError("an RLVR config must be a mapping", path=path)
    for dotted, value in (overrides or {}).items():
        target = document
        *parents, last = dotted.split(".")
        for key in parents:
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                raise ConfigError(f"cannot override {dotted!r}: {key!r} is not a mapping")
        target[last] = value
    try:
        return RLVRConfig.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InputError(f"{where}: {first['msg']}{more}", path=path) from None
