"""SFT step time of the reference model, on the CPU or a GPU.

    python benchmarks/bench_reference_sft.py [--device auto|cpu|cuda] [--steps 10]

Loads the shipped reference checkpoint (timelens_eval/data/reference-tiny), builds
batches of 8 samples as the reference recipe does (20 frames of 112 x 56 as images after
their textual timestamps, the TimeLens prompt and answer, collated by the pipeline's
`VideoSFTCollator`), and times forward, backward and an AdamW step. The frames are random
pixels: the step's cost does not depend on what they show. Prints one line per
measurement.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "timelens_eval" / "data" / "reference-tiny"


def make_rows(n: int, frames: int, seed: int = 0) -> list[dict]:
    from PIL import Image

    from timelens_eval.adapters.presets import build_qwen_inputs, resolve_preset
    from timelens_eval.prompts import build_prompt
    from timelens_eval.video.types import Frames

    rng = np.random.default_rng(seed)
    preset = resolve_preset("reference-tiny", "qwen2.5-vl")
    rows = []
    for i in range(n):
        clip = Frames(
            images=rng.integers(0, 256, (frames, 56, 112, 3), dtype=np.uint8),
            timestamps=np.arange(frames, dtype=float),
        )
        message = build_prompt(f"the red circle jumps {i}", clip, "timelens", "interleaved", frames)
        inputs = build_qwen_inputs(message, preset, "images")
        start = float(rng.integers(0, frames - 4))
        rows.append(
            {
                "prompt": [{"role": "user", "content": inputs.content}],
                "images": [Image.fromarray(a) for a in inputs.images],
                "gt": [[start, start + 3.5]],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (after 2 warm-up steps)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForImageTextToText

    from timelens_eval.rlvr.sft import VideoSFTCollator
    from timelens_eval.tiny_models import load_processor

    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    processor = load_processor(CHECKPOINT)
    model = AutoModelForImageTextToText.from_pretrained(CHECKPOINT, dtype=torch.float32).to(device)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    collator = VideoSFTCollator(processor)

    warmup = 2
    batches = []
    start = time.perf_counter()
    for k in range(warmup + args.steps):
        batches.append(collator(make_rows(args.batch, args.frames, seed=k)))
    collate_s = (time.perf_counter() - start) / len(batches)

    def step(batch: dict) -> float:
        on_device = {key: value.to(device) for key, value in batch.items()}
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        begin = time.perf_counter()
        loss = model(**on_device).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - begin

    for batch in batches[:warmup]:
        step(batch)
    times = [step(batch) for batch in batches[warmup:]]
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu"
    tokens = int(batches[0]["attention_mask"].sum()) / args.batch
    print(f"device: {name} (torch {torch.__version__}, {torch.get_num_threads()} CPU threads)")
    print(f"batch: {args.batch} samples x {args.frames} frames, {tokens:.0f} tokens per sample")
    print(f"rows + collation: {collate_s:.3f} s per batch (CPU)")
    print(
        f"SFT step (forward, backward, AdamW): median {statistics.median(times):.3f} s, "
        f"min {min(times):.3f} s over {len(times)} steps"
    )
    if device.startswith("cuda"):
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
