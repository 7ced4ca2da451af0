"""Build the leaderboard site for many models and record time and size.

Writes 200 models x 8 benchmarks of result headers (with CIs, no per-sample files) into
a temporary folder, builds the site and prints the build time, the index page's size,
the shared asset files' size and the whole site's size.

Targets: build < 5 s; index page < 1 MB plus one shared chart/script file.

    python benchmarks/bench_leaderboard.py [--models 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

# One set of Chromium launch flags for the browser tests and this benchmark.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from browser_support import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

from timelens_eval.leaderboard import BuildOptions, build_site
from timelens_eval.store import MetricsSummary, MetricValue, RunResult, RunSpec, write_result

BENCHMARKS = [
    ("charades-sta", "original"),
    ("charades-timelens", "refined"),
    ("activitynet-captions", "original"),
    ("activitynet-timelens", "refined"),
    ("qvhighlights", "original"),
    ("qvhighlights-timelens", "refined"),
    ("tacos", None),
    ("synthetic-refined", "refined"),
]
TYPES = ("open", "proprietary", "baseline")


def write_results(folder: Path, n_models: int, seed: int = 0) -> int:
    """Write ``n_models x len(BENCHMARKS)`` headers; returns how many."""
    rng = np.random.default_rng(seed)
    count = 0
    for i in range(n_models):
        model = f"Model-{i:03d}-{rng.integers(1, 80)}B"
        kind = TYPES[i % 3]
        skill = rng.uniform(20, 60)
        for bench, variant in BENCHMARKS:
            metrics = {}
            for name, scale in (("R1@0.3", 1.4), ("R1@0.5", 1.0), ("R1@0.7", 0.55), ("mIoU", 0.9)):
                value = float(np.clip(skill * scale + rng.normal(0, 4), 0, 100))
                metrics[name] = MetricValue(
                    value=round(value, 2),
                    ci_low=round(max(value - 1.6, 0), 2),
                    ci_high=round(min(value + 1.6, 100), 2),
                )
            result = RunResult(
                kind="reproduced" if i % 2 else "reported",
                source=None if i % 2 else "synthetic benchmark source",
                spec=RunSpec(
                    model=model,
                    model_type=kind,
                    adapter="mock",
                    benchmark=bench,
                    variant=variant,
                    benchmark_hash="0" * 64,
                    created=datetime(2026, 1, 1, tzinfo=timezone.utc),
                ),
                summary=MetricsSummary(
                    n=3720, metrics=metrics, parse_failures=int(rng.integers(0, 50))
                ),
            )
            write_result(result, folder / f"m{i:03d}.{bench}.json")
            count += 1
    return count


def render_seconds(index: Path) -> float:
    """Seconds until headless Chromium has rendered every table of ``index``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        start = time.perf_counter()
        page.goto(index.as_uri())
        page.wait_for_selector("#group-synthetic table")
        seconds = time.perf_counter() - start
        browser.close()
    if errors:
        raise RuntimeError(f"page errors: {errors}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--browser",
        action="store_true",
        help="Also time rendering index.html in /usr/bin/chromium.",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results"
        n = write_results(results, args.models)
        times = []
        for k in range(args.repeat):
            start = time.perf_counter()
            summary = build_site(BuildOptions(results=[results], out=Path(tmp) / f"site{k}"))
            times.append(time.perf_counter() - start)
        assets = sorted((summary.out / "assets").iterdir())
        print(f"results: {n} headers ({args.models} models x {len(BENCHMARKS)} benchmarks)")
        print(
            f"build time: median {statistics.median(times):.2f} s, "
            f"min {min(times):.2f} s over {args.repeat} builds"
        )
        print(f"pages: {summary.pages}")
        print(f"index.html: {summary.index_bytes / 1024:.0f} KiB")
        for a in assets:
            print(f"assets/{a.name}: {a.stat().st_size / 1024:.1f} KiB")
        print(f"site total: {summary.total_bytes / 1024 / 1024:.2f} MiB")
        if args.browser:
            print(f"index render in chromium: {render_seconds(summary.out / 'index.html'):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
