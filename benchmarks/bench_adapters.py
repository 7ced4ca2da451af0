"""Cost of what the model adapters do on the CPU before a model sees a request.

* request building for ``vllm``/``transformers`` (stacking frames into videos, metadata,
  chat content, vLLM prompt dict) for one long video at the TimeLens budget;
* ``gemini`` frames mode: JPEG-encoding the frames inline;
* ``gemini`` upload mode: the content hash that keys the upload cache;
* the ``transformers`` adapter end to end on a tiny random Qwen2.5-VL (images input),
  which measures the harness around ``generate``, not a real model's speed.

Usage: ``python benchmarks/bench_adapters.py [--frames 300] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=300, help="frames of the long video")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from timelens_eval.adapters.presets import PRESETS, build_qwen_inputs
    from timelens_eval.adapters.vllm_engine import vllm_prompt
    from timelens_eval.prompts import build_prompt
    from timelens_eval.video.budget import frame_size
    from timelens_eval.video.types import Frames

    preset = PRESETS["qwen2.5-vl"]
    n = args.frames
    size = frame_size(360, 640, preset.frames, n)  # a 360p video at the TimeLens budget
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, size.height, size.width, 3), dtype=np.uint8)
    frames = Frames(images=images, timestamps=np.arange(n) / 2.0)
    print(f"{n} frames of {size.width}x{size.height} (TimeLens budget, patch 28)")

    for name in ("qwen2.5-vl", "timelens-7b"):
        p = PRESETS[name]
        message = build_prompt("a person opens the door", frames, p.template, p.encoding, n / 2)

        def build(p=p, message=message) -> None:
            inputs = build_qwen_inputs(message, p)
            vllm_prompt(inputs, p, "<prompt>")

        print(f"request building, preset {name}: {_median(build, args.repeat) * 1000:.1f} ms")

    os.environ.setdefault("GEMINI_API_KEY", "benchmark")
    from timelens_eval.adapters.gemini import GeminiAdapter, file_sha256

    with tempfile.TemporaryDirectory() as tmp:
        adapter = GeminiAdapter(
            model="gemini-2.5-pro", mode="frames", cache_dir=tmp, base_url="http://127.0.0.1:9"
        )
        message = build_prompt("a person opens the door", frames, "timelens", "interleaved", n / 2)
        seconds = _median(lambda: adapter.frame_parts(message), max(1, args.repeat // 2))
        print(
            f"gemini frames mode, JPEG parts: {seconds * 1000:.0f} ms "
            f"({seconds / n * 1000:.2f} ms/frame)"
        )
        blob = Path(tmp) / "video.bin"
        blob.write_bytes(os.urandom(64 << 20))
        seconds = _median(lambda: file_sha256(blob), args.repeat)
        print(f"gemini upload cache key (SHA-256): {64 / seconds:.0f} MiB/s")

        from timelens_eval.adapters import GenerationConfig, GroundingRequest
        from timelens_eval.adapters.transformers_hf import TransformersAdapter
        from timelens_eval.tiny_models import build_tiny_model

        tiny = build_tiny_model(Path(tmp) / "tiny", "qwen2_5_vl")
        hf = TransformersAdapter(
            model=str(tiny), preset="qwen2.5-vl", vision="images", device="cpu"
        )
        small = Frames(images=images[:8, :112, :112], timestamps=frames.timestamps[:8])
        message = build_prompt("a person opens the door", small, "timelens", "none", 4.0)
        request = GroundingRequest(
            sample_id="b",
            query="q",
            duration=4.0,
            video_path=None,
            message=message,
            generation=GenerationConfig(max_new_tokens=16),
        )
        seconds = _median(lambda: asyncio.run(hf.ground(request)), args.repeat)
        print(
            f"transformers adapter, tiny Qwen2.5-VL, 8 frames 112x112, 16 new tokens: "
            f"{seconds * 1000:.0f} ms/request"
        )


if __name__ == "__main__":
    main()
