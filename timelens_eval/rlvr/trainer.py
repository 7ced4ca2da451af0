"""GRPO with the TimeLens settings, on TRL's ``GRPOTrainer``.

:class:`GRPOSettings` holds the recipe (defaults: TimeLens-8B's released GRPO script):
8 generations per prompt, temperature 1.0, no KL term (``beta = 0``), no division of
advantages by the group's reward std (``scale_rewards = "none"``; TimeLens-7B's script
divides, ``"group"``), and the loss normalised over the tokens of each micro-batch
(TRL's ``loss_type = "bnpo"``, the official trainer's default; with one completion per
device and micro-batch, as in the official scripts, that is each completion's token
losses averaged over its own length).

The video trainer overrides TRL internals (prompt tokenisation, log-prob computation),
which change between TRL releases: :func:`require_trl` refuses a TRL outside
:data:`TRL_SUPPORTED`, the range the trainer is tested with.

:func:`grpo_trainer_class` returns a thin subclass of TRL's trainer that also logs the
*within-group* reward statistics every step (TRL's own ``reward_std`` is the std over
the whole batch, which mixes easy and hard prompts): ``reward_std_within_group`` (mean
over groups of each group's population std) and ``frac_groups_zero_std`` (groups whose
answers all earn the same reward: their advantages are 0 and they teach nothing).

TRL, transformers and torch are imported only when a trainer is built.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from timelens_eval.errors import DependencyVersionError, MissingDependencyError

__all__ = [
    "GRPOSettings",
    "TRL_SUPPORTED",
    "require_trl",
    "grpo_config",
    "checkpointing_arguments",
    "grpo_trainer_class",
    "freeze_vision_tower",
    "WITHIN_GROUP_STD",
    "FRAC_GROUPS_ZERO_STD",
]

TRL_SUPPORTED = ">=1.16,<1.17"
"""The TRL releases the trainer is tested with (pyproject pins the same range). TRL 1.15
passes ``fused_lm_head`` to a Triton kernel that needs a GPU even for a CPU run; 1.14
and older have no fused log-prob head at all."""
_TRL_LOW, _TRL_HIGH = (1, 16), (1, 17)

WITHIN_GROUP_STD = "reward_std_within_group"
FRAC_GROUPS_ZERO_STD = "frac_groups_zero_std"


class GRPOSettings(BaseModel):
    """The GRPO recipe. Defaults reproduce TimeLens' GRPO run (per device: 1 group of 8)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    num_generations: int = Field(8, ge=2, description="Completions sampled per prompt.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature of the rollouts.")
    top_p: float = Field(1.0, gt=0, le=1)
    beta: float = Field(0.0, ge=0, description="KL coefficient; 0 = no KL, no reference model.")
    scale_rewards: Literal["none", "group", "batch"] = Field(
        "none",
        description="Divide advantages by a reward std: 'none' (TimeLens-8B), 'group' (the "
        "group's std + 1e-4, TimeLens-7B).",
    )
    loss_type: str = Field(
        "bnpo",
        description="TRL loss type; 'bnpo' averages over the micro-batch's tokens (the "
        "official default), 'grpo' over each sequence's own tokens.",
    )
    learning_rate: float = Field(1e-6, gt=0)
    lr_scheduler_type: str = Field(
        "constant", description="'constant' (TimeLens-8B) or 'linear' (TimeLens-7B)."
    )
    warmup: float = Field(
        0.0, ge=0, description="Warm-up: a fraction of the steps (< 1) or a step count."
    )
    optim: str = Field("adamw_torch", description="Optimizer name (transformers' `optim`).")
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    max_completion_length: int = Field(64, ge=1)
    per_device_train_batch_size: int = Field(8, ge=1, description="Completions per device step.")
    gradient_accumulation_steps: int = Field(1, ge=1)
    steps_per_generation: int | None = Field(
        None, description="Optimizer micro-steps per generation round (TRL default: accumulation)."
    )
    num_iterations: int = Field(1, ge=1, description="Updates per generated batch (mu).")
    max_steps: int = Field(-1, description="Optimizer steps (-1: from the epochs).")
    num_train_epochs: float = Field(1.0, gt=0)
    seed: int = 42
    logging_steps: int = Field(1, ge=1)
    save_steps: int = Field(100, ge=1)
    save_strategy: Literal["no", "steps", "epoch"] = "steps"
    save_total_limit: int | None = 5
    bf16: bool = False
    tf32: bool | None = Field(None, description="TF32 matmuls on Ampere or newer (None: as is).")
    gradient_checkpointing: bool = False
    gradient_checkpointing_kwargs: dict[str, Any] | None = Field(
        None, description="e.g. {use_reentrant: true}, as the official scripts set."
    )
    save_only_model: bool = Field(False, description="Checkpoints without optimizer state.")
    log_completions: bool = Field(False, description="Print a sample of completions each log.")
    freeze_vision_tower: bool = Field(True, description="Freeze the ViT (not its merger).")
    use_vllm: bool = False
    deepspeed: str | None = Field(None, description="DeepSpeed JSON config for multi-GPU runs.")
    report_to: list[str] = Field(default_factory=list)
    use_cpu: bool = False
    extra: dict[str, Any] = Field(
        default_factory=dict, description="Further GRPOConfig arguments, passed as is."
    )


def _release(version: str) -> tuple[int, int]:
    """``(major, minor)`` of a version string such as ``1.16.0`` or ``1.17.0.dev0``."""
    found = re.match(r"(\d+)\.(\d+)", version)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def require_trl() -> None:
    """Raise :class:`MissingDependencyError` unless torch, transformers and trl are installed,
    and :class:`DependencyVersionError` when trl is outside :data:`TRL_SUPPORTED`."""
    for module in ("torch", "transformers", "trl"):
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError("RLVR training", "rlvr", module)
    installed = importlib.metadata.version("trl")
    if not _TRL_LOW <= _release(installed) < _TRL_HIGH:
        raise DependencyVersionError("RLVR training", "trl", installed, TRL_SUPPORTED)


def grpo_config(settings: GRPOSettings, output_dir: str | Path) -> Any:
    """TRL ``GRPOConfig`` for ``settings``, writing checkpoints and logs to ``output_dir``."""
    require_trl()
    from trl import GRPOConfig

    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir),
        num_generations=settings.num_generations,
        temperature=settings.temperature,
        top_p=settings.top_p,
        beta=settings.beta,
        scale_rewards=settings.scale_rewards,
        loss_type=settings.loss_type,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler_type,
        warmup_steps=settings.warmup,
        optim=settings.optim,
        weight_decay=settings.weight_decay,
        max_grad_norm=settings.max_grad_norm,
        max_completion_length=settings.max_completion_length,
        per_device_train_batch_size=settings.per_device_train_batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        steps_per_generation=settings.steps_per_generation,
        num_iterations=settings.num_iterations,
        max_steps=settings.max_steps,
        num_train_epochs=settings.num_train_epochs,
        seed=settings.seed,
        logging_steps=settings.logging_steps,
        save_steps=settings.save_steps,
        save_strategy=settings.save_strategy,
        save_total_limit=settings.save_total_limit,
        bf16=settings.bf16,
        fp16=False,
        tf32=settings.tf32,
        save_only_model=settings.save_only_model,
        use_vllm=settings.use_vllm,
        deepspeed=settings.deepspeed,
        report_to=list(settings.report_to) or "none",
        use_cpu=settings.use_cpu,
        # Keep gt / duration / video columns: the reward and the video trainer read them.
        remove_unused_columns=False,
        log_completions=settings.log_completions,
    )
    kwargs.update(
        checkpointing_arguments(
            GRPOConfig, settings.gradient_checkpointing, settings.gradient_checkpointing_kwargs
        )
    )
    kwargs.update(settings.extra)
    return GRPOConfig(**kwargs)


def checkpointing_arguments(
    arguments_class: Any, enabled: bool, options: dict[str, Any] | None
) -> dict[str, Any]:
    """Activation-checkpointing arguments under the names ``arguments_class`` knows
    (transformers 5.2x renamed ``gradient_checkpointing*`` to ``activation_checkpointing*``)."""
    fields = getattr(arguments_class, "__dataclass_fields__", {})
    prefix = "activation" if "activation_checkpointing" in fields else "gradient"
    out: dict[str, Any] = {f"{prefix}_checkpointing": enabled}
    if options is not None:
        out[f"{prefix}_checkpointing_kwargs"] = dict(options)
    return out


def freeze_vision_tower(model: Any) -> int:
    """Freeze a Qwen-VL vision encoder except its merger; returns the parameters frozen."""
    frozen = 0
    for name, param in model.named_parameters():
        if ".visual." in f".{name}" and ".merger." not in f".{name}.":
            if param.requires_grad:
                param.requires_grad_(False)
                frozen += param.numel()
    return frozen


@lru_cache(maxsize=1)
def grpo_trainer_class() -> type:
    """TRL's ``GRPOTrainer`` plus within-group reward logging (built on first use)."""
    require_trl()
    import torch
    from trl import GRPOTrainer

    class TimeLensGRPOTrainer(GRPOTrainer):
        """GRPOTrainer that logs within-group reward statistics every generation round."""

        def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):  # type: ignore[no-untyped-def]
            rewards_per_func = super()._calculate_rewards(
                inputs, prompts, completions, completion_ids_list
            )
            mode = "train" if self.model.training else "eval"
            group = self.num_generations if mode == "train" else self.num_generations_eval
            weights = self.reward_weights.to(rewards_per_func.device)
            rewards = (rewards_per_func * weights.unsqueeze(0)).nansum(dim=1)
            if group and group > 1 and rewards.numel() % group == 0:
                grouped = rewards.view(-1, group)
                mean = grouped.mean(dim=1, keepdim=True)
                std = ((grouped - mean) ** 2).mean(dim=1).sqrt()
                self._metrics[mode][WITHIN_GROUP_STD].append(std.mean().item())
                zero = torch.isclose(std, torch.zeros_like(std)).float().mean().item()
                self._metrics[mode][FRAC_GROUPS_ZERO_STD].append(zero)
            return rewards_per_func

    return TimeLensGRPOTrainer
