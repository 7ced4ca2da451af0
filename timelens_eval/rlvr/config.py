"""The RLVR run configuration (one YAML or JSON file per recipe).

A file holds everything a training run depends on: the model, the data and its
difficulty-based selection, the frame sampling, the reward, the GRPO settings and the
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
from timelens_eval.rlvr.reward import RewardConfig
from timelens_eval.rlvr.sampling import SamplingConfig
from timelens_eval.rlvr.sft import SFTSettings
from timelens_eval.rlvr.trainer import GRPOSettings
from timelens_eval.video.types import FrameSpec

__all__ = ["DataConfig", "TinySize", "ReferenceSettings", "RLVRConfig", "load_config"]


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
    template: str = Field("timelens", description="Prompt template (see timelens_eval.prompts).")
    input_mode: Literal["video", "images"] = Field(
        "video",
        description="'video': one video tensor per prompt (the video trainer); 'images': "
        "frames as images with the timestamp encoding, built like the transformers adapter's "
        "vision=images requests (TRL's own image path; no torchvision needed).",
    )
    encoding: str = Field(
        "none", description="Timestamp encoding for input_mode=images (e.g. 'interleaved')."
    )
    preset: str | None = Field(
        None, description="Model preset for input_mode=images; default from the model name."
    )
    system_prompt: str | None = None
    frames: FrameSpec = Field(default_factory=lambda: FrameSpec(fps=2.0))
    video_backend: Literal["auto", "processor", "patches"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    data: DataConfig = Field(default_factory=DataConfig)
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
