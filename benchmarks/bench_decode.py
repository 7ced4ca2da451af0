"""CPU side of a GPU evaluation: decode, sample and build the request, with N decode workers.

For ActivityNet-length videos (generated H.264 files of 2-3 minutes, 640x360 at 30 fps, a
keyframe every 250 frames) each sample runs what the runner runs before a vLLM engine
sees it: ``sample_frames`` with the preset's frame spec (the qwen-vl-utils sampler at
2 fps with the TimeLens pixel budget), the prompt with the preset's timestamp encoding,
and the request as the ``vllm`` adapter builds it (``build_qwen_inputs`` and
``vllm_prompt``). Samples are spread over N worker processes; every sample decodes its
video again (no frame cache), the worst case of one query per video.

Reports, per N: samples/s (wall), CPU seconds per sample (measured in the workers, the
samples only) and the split between sampling and request building.

    python benchmarks/bench_decode.py --videos 4 --samples 16 --workers 1 2

Needs the ``vllm`` adapter's CPU part (``timelens_eval.adapters``, numpy, PyAV); torch
and torchvision for the qwen-vl-utils resize (as the presets use).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

FPS = 30.0
HEIGHT, WIDTH = 360, 640
ENGINE_TOKENS_PER_S = 17_917.0
"""Prompt tokens a second of vLLM serving Qwen2.5-VL-7B-Instruct on one NVIDIA H200, one
image a request, one output token (sglang pull request 9812, ``bench_serving`` against
``vllm serve ... --tensor-parallel-size 1``: 784,912 input tokens, 769,536 of them visual,
in 43.81 s)."""
PROMPT_TEXT_TOKENS = 80  # the TimeLens prompt's text around the frames, about


def engine_needs(
    tokens_per_s: float, prompt_tokens: float, cpu_per_sample: float
) -> tuple[float, float]:
    """Samples a second the engine takes at ``prompt_tokens`` a sample, and the cores
    that keep it fed at ``cpu_per_sample`` CPU seconds a sample."""
    rate = tokens_per_s / prompt_tokens
    return rate, rate * cpu_per_sample


def write_videos(
    folder: Path, count: int, seed: int = 0, length: tuple[float, float] = (120.0, 180.0)
) -> list[tuple[Path, float]]:
    """``count`` H.264 videos of ``length`` seconds (640x360, 30 fps, keyframe every 250
    frames)."""
    from timelens_eval.video.testing import write_indexed_video

    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        seconds = float(rng.uniform(*length))
        path = folder / f"video{i}.mp4"
        times = np.arange(int(seconds * FPS)) / FPS
        write_indexed_video(
            path, times, height=HEIGHT, width=WIDTH, gop=250, crf=23, preset="ultrafast"
        )
        out.append((path, seconds))
    return out


def one_sample(path: str, duration: float, preset_name: str) -> tuple[float, float, int, int]:
    """CPU seconds to sample and to build the request for one sample, frames and tokens."""
    from timelens_eval.adapters.presets import PRESETS, build_qwen_inputs
    from timelens_eval.adapters.vllm_engine import vllm_prompt
    from timelens_eval.prompts import build_prompt
    from timelens_eval.video.budget import FrameSize, tokens_per_frame
    from timelens_eval.video.sampler import sample_frames

    preset = PRESETS[preset_name]
    start = time.process_time()
    frames = sample_frames(path, preset.frames)
    sampled = time.process_time()
    message = build_prompt(
        "a person opens the door", frames, preset.template, preset.encoding, duration
    )
    inputs = build_qwen_inputs(message, preset)
    vllm_prompt(inputs, preset, "<prompt>")
    built = time.process_time()
    n, height, width = frames.images.shape[:3]
    tokens = n // 2 * tokens_per_frame(FrameSize(height, width), 28)
    return sampled - start, built - sampled, n, tokens


def _warm(preset_name: str) -> None:
    """Imports done in each worker before the clock starts."""
    import torch  # noqa: F401

    from timelens_eval.adapters.presets import PRESETS  # noqa: F401
    from timelens_eval.adapters.vllm_engine import vllm_prompt  # noqa: F401
    from timelens_eval.video.sampler import sample_frames  # noqa: F401


def run(videos: list[tuple[Path, float]], samples: int, workers: int, preset: str) -> dict:
    """Time ``samples`` samples (cycling over the videos) on ``workers`` processes."""
    jobs = [videos[i % len(videos)] for i in range(samples)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_warm, [preset] * workers))
        start = time.perf_counter()
        results = list(
            pool.map(
                one_sample, [str(p) for p, _ in jobs], [d for _, d in jobs], [preset] * len(jobs)
            )
        )
        wall = time.perf_counter() - start
    sample_cpu = [r[0] for r in results]
    build_cpu = [r[1] for r in results]
    return {
        "workers": workers,
        "samples_per_s": samples / wall,
        "wall": wall,
        "cpu_per_sample": statistics.mean(
            a + b for a, b in zip(sample_cpu, build_cpu, strict=True)
        ),
        "sample_cpu": statistics.mean(sample_cpu),
        "build_cpu": statistics.mean(build_cpu),
        "frames": statistics.mean(r[2] for r in results),
        "tokens": statistics.mean(r[3] for r in results),
    }


def main() -> None:
    """Write the videos, time each worker count, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--preset", default="timelens-7b")
    parser.add_argument(
        "--seconds", type=float, nargs=2, default=[120.0, 180.0], help="video length range"
    )
    parser.add_argument(
        "--engine-tokens-per-s",
        type=float,
        default=ENGINE_TOKENS_PER_S,
        help="prompt tokens a second one GPU's engine takes (default: the published figure)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        videos = write_videos(Path(tmp), args.videos, length=tuple(args.seconds))
        lengths = ", ".join(f"{d:.0f} s" for _, d in videos)
        print(
            f"{args.videos} videos ({lengths}; {WIDTH}x{HEIGHT}, {FPS:.0f} fps, H.264) written "
            f"in {time.perf_counter() - start:.0f} s; preset {args.preset}; "
            f"load average {os.getloadavg()[0]:.1f}\n"
        )
        print(
            "| workers | samples/s | CPU s/sample | of which sampling | request building "
            "| frames/sample | visual tokens/sample | load avg |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        rows = []
        for workers in args.workers:
            r = run(videos, args.samples, workers, args.preset)
            rows.append(r)
            print(
                f"| {workers} | {r['samples_per_s']:.2f} | {r['cpu_per_sample']:.3f} "
                f"| {r['sample_cpu']:.3f} | {r['build_cpu']:.3f} | {r['frames']:.0f} "
                f"| {r['tokens']:.0f} | {os.getloadavg()[0]:.1f} |",
                flush=True,
            )
        cpu = max(r["cpu_per_sample"] for r in rows)
        prompt = rows[0]["tokens"] + PROMPT_TEXT_TOKENS
        rate, cores = engine_needs(args.engine_tokens_per_s, prompt, cpu)
        print(
            f"\nAn engine taking {args.engine_tokens_per_s:,.0f} prompt tokens/s runs about "
            f"{rate:.2f} samples/s of {prompt:,.0f} tokens; at {cpu:.2f} CPU s a sample that "
            f"keeps {cores:.1f} cores busy: {math.ceil(cores)} decode workers per GPU."
        )


if __name__ == "__main__":
    main()
