"""RLVR throughput: reward, sampler, and one tiny GRPO step (text and video) on the CPU.

    python benchmarks/bench_rlvr.py [--skip-train]

Prints one line per measurement. The GRPO steps use tiny random models built offline,
so they time TRL's and the project's overhead per step, not a real model's compute.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "rlvr"))


def bench_reward() -> None:
    from timelens_eval.rlvr.reward import tiou_reward

    answers = [f"The event happens in {i % 50} - {i % 50 + 7} seconds." for i in range(20_000)]
    gt = [[[10.0, 20.0]]] * len(answers)
    start = time.perf_counter()
    tiou_reward(answers, gt, [60.0] * len(answers))
    seconds = time.perf_counter() - start
    print(f"reward: {len(answers) / seconds:,.0f} answers/s ({len(answers)} answers)")


def bench_sampler() -> None:
    from timelens_eval.rlvr.sampling import DifficultyRecord, SamplingConfig, select_samples

    rng = np.random.default_rng(0)
    n = 1_000_000
    ious, durations = rng.random(n), rng.uniform(5, 400, n)
    records = [
        DifficultyRecord(f"s{i}", float(u), float(d))
        for i, (u, d) in enumerate(zip(ious, durations, strict=True))
    ]
    config = SamplingConfig()
    start = time.perf_counter()
    selection = select_samples(records, config)
    seconds = time.perf_counter() - start
    print(f"sampler: {n:,} pool -> {len(selection.sample_ids):,} selected in {seconds:.2f} s")


def bench_steps() -> None:
    import torch

    from timelens_eval.rlvr.trainer import GRPOSettings, grpo_config, grpo_trainer_class
    from timelens_eval.rlvr.video_grpo import video_grpo_trainer_class
    from timelens_eval.tiny_models import build_tiny_model, load_processor

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    import test_rlvr_grpo_step as text_test
    import test_rlvr_video_trainer as video_test

    with tempfile.TemporaryDirectory() as tmp:
        settings = GRPOSettings(
            num_generations=4,
            per_device_train_batch_size=8,
            max_completion_length=8,
            learning_rate=1e-3,
            max_steps=3,
            save_strategy="no",
            use_cpu=True,
        )
        model, tokenizer = text_test._tiny_causal_lm()
        trainer = grpo_trainer_class()(
            model=model,
            reward_funcs=[text_test._even_tokens],
            args=grpo_config(settings, Path(tmp) / "a"),
            train_dataset=text_test._dataset(),
            processing_class=tokenizer,
        )
        start = time.perf_counter()
        trainer.train()
        per_step = (time.perf_counter() - start) / 3
        print(f"GRPO step, tiny text model, 2 prompts x 4 generations x 8 tokens: {per_step:.2f} s")

        path = build_tiny_model(Path(tmp) / "vl", "qwen2_5_vl", seed=0)
        from transformers import AutoModelForImageTextToText

        model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
        trainer = video_grpo_trainer_class()(
            model=model,
            reward_funcs=[video_test._even_tokens],
            args=grpo_config(settings, Path(tmp) / "b"),
            train_dataset=video_test._dataset(),
            processing_class=load_processor(path),
            inputs=video_test._inputs(),
            video_backend="patches",
        )
        start = time.perf_counter()
        trainer.train()
        per_step = (time.perf_counter() - start) / 3
        print(
            f"GRPO step, tiny Qwen2.5-VL, 2 videos (4 frames 56x56) x 4 generations: "
            f"{per_step:.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-train", action="store_true")
    args = parser.parse_args()
    bench_reward()
    bench_sampler()
    if not args.skip_train:
        bench_steps()


if __name__ == "__main__":
    main()
