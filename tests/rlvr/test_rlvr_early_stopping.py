"""The early-stopping rule on scripted reward / within-group-std curves, and its callback."""

from __future__ import annotations

import json

import numpy as np
import pytest
from repo_paths import ROOT

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


def _drive(callback, tmp_path, rows, model=None):  # type: ignore[no-untyped-def]
    """Feed ``rows`` (one TRL log dict per step, from step 1) to ``callback`` the way the
    Trainer does, with a loss-only log after each (ignored) and, given a ``model``, its
    weights set to the step number by "the optimizer step" before each log. Returns the
    step at which the callback stopped training, or None."""
    from transformers import TrainerControl, TrainerState, TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to=[])
    state, control = TrainerState(), TrainerControl()
    callback.on_train_begin(args, state, control, model=model)
    for step, logs in enumerate(rows, 1):
        if model is not None:
            import torch

            with torch.no_grad():
                model.weight.fill_(float(step))
        state.global_step = step
        callback.on_log(args, state, control, logs=logs, model=model)
        callback.on_log(args, state, control, logs={"loss": 0.0}, model=model)
        if control.should_training_stop:
            return step
    return None


def _logs(format_rates, reward=0.3):  # type: ignore[no-untyped-def]
    return [
        {"reward": reward, "reward_std_within_group": 0.1, "rewards/answer_format/mean": r}
        for r in format_rates
    ]


def test_callback_stops_the_trainer_and_logs_its_decisions(tmp_path) -> None:
    pytest.importorskip("transformers")
    config = EarlyStoppingConfig(window=3, reward_tolerance=0.01, std_tolerance=0.01, patience=1)
    callback = make_early_stopping_callback(config, log_dir=tmp_path)
    curve = [0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    rows = [{"reward": r, "reward_std_within_group": 0.1} for r in curve]
    stopped = _drive(callback, tmp_path, rows)
    assert stopped == 10 and callback.stopped_at == 10
    lines = [json.loads(x) for x in (tmp_path / "early_stopping.jsonl").read_text().splitlines()]
    assert len(lines) == 10 and lines[-1]["stop"] and "plateau" in lines[-1]["reason"]
    assert not any(line["stop"] for line in lines[:-1])


def test_a_format_collapse_stops_even_while_the_reward_stays_level() -> None:
    """Run 13 of docs/reference-model.md: the reward stayed level while the answers
    stopped being answers. Only the format guard sees it, and it does not wait for
    min_steps."""
    steps = 120
    rewards = 0.2 + 0.01 * np.sin(np.arange(steps))
    stds = np.full(steps, 0.1) + 0.02 * np.cos(np.arange(steps) / 3)
    formats = np.where(np.arange(steps) < 30, 1.0, 0.1)
    config = EarlyStoppingConfig(window=10, min_steps=100, min_format_rate=0.8)
    rule = PlateauRule(config)
    stopped = next(
        (i for i in range(steps) if rule.update(i, rewards[i], stds[i], formats[i]).stop), None
    )
    # the window mean falls below 0.8 once 3 of its 10 values are 0.1
    assert stopped == 32
    assert rule.decisions[-1].reason.startswith("format collapse")
    # without the guard (or without format values) the same curves run past the collapse
    assert PlateauRule(config.model_copy(update={"min_format_rate": None})).run(rewards, stds) != 32
    unguarded = PlateauRule(config)
    assert not any(unguarded.update(i, rewards[i], stds[i]).stop for i in range(40))
    # well-formed answers never trip it
    steady = PlateauRule(config)
    assert not any(steady.update(i, rewards[i], stds[i], 0.97).stop for i in range(99))


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        EarlyStoppingConfig(window=0)
    with pytest.raises(ValueError, match="restore_on_format_collapse needs min_format_rate"):
        EarlyStoppingConfig(restore_on_format_collapse=True)
    with pytest.raises(ValueError, match="min_format_rate"):
        EarlyStoppingConfig(min_format_rate=1.5)


def test_callback_reads_the_format_monitor_from_trl_logs(tmp_path) -> None:
    pytest.importorskip("transformers")
    config = EarlyStoppingConfig(window=3, min_steps=50, min_format_rate=0.5)
    callback = make_early_stopping_callback(config, log_dir=tmp_path)
    stopped = _drive(callback, tmp_path, _logs([1.0, 1.0, 0.9, 0.2, 0.1, 0.0, 0.0]))
    # windows: (1, .9, .2) -> .70, (.9, .2, .1) -> .40 < .5
    assert stopped == callback.stopped_at == 5
    last = json.loads((tmp_path / "early_stopping.jsonl").read_text().splitlines()[-1])
    assert last["stop"] and last["reason"].startswith("format collapse: 0.400")


def test_a_format_collapse_restores_the_last_well_formed_weights(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    config = EarlyStoppingConfig(
        window=2, min_steps=50, min_format_rate=0.5, restore_on_format_collapse=True
    )
    callback = make_early_stopping_callback(config, log_dir=tmp_path)
    model = torch.nn.Linear(2, 1, bias=False)
    # The rates logged at step k are those of the answers of the weights after step k-1.
    rates = [1.0, 0.9, 0.8, 0.3, 0.0]
    # windows of 2: (0.8, 0.3) -> 0.55, (0.3, 0.0) -> 0.15 < 0.5: stop at step 5. Step 3's
    # answers (0.8) were the last well formed: they came from the weights after step 2.
    assert _drive(callback, tmp_path, _logs(rates), model) == 5
    assert callback.restored_step == 2 and model.weight.tolist() == [[2.0, 2.0]]
    last = json.loads((tmp_path / "early_stopping.jsonl").read_text().splitlines()[-1])
    assert last["reason"].endswith("weights of step 2 restored")

    # without the option the weights stay where training left them
    plain = make_early_stopping_callback(
        config.model_copy(update={"restore_on_format_collapse": False})
    )
    assert _drive(plain, tmp_path, _logs(rates), model) == 5
    assert plain.restored_step is None and model.weight.tolist() == [[5.0, 5.0]]


def test_curves_show_the_format_monitor_and_the_restored_step(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from PIL import Image

    from timelens_eval.rlvr.plots import plot_training_curves

    rows = [{"step": k, "reward": 0.2, "reward_std_within_group": 0.1} for k in range(1, 9)]
    two = plot_training_curves(rows, tmp_path / "two.png", stop_step=8)
    for k, row in enumerate(rows):
        row["rewards/answer_format/mean"] = 1.0 if k < 5 else 0.0
    three = plot_training_curves(rows, tmp_path / "three.png", stop_step=8, restored_step=4)
    with Image.open(two) as a, Image.open(three) as b:
        assert b.size[0] == pytest.approx(a.size[0] * 1.5, rel=0.02)  # a third panel
        assert b.size[1] == a.size[1]


# TimeLens' reward curve (the paper's Fig. 6): the mean reward rises from about 0.13 to
# 0.52 over about 400 steps, 0.001 per step on average. The per-step reward is the mean of
# 64 completions over 8 prompts of different difficulty; its noise is taken as 0.02 to
# 0.1 (a 0.25 spread of prompt means over 8 prompts gives about 0.09). The within-group
# std is level with noise 0.02.
OFFICIAL_LENGTHS = {"timelens-8b.yaml": 100, "timelens-7b.yaml": 311}
PAPER_SHAPES = {
    "linear": lambda t: 0.13 + 0.001 * t,
    "sqrt": lambda t: 0.13 + 0.39 * np.sqrt(t / 400),  # same start and end, rising slower
    "log": lambda t: 0.13 + 0.39 * np.log1p(t / 40) / np.log1p(10),
}


def _paper_curves(shape: str, noise: float, seed: int, steps: int = 400):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    t = np.arange(steps, dtype=np.float64)
    rewards = PAPER_SHAPES[shape](t) + rng.normal(0, noise, steps)
    stds = 0.15 + rng.normal(0, 0.02, steps)
    return rewards, stds


def _recipe_rule(name: str) -> EarlyStoppingConfig:

    from timelens_eval.rlvr.config import load_config

    root = ROOT / "configs" / "rlvr"
    return load_config(root / name).early_stopping


@pytest.mark.parametrize("name", sorted(OFFICIAL_LENGTHS))
def test_the_recipes_never_stop_before_the_official_length(name) -> None:  # type: ignore[no-untyped-def]
    """The official runs have no stopping rule. The recipes turn it off; turned on, it
    still waits for the official length (min_steps) and then stops a flat curve."""
    rule = _recipe_rule(name)
    length = OFFICIAL_LENGTHS[name]
    assert not rule.enabled and rule.min_steps >= length
    on = rule.model_copy(update={"enabled": True})
    for shape in PAPER_SHAPES:
        for seed in range(10):
            stop = PlateauRule(on).run(*_paper_curves(shape, 0.1, seed))
            assert stop is None or stop + 1 >= length, (shape, seed, stop)  # steps done
    flat = np.full(600, 0.3) + np.random.default_rng(0).normal(0, 0.05, 600)
    stop = PlateauRule(on).run(flat, 0.15 + np.random.default_rng(1).normal(0, 0.02, 600))
    first = max(length, 2 * on.window) + on.patience - 1  # the earliest possible stop
    assert stop is not None and first <= stop + 1 <= first + 50


@pytest.mark.parametrize("noise", [0.02, 0.05, 0.1])
def test_the_calibrated_rule_alone_lets_the_paper_curve_run(noise) -> None:  # type: ignore[no-untyped-def]
    """Without min_steps, the default rule is calibrated on the paper's curve: at its slope
    and noise it does not stop before step 311 (the 7B run's length) in any of 30 runs per
    shape, and it stops every flat curve (after two windows and the patience)."""
    rule = EarlyStoppingConfig()
    assert rule.min_steps == 0 and rule.enabled
    for shape in PAPER_SHAPES:
        stops = [PlateauRule(rule).run(*_paper_curves(shape, noise, seed)) for seed in range(30)]
        early = [s for s in stops if s is not None and s < 311]
        assert early == [], (shape, early)  # run() gives the index of the stopping step
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        flat = 0.3 + rng.normal(0, noise, 400)
        stop = PlateauRule(rule).run(flat, 0.15 + rng.normal(0, 0.02, 400))
        first = 2 * rule.window + rule.patience - 1  # steps before the earliest possible stop
        assert stop is not None and first <= stop + 1 <= first + 50, stop


def test_the_old_rule_cut_the_paper_curve_short() -> None:
    """What the calibration replaced: windows of 10 steps, tolerance 0.01, patience 2 and
    min_steps 30 called a noiseless curve at the paper's slope flat at step 31."""
    old = EarlyStoppingConfig(
        window=10, reward_tolerance=0.01, std_tolerance=0.01, patience=2, min_steps=30
    )
    t = np.arange(400, dtype=np.float64)
    assert PlateauRule(old).run(0.13 + 0.001 * t, np.full(400, 0.15)) == 30
    assert PlateauRule(EarlyStoppingConfig()).run(0.13 + 0.001 * t, np.full(400, 0.15)) is None
