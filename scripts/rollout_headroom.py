"""How much a GRPO stage could gain: greedy answers against sampled rollouts.

For each sample of a benchmark, asks a checkpoint (through the ``transformers`` adapter,
with the inputs it was trained on) for its greedy answer and for ``--k`` answers sampled
as GRPO samples them (``--temperature``, default 1.0; top-p 1), and scores every answer
with the GRPO reward (temporal IoU through the project's parser). Reports:

* ``greedy`` R1 and mean IoU (what evaluation sees);
* ``sampled`` R1: one rollout's chance of a hit;
* ``pass_at_k``: the share of samples where at least one of the k rollouts hits;
* ``zero_spread``: the share of groups whose k rewards are all equal (no GRPO signal).

A ``pass_at_k`` well above the greedy R1 means the rollouts often contain the right
answer, so the IoU reward can separate completions and GRPO has room to move the greedy
answer. Usage::

    python scripts/rollout_headroom.py --model runs/reference-tiny/sft/final \\
        --benchmark synthetic-refined --split test --k 8 --out headroom.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from rich.progress import Progress

from timelens_eval.adapters import (
    GenerationConfig,
    GroundingRequest,
    build_adapter,
    split_adapter_args,
)
from timelens_eval.benchmarks import load_benchmark
from timelens_eval.errors import TimelensError
from timelens_eval.prompts import build_prompt
from timelens_eval.rlvr.reward import grounding_reward
from timelens_eval.video.sampler import sample_frames


def measure(
    model: str,
    benchmark: str,
    *,
    split: str | None = None,
    adapter_args: str | None = None,
    annotations: str | Path | None = None,
    video_root: str | Path | None = None,
    limit: int | None = None,
    k: int = 8,
    temperature: float = 1.0,
    threshold: float = 0.5,
    max_new_tokens: int = 48,
    progress: bool = True,
) -> dict[str, Any]:
    """Greedy and sampled rewards of ``model`` on ``benchmark``; see the module docstring."""
    if k < 1 or temperature <= 0:
        raise ValueError("k must be at least 1 and temperature above 0")
    if limit is not None and limit < 1:
        raise ValueError("limit must be at least 1")
    extra = split_adapter_args(adapter_args) if adapter_args else {}
    adapter = build_adapter("transformers", {"model": model, "device": "cpu", **extra})
    options = {"split": split} if split else {}
    bench = load_benchmark(benchmark, annotations, video_root=video_root, **options)
    samples = bench.samples[:limit] if limit else bench.samples
    if not samples:
        raise ValueError(f"benchmark {bench.name!r} has no samples")
    greedy = GenerationConfig(temperature=0.0, max_new_tokens=max_new_tokens)
    rows: list[dict[str, Any]] = []

    async def answer(sample: Any, message: Any, generation: GenerationConfig) -> float:
        out = await adapter.ground(
            GroundingRequest(
                sample_id=sample.sample_id,
                query=sample.query,
                duration=sample.duration,
                video_path=bench.video_path(sample),
                message=message,
                generation=generation,
            )
        )
        return grounding_reward(out.text, sample.gt, duration=sample.duration)

    async def run_all(bar: Progress | None, task: Any) -> None:
        frames_cache: dict[Path, Any] = {}
        for sample in samples:
            path = bench.video_path(sample)
            if path not in frames_cache:
                frames_cache.clear()
                frames_cache[path] = sample_frames(
                    path, adapter.default_frames, duration_hint=sample.duration
                )
            message = build_prompt(
                sample.query,
                frames_cache[path],
                adapter.default_template,
                adapter.default_encoding,
                sample.duration,
            )
            best = await answer(sample, message, greedy)
            sampled = [
                await answer(
                    sample,
                    message,
                    GenerationConfig(
                        temperature=temperature,
                        max_new_tokens=max_new_tokens,
                        seed=j + 1,  # the adapter hashes it with the sample id
                    ),
                )
                for j in range(k)
            ]
            rows.append({"sample_id": sample.sample_id, "greedy": best, "sampled": sampled})
            if bar is not None:
                bar.advance(task)

    try:
        if progress:
            with Progress(transient=True) as bar:
                task = bar.add_task("rollouts", total=len(samples))
                asyncio.run(run_all(bar, task))
        else:
            asyncio.run(run_all(None, None))
    finally:
        asyncio.run(adapter.aclose())

    n = len(rows)
    hits = [[r >= threshold for r in row["sampled"]] for row in rows]
    return {
        "model": model,
        "benchmark": bench.name,
        "samples": n,
        "k": k,
        "temperature": temperature,
        "threshold": threshold,
        "greedy_r1": 100.0 * sum(r["greedy"] >= threshold for r in rows) / n,
        "greedy_miou": 100.0 * statistics.fmean(r["greedy"] for r in rows),
        "sampled_r1": 100.0 * sum(sum(h) for h in hits) / (n * k),
        "pass_at_k": 100.0 * sum(any(h) for h in hits) / n,
        "zero_spread": 100.0 * sum(len(set(r["sampled"])) == 1 for r in rows) / n,
        "per_sample": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="Checkpoint directory.")
    parser.add_argument("--benchmark", default="synthetic-refined")
    parser.add_argument("--split", default=None, help="Loader split (synthetic: test, train).")
    parser.add_argument(
        "--adapter-args", default=None, help="More transformers adapter arguments: k=v,..."
    )
    parser.add_argument("--annotations", default=None, help="Annotation file.")
    parser.add_argument("--video-root", default=None, help="Folder of the videos.")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N samples.")
    parser.add_argument("--k", type=int, default=8, help="Rollouts per sample.")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--threshold", type=float, default=0.5, help="IoU that counts as a hit.")
    parser.add_argument("--out", type=Path, default=None, help="Write JSON (with per-sample).")
    args = parser.parse_args(argv)
    try:
        result = measure(
            args.model,
            args.benchmark,
            split=args.split,
            adapter_args=args.adapter_args,
            annotations=args.annotations,
            video_root=args.video_root,
            limit=args.limit,
            k=args.k,
            temperature=args.temperature,
            threshold=args.threshold,
        )
    except (TimelensError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = {key: value for key, value in result.items() if key != "per_sample"}
    print(json.dumps(summary, indent=2))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
