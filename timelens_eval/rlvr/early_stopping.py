"""Early stopping for GRPO: stop once the reward mean and the within-group std plateau.

TimeLens stops RL when the reward stops rising: past that point the policy's groups of
answers agree with each other (the within-group std, i.e. the advantage signal, has
settled) and further steps mostly cost compute. The rule here compares the mean of the
last ``window`` logged values with the mean of the ``window`` before, for both curves:

    plateau  <=>  |mean_last(reward) - mean_prev(reward)| <= reward_tolerance
             and  |mean_last(std) - mean_prev(std)| <= std_tolerance

checked only after ``min_steps`` logged steps, and it must hold for ``patience``
consecutive checks.

The defaults are calibrated on TimeLens' reward curve (the paper's Fig. 6: the reward
mean rises from about 0.13 to 0.52 over about 400 steps, 0.001 per step on average):
windows of 100 steps and a tolerance of 0.02 call a reward flat only when it rises by
less than 0.0002 per step. Curves at the paper's slope (linear, or concave with the same
start and end) with per-step noise up to 0.1 never stop before step 311, the length of
the official 7B run, while a flat curve stops after 2 windows plus ``patience``
(tests/rlvr/test_rlvr_early_stopping.py). The official scripts have no stopping rule; the
reproduction configs turn it off and set ``min_steps`` to the official length. A rule
with windows of 10 steps and a tolerance of 0.01 would call the paper's own curve flat
(0.001 x 10 = 0.01). A within-group std below ``std_floor`` (no learning signal left)
also stops training when ``std_floor`` is set, and so does a collapse when
``max_drop`` is set: the windowed reward mean falling more than ``max_drop`` below the
best windowed mean seen so far (a plateau rule alone never fires on a falling curve).
``min_format_rate`` guards against reward hacking that keeps the reward level: it stops
once the windowed share of completions in the answer format (the ``answer_format``
monitor of :mod:`timelens_eval.rlvr.reward`) falls below it; this check starts as soon
as one window is full, ``min_steps`` notwithstanding. By then the last steps' weights
already write malformed answers; with ``restore_on_format_collapse`` the callback puts
back the weights of the last step whose own answers met ``min_format_rate``. Every check
is logged as a :class:`StopDecision`; the callback writes them to
``early_stopping.jsonl``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["EarlyStoppingConfig", "StopDecision", "PlateauRule", "make_early_stopping_callback"]

logger = logging.getLogger(__name__)

REWARD_KEY = "reward"
STD_KEY = "reward_std_within_group"
FORMAT_KEY = "rewards/answer_format/mean"
FORMAT_COLLAPSE = "format collapse"
"""How the reason of a stop by ``min_format_rate`` begins."""


class EarlyStoppingConfig(BaseModel):
    """Options of the plateau rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    window: int = Field(100, ge=1, description="Logged steps per comparison window.")
    reward_tolerance: float = Field(0.02, ge=0, description="Largest change of the mean reward.")
    std_tolerance: float = Field(0.02, ge=0, description="Largest change of the within-group std.")
    patience: int = Field(10, ge=1, description="Consecutive plateau checks before stopping.")
    min_steps: int = Field(0, ge=0, description="Never stop before this many logged steps.")
    std_floor: float | None = Field(
        None, ge=0, description="Stop when the windowed within-group std falls below this."
    )
    max_drop: float | None = Field(
        None,
        ge=0,
        description="Stop when the windowed reward falls this far below its best (collapse).",
    )
    min_format_rate: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Stop when the windowed share of well-formed answers falls below this.",
    )
    restore_on_format_collapse: bool = Field(
        False,
        description="On a format-collapse stop, put back the weights of the last step whose "
        "answers were well formed (keeps a copy of the weights in CPU memory every step: "
        "meant for small models).",
    )
    reward_key: str = REWARD_KEY
    std_key: str = STD_KEY
    format_key: str = FORMAT_KEY

    @model_validator(mode="after")
    def _restore_needs_a_threshold(self) -> EarlyStoppingConfig:
        if self.restore_on_format_collapse and self.min_format_rate is None:
            raise ValueError("restore_on_format_collapse needs min_format_rate")
        return self


class StopDecision(NamedTuple):
    """One check of the rule."""

    step: int
    stop: bool
    reason: str
    reward_last: float | None
    reward_prev: float | None
    std_last: float | None
    std_prev: float | None

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


class PlateauRule:
    """The plateau rule over a stream of (reward mean, within-group std) values."""

    def __init__(self, config: EarlyStoppingConfig | None = None) -> None:
        self.config = config or EarlyStoppingConfig()
        self.rewards: list[float] = []
        self.stds: list[float] = []
        self.format_rates: list[float] = []
        self.decisions: list[StopDecision] = []
        self._streak = 0
        self._best: float | None = None

    def update(
        self, step: int, reward: float, std: float, format_rate: float | None = None
    ) -> StopDecision:
        """Record one logged step (``format_rate``: its share of well-formed answers, if
        logged) and decide whether to stop."""
        c = self.config
        self.rewards.append(float(reward))
        self.stds.append(float(std))
        if format_rate is not None:
            self.format_rates.append(float(format_rate))
        if c.min_format_rate is not None and len(self.format_rates) >= c.window:
            rate = float(np.mean(self.format_rates[-c.window :]))
            if rate < c.min_format_rate:
                reason = (
                    f"{FORMAT_COLLAPSE}: {rate:.3f} of the answers in the answer format over "
                    f"the last {c.window} steps (min_format_rate {c.min_format_rate:g})"
                )
                decision = StopDecision(step, True, reason, None, None, None, None)
                self.decisions.append(decision)
                return decision
        n = len(self.rewards)
        if n < max(2 * c.window, c.min_steps):
            decision = StopDecision(step, False, f"warming up ({n} values)", None, None, None, None)
            self.decisions.append(decision)
            return decision

        r_last, r_prev = _window_means(self.rewards, c.window)
        s_last, s_prev = _window_means(self.stds, c.window)
        flat = (
            abs(r_last - r_prev) <= c.reward_tolerance and abs(s_last - s_prev) <= c.std_tolerance
        )
        self._streak = self._streak + 1 if flat else 0
        self._best = r_last if self._best is None else max(self._best, r_last)
        if c.max_drop is not None and self._best - r_last > c.max_drop:
            stop = True
            reason = (
                f"collapse: windowed reward {r_last:.4f} is {self._best - r_last:.4f} below "
                f"its best {self._best:.4f} (max_drop {c.max_drop:g})"
            )
        elif c.std_floor is not None and s_last < c.std_floor:
            stop, reason = True, f"within-group std {s_last:.4f} below floor {c.std_floor:g}"
        elif self._streak >= c.patience:
            stop = True
            reason = (
                f"plateau: reward {r_prev:.4f} -> {r_last:.4f}, within-group std "
                f"{s_prev:.4f} -> {s_last:.4f} over windows of {c.window} "
                f"({self._streak} check(s))"
            )
        else:
            stop = False
            reason = (
                f"still changing: reward {r_prev:.4f} -> {r_last:.4f}, "
                f"within-group std {s_prev:.4f} -> {s_last:.4f}"
                if not flat
                else f"flat for {self._streak}/{c.patience} check(s)"
            )
        decision = StopDecision(step, stop, reason, r_last, r_prev, s_last, s_prev)
        self.decisions.append(decision)
        return decision

    def run(self, rewards: Sequence[float], stds: Sequence[float]) -> int | None:
        """Feed whole curves; the index of the first step that stops, or None."""
        for i, (r, s) in enumerate(zip(rewards, stds, strict=True)):
            if self.update(i, r, s).stop:
                return i
        return None


def _window_means(values: Sequence[float], window: int) -> tuple[float, float]:
    arr = np.asarray(values[-2 * window :], dtype=np.float64)
    return float(np.mean(arr[window:])), float(np.mean(arr[:window]))


def _cpu_weights(model: Any) -> dict[str, Any]:
    """A detached CPU copy of ``model``'s weights."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def make_early_stopping_callback(
    config: EarlyStoppingConfig | None = None, log_dir: str | Path | None = None
) -> Any:
    """A ``transformers.TrainerCallback`` applying :class:`PlateauRule` to the trainer's logs.

    Each decision is logged (``logging`` at INFO) and appended to
    ``log_dir/early_stopping.jsonl``; on a stop it sets ``control.should_training_stop``.
    With ``restore_on_format_collapse`` it keeps the weights of the last step whose
    answers were well formed and loads them back on a format-collapse stop
    (``restored_step`` says which; the decision's reason says so too).
    """
    from transformers import TrainerCallback

    class EarlyStoppingCallback(TrainerCallback):
        """Stops GRPO when the reward mean and the within-group std plateau."""

        def __init__(self) -> None:
            self.rule = PlateauRule(config)
            self.path = Path(log_dir) / "early_stopping.jsonl" if log_dir is not None else None
            self.stopped_at: int | None = None
            self.restored_step: int | None = None
            # (step, weights): the weights after ``step``; ``_good`` is the latest whose
            # answers (logged at the next step) were well formed
            self._pending: tuple[int, dict[str, Any]] | None = None
            self._good: tuple[int, dict[str, Any]] | None = None

        def _keeps_weights(self) -> bool:
            return self.rule.config.restore_on_format_collapse

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
            model = kw.get("model")
            if self._keeps_weights() and model is not None:
                self._pending = (state.global_step, _cpu_weights(model))
            return control

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> Any:
            cfg = self.rule.config
            if not cfg.enabled or not logs or cfg.reward_key not in logs or cfg.std_key not in logs:
                return control
            format_rate = logs.get(cfg.format_key)
            decision = self.rule.update(
                state.global_step, logs[cfg.reward_key], logs[cfg.std_key], format_rate
            )
            model = kw.get("model")
            if self._keeps_weights() and model is not None and format_rate is not None:
                # this step's answers came from the previous step's weights
                assert cfg.min_format_rate is not None
                if format_rate >= cfg.min_format_rate and self._pending is not None:
                    self._good = self._pending
                if decision.stop and decision.reason.startswith(FORMAT_COLLAPSE):
                    if self._good is not None:
                        self.restored_step = self._good[0]
                        model.load_state_dict(self._good[1])
                        decision = decision._replace(
                            reason=f"{decision.reason}; weights of step {self.restored_step} "
                            "restored"
                        )
                else:
                    self._pending = (state.global_step, _cpu_weights(model))
            logger.info("early stopping at step %d: %s", decision.step, decision.reason)
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(decision.as_dict()) + "\n")
            if decision.stop:
                self.stopped_at = decision.step
                control.should_training_stop = True
            return control

    return EarlyStoppingCallback()
