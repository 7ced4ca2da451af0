"""Measure the runner itself (not a model).

1. **Concurrency**: the ``mock`` adapter at a fixed latency L and concurrency C. The
   ideal throughput is C/L samples per second; the goal is at least 90% of it.
2. **Pipelining**: frame decoding (worker processes) and a model stage of similar
   cost. Each stage is timed alone, then together; the goal is a wall time within
   1.2x of the slower stage, rather than the sum of both.

Usage::

    python benchmarks/bench_runner.py            # full figures (about a minute)
    python benchmarks/bench_runner.py --quick    # a smoke run

Every run goes through the real runner: durable per-sample writes (fsync), parsing,
scoring and the result header (bootstrap off, so only the runner is measured).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from timelens_eval.adapters import build_adapter
from timelens_eval.benchmarks.base import Benchmark, Sample
from timelens_eval.runner import RunOptions, run_benchmark
from timelens_eval.spans import Span


def text_benchmark(n: int) -> Benchmark:
    """``n`` samples without videos."""
    samples = [
        Sample(f"b#{i}", f"v{i % 50}", f"query {i}", 60.0, (Span(10.0, 25.0),)) for i in range(n)
    ]
    return Benchmark("bench-text", samples, f"bench-text-{n}")


def video_benchmark(folder: Path, n: int, videos: int, seconds: float) -> Benchmark:
    """``n`` samples over ``videos`` rendered test videos of ``seconds`` each."""
    from timelens_eval.video.testing import write_indexed_video

    folder.mkdir(parents=True, exist_ok=True)
    for v in range(videos):
        path = folder / f"v{v}.mp4"
        if not path.exists():
            write_indexed_video(path, np.arange(0, seconds, 1 / 24), height=360, width=640)
    samples = [
        Sample(
            f"f#{i}",
            f"v{i % videos}",
            f"query {i}",
            seconds,
            (Span(2.0, 9.0),),
            video=f"v{i % videos}.mp4",
        )
        for i in range(n)
    ]
    return Benchmark("bench-video", samples, f"bench-video-{n}", video_root=str(folder))


def timed_run(adapter_args: str, bench: Benchmark, out: Path, **options: object) -> float:
    """Wall seconds of one fresh run."""
    adapter = build_adapter("mock", adapter_args)
    opts = RunOptions(output=out, fresh=True, bootstrap=0, **options)  # type: ignore[arg-type]
    started = time.perf_counter()
    outcome = run_benchmark(adapter, bench, opts, adapter_name="mock")
    seconds = time.perf_counter() - started
    assert outcome.result is not None and outcome.errors == 0, "benchmark run failed"
    return seconds


def asyncio_floor(latency: float, concurrency: int, n: int) -> float:
    """Efficiency of bare asyncio sleeps at this latency and concurrency: what the
    machine allows before any runner work (timer and scheduling delays)."""
    import asyncio

    async def main() -> float:
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with gate:
                await asyncio.sleep(latency)

        started = time.perf_counter()
        await asyncio.gather(*[one() for _ in range(n)])
        return n / (time.perf_counter() - started) / (concurrency / latency)

    return asyncio.run(main())


def concurrency_figures(tmp: Path, latency: float, levels: list[int], seconds: float) -> list[dict]:
    rows = []
    for c in levels:
        ideal = c / latency
        n = max(c * 2, int(ideal * seconds))
        wall = timed_run(f"latency={latency}", text_benchmark(n), tmp / f"c{c}.json", concurrency=c)
        rows.append(
            {
                "latency_s": latency,
                "concurrency": c,
                "samples": n,
                "wall_s": round(wall, 3),
                "throughput": round(n / wall, 1),
                "ideal": round(ideal, 1),
                "efficiency": round(n / wall / ideal, 3),
                "asyncio_floor": round(asyncio_floor(latency, c, n), 3),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def pipeline_figures(tmp: Path, n: int, workers: int, repeats: int) -> dict:
    """Decoding alone, a model stage of the same cost alone, then both; the three are
    interleaved ``repeats`` times and the medians reported (the CPU is shared)."""
    from statistics import median

    bench = video_benchmark(tmp / "videos", n, videos=4, seconds=20.0)
    opts = {"concurrency": 1, "decode_workers": workers}
    for _ in range(2):  # page cache, imports, CPU clocks
        timed_run("frames=true", bench, tmp / "warm.json", **opts)
    decode = [timed_run("frames=true", bench, tmp / "decode.json", **opts)]
    latency = decode[0] / n  # a serial model stage costing what decoding costs
    model: list[float] = []
    both: list[float] = []
    for k in range(repeats):
        if k:
            decode.append(timed_run("frames=true", bench, tmp / "decode.json", **opts))
        model.append(timed_run(f"latency={latency}", bench, tmp / "model.json", concurrency=1))
        both.append(timed_run(f"frames=true,latency={latency}", bench, tmp / "both.json", **opts))
    d, m, b = median(decode), median(model), median(both)
    row = {
        "samples": n,
        "decode_workers": workers,
        "repeats": repeats,
        "decode_only_s": round(d, 3),
        "model_only_s": round(m, 3),
        "model_latency_s": round(latency, 4),
        "together_s": round(b, 3),
        "sum_s": round(d + m, 3),
        "ratio_to_slower": round(b / max(d, m), 3),
        "overhead_s": round(b - max(d, m), 3),
        "runs_s": {"decode": decode, "model": model, "together": both},
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    grid = [(0.05, [1, 8, 32])] if args.quick else [(0.05, [1, 8, 32, 128]), (0.5, [64, 256])]
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        n = 2000 if not args.quick else 200
        wall = timed_run("latency=0", text_benchmark(n), tmp / "ceiling.json", concurrency=64)
        ceiling = n / wall
        print(json.dumps({"ceiling_samples_per_s": round(ceiling)}), flush=True)
        conc = []
        for latency, levels in grid:
            conc += concurrency_figures(tmp, latency, levels, 0.5 if args.quick else 3.0)
        pipe = pipeline_figures(
            tmp,
            8 if args.quick else 64,
            workers=os.cpu_count() or 1,
            repeats=1 if args.quick else 3,
        )
    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "ceiling_samples_per_s": round(ceiling),
        "load_average": os.getloadavg(),
        "concurrency": conc,
        "pipeline": pipe,
        "goals_met": {
            "throughput>=0.9*C/L": all(r["efficiency"] >= 0.9 for r in conc),
            "pipeline<=1.2*slower": pipe["ratio_to_slower"] <= 1.2,
        },
    }
    print(json.dumps(figures["goals_met"]))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
