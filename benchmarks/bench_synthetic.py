"""Time the synthetic benchmark's default test split and check that it is reproducible.

Generates the split ``--runs`` times into temporary folders (serially, then with
``--workers`` processes), prints wall and CPU time per run, frames rendered per second,
the split's size on disk, and whether every run wrote identical bytes.

Target: the default test split in well under a minute on 2 CPU cores.

    python benchmarks/bench_synthetic.py [--split test] [--videos N] [--runs 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from timelens_eval.synthetic.generate import generate_split
from timelens_eval.synthetic.plan import SplitConfig, plan_split


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--videos", type=int, default=None)
    parser.add_argument("--runs", type=int, default=2, help="serial runs (>= 2 to compare)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the last run")
    args = parser.parse_args()
    config = SplitConfig(split=args.split, seed=args.seed, videos=args.videos)

    started = time.perf_counter()
    plan = plan_split(config)
    planning = time.perf_counter() - started
    frames = sum(scene.num_frames for scene in plan.scenes)
    seconds = sum(scene.duration for scene in plan.scenes)
    print(
        f"split {config.split} seed {config.seed}: {len(plan.scenes)} videos, "
        f"{len(plan.samples)} samples, {seconds:.0f} s of video, {frames} frames; "
        f"planning {planning * 1000:.0f} ms; {os.cpu_count()} CPUs"
    )
    manifests = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = [1] * max(args.runs, 1) + ([args.workers] if args.workers > 1 else [])
        for index, workers in enumerate(runs):
            out = Path(tmp) / f"run{index}"
            cpu = _cpu_seconds()
            made = generate_split(config, out, workers=workers)
            cpu = _cpu_seconds() - cpu
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
            manifests.append((out / "manifest.json").read_bytes())
            print(
                f"run {index}: workers {workers}: {made.seconds:.1f} s wall, {cpu:.1f} s CPU, "
                f"{frames / made.seconds:.0f} frames/s, {size / 2**20:.1f} MiB"
            )
    same = all(m == manifests[0] for m in manifests)
    print("identical bytes across runs:", "yes" if same else "NO")


if __name__ == "__main__":
    main()
