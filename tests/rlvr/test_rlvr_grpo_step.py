"""One real GRPO step on CPU (TRL's GRPOTrainer + the TimeLens settings) with a tiny model.

Non-zero advantages must change the parameters; groups whose rewards are all equal
(zero advantages) must leave them exactly as they were. No download: the tokenizer and
the model are built from scratch.
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("trl")
torch = pytest.importorskip("torch")

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from timelens_eval.rlvr.reward import make_reward_funcs  # noqa: E402
from timelens_eval.rlvr.trainer import (  # noqa: E402
    FRAC_GROUPS_ZERO_STD,
    WITHIN_GROUP_STD,
    GRPOSettings,
    grpo_config,
    grpo_trainer_class,
)

NUM_GENERATIONS = 4

# TRL 1.16 still reads a transformers property that warns about its own deprecation.
pytestmark = pytest.mark.filterwarnings(
    "ignore:`is_gradient_checkpointing` is deprecated:FutureWarning"
)


def _tiny_causal_lm():  # type: ignore[no-untyped-def]
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from timelens_eval.tiny_models import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def _dataset():  # type: ignore[no-untyped-def]
    from datasets import Dataset

    return Dataset.from_dict(
        {
            "prompt": ["Find 'a dog runs'. Answer:", "Find 'a cat sleeps'. Answer:"],
            "gt": [[[2.0, 6.0]], [[1.0, 3.0]]],
            "duration": [10.0, 8.0],
        }
    )


def _even_tokens(completions, completion_ids, **_):  # type: ignore[no-untyped-def]
    """Scripted reward: the share of even token ids; varies between random completions."""
    return [sum(1 for t in ids if t % 2 == 0) / max(len(ids), 1) for ids in completion_ids]


def _constant(completions, **_):  # type: ignore[no-untyped-def]
    return [0.5] * len(completions)


def _train_one_step(tmp_path, reward_funcs, reward_weights=None):  # type: ignore[no-untyped-def]
    model, tokenizer = _tiny_causal_lm()
    settings = GRPOSettings(
        num_generations=NUM_GENERATIONS,
        per_device_train_batch_size=2 * NUM_GENERATIONS,  # two prompts, one group each
        max_completion_length=8,
        learning_rate=1e-2,
        max_steps=1,
        save_strategy="no",
        use_cpu=True,
        extra={"reward_weights": reward_weights} if reward_weights else {},
    )
    args = grpo_config(settings, tmp_path / "out")
    assert (args.beta, args.scale_rewards, args.loss_type, args.temperature) == (
        0.0,
        "none",
        "bnpo",
        1.0,
    )
    trainer = grpo_trainer_class()(
        model=model,
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=_dataset(),
        processing_class=tokenizer,
    )
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer.train()
    changed = [n for n, p in model.named_parameters() if not torch.equal(before[n], p.detach())]
    logs = [entry for entry in trainer.state.log_history if WITHIN_GROUP_STD in entry]
    return changed, logs


def test_non_zero_advantages_change_the_parameters(tmp_path) -> None:
    changed, logs = _train_one_step(tmp_path, [_even_tokens])
    assert changed, "a GRPO step with non-zero advantages left every parameter unchanged"
    assert logs and logs[0][WITHIN_GROUP_STD] > 0
    assert logs[0][FRAC_GROUPS_ZERO_STD] < 1


def test_zero_variance_groups_leave_the_parameters_unchanged(tmp_path) -> None:
    changed, logs = _train_one_step(tmp_path, [_constant])
    assert changed == []
    assert logs[0][WITHIN_GROUP_STD] == 0.0 and logs[0][FRAC_GROUPS_ZERO_STD] == 1.0


def test_the_tiou_reward_runs_inside_trl(tmp_path) -> None:
    funcs, weights = make_reward_funcs()
    # With the scripted reward weighted 0, only the IoU reward enters the advantages.
    _, logs = _train_one_step(tmp_path, [*funcs, _even_tokens], reward_weights=[*weights, 0.0])
    entry = logs[0]
    assert 0.0 <= entry["rewards/tiou/mean"] <= 1.0
    assert entry["reward"] == pytest.approx(entry["rewards/tiou/mean"])


@pytest.mark.parametrize(
    ("installed", "refused"),
    [
        ("1.14.2", True),
        ("1.15.0", True),
        ("1.16.0", False),
        ("1.16.9", False),
        ("1.17.0", True),
        ("2.0.0.dev0", True),
    ],
)
def test_trl_outside_the_tested_range_is_refused(  # type: ignore[no-untyped-def]
    monkeypatch, tmp_path, capsys, installed, refused
) -> None:
    """The video trainer overrides TRL internals: a TRL outside TRL_SUPPORTED is refused
    with one line naming the installed and the supported versions."""
    import importlib.metadata

    from timelens_eval.cli import main
    from timelens_eval.errors import DependencyVersionError
    from timelens_eval.rlvr.trainer import TRL_SUPPORTED, require_trl

    real = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata, "version", lambda name: installed if name == "trl" else real(name)
    )
    if not refused:
        require_trl()
        return
    with pytest.raises(DependencyVersionError) as caught:
        require_trl()
    assert str(caught.value) == (
        f"RLVR training is tested with trl{TRL_SUPPORTED}, but trl {installed} is installed: "
        f"pip install 'trl{TRL_SUPPORTED}'"
    )
    config = tmp_path / "c.json"
    config.write_text('{"name": "x", "model": "m", "output_dir": "%s"}' % (tmp_path / "out"))
    assert main(["rlvr", "train", "--config", str(config)]) == 2
    assert f"trl {installed} is installed" in capsys.readouterr().err


def test_the_video_trainer_is_not_built_on_an_untested_trl(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The class that overrides TRL's private methods checks the version itself."""
    import importlib.metadata

    from timelens_eval.errors import DependencyVersionError
    from timelens_eval.rlvr.video_grpo import video_grpo_trainer_class

    real = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata, "version", lambda name: "1.17.0" if name == "trl" else real(name)
    )
    with pytest.raises(DependencyVersionError, match="but trl 1.17.0 is installed"):
        video_grpo_trainer_class()
