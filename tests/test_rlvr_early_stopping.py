"""The early-stopping rule on scripted reward / within-group-std curves, and its callback."""

from __future__ import annotations

import json

import numpy as np
import pytest

from timelens_eval.rlvr.early_stopping import (
    EarlyStoppingConfig,
    PlateauRule,
    make_early_stopping_callback,
)


def _saturating(steps: int, knee: int, top: float, start: float = 0.1) -> np.ndarray:
    """A curve that rises linearly until ``knee`` and stays at ``top`` after."""
    t = np.arange(steps)
    return np.where(t < knee, start + (top - start) * t / knee, top)


def test_stops_shortly_after_both_curves_flatten() -> None:
    rewards = _saturating(200, knee=80, top=0.6)
    stds = _saturating(200, knee=100, top=0.05, start=0.3)
    config = EarlyStoppingConfig(window=10, reward_tolerance=0.005, std_tolerance=0.005)
    stop = PlateauRule(config).run(rewards, stds)
    # Both curves are flat from step 100; the windows need 2 * 10 flat-ish values.
    assert stop is not None and 100 <= stop <= 125


def test_a_rising_reward_never_stops() -> None:
    rewards = np.linspace(0.1, 0.7, 300)
    stds = np.full(300, 0.2)
    assert (
        PlateauRule(EarlyStoppingConfig(window=10, reward_tolerance=0.01)).run(rewards, stds)
        is None
    )


def test_a_flat_reward_with_a_moving_std_does_not_stop() -> None:
    rewards = np.full(200, 0.4)
    stds = np.linspace(0.4, 0.05, 200)
    config = EarlyStoppingConfig(window=10, reward_tolerance=0.01, std_tolerance=0.01)
    assert PlateauRule(config).run(rewards, stds) is None
    # ...unless the std has fallen below a floor.
    floored = EarlyStoppingConfig(window=10, std_tolerance=0.01, std_floor=0.1)
    stop = PlateauRule(floored).run(rewards, stds)
    assert stop is not None and stds[stop - 9 : stop + 1].mean() < 0.1


def test_a_collapsing_reward_stops_only_with_max_drop() -> None:
    """A rise then a collapse: the plateau rule alone keeps going; max_drop stops it."""
    rewards = np.concatenate([np.linspace(0.05, 0.3, 50), np.linspace(0.3, 0.0, 30)])
    stds = np.concatenate([np.full(50, 0.15), np.linspace(0.15, 0.0, 30)])
    config = EarlyStoppingConfig(window=5, reward_tolerance=0.001, std_tolerance=0.001)
    assert PlateauRule(config).run(rewards, stds) is None
    rule = PlateauRule(config.model_copy(update={"max_drop": 0.05}))
    stop = rule.run(rewards, stds)
    # Windowed best is about 0.29 (steps 45..49); the window mean is 0.05 lower ~8 steps later.
    assert stop is not None and 52 <= stop <= 62
    assert rule.decisions[-1].reason.startswith("collapse")


def test_noise_patience_and_min_steps() -> None:
    rng = np.random.default_rng(0)
    rewards = _saturating(300, knee=100, top=0.5) + rng.normal(0, 0.02, 300)
    stds = 0.1 + rng.normal(0, 0.01, 300)
    tight = EarlyStoppingConfig(window=20, reward_tolerance=0.015, std_tolerance=0.01, patience=5)
    stop = PlateauRule(tight).run(rewards, stds)
    assert stop is not None and stop >= 100 + 20
    late = PlateauRule(tight.model_copy(update={"min_steps": 250})).run(rewards, stds)
    assert late is not None and late >= 249
    rule = PlateauRule(EarlyStoppingConfig(window=5))
    first = rule.update(0, 0.1, 0.1)
    assert not first.stop and "warming up" in first.reason


def test_callback_stops_the_trainer_and_logs_its_decisions(tmp_path) -> None:
    pytest.importorskip("transformers")
    from transformers import TrainerControl, TrainerState, TrainingArguments

    config = EarlyStoppingConfig(window=3, reward_tolerance=0.01, std_tolerance=0.01)
    callback = make_early_stopping_callback(config, log_dir=tmp_path)
    args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to=[])
    state, control = TrainerState(), TrainerControl()
    curve = [0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    stopped = None
    for step, reward in enumerate(curve, 1):
        state.global_step = step
        callback.on_log(
            args, state, control, logs={"reward": reward, "reward_std_within_group": 0.1}
        )
        callback.on_log(args, state, control, logs={"loss": 0.0})  # other logs are ignored
        if control.should_training_stop:
            stopped = step
            break
    assert stopped == 10 and callback.stopped_at == 10
    lines = [json.loads(x) for x in (tmp_path / "early_stopping.jsonl").read_text().splitlines()]
    assert len(lines) == 10 and lines[-1]["stop"] and "plateau" in lines[-1]["reason"]
    assert not any(line["stop"] for line in lines[:-1])


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        EarlyStoppingConfig(window=0)
