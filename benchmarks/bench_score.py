"""Scoring speed: ``timelens-eval score`` vs TimeLens' ``evaluation/compute_metrics.py``.

Generates N TimeLens-format predictions (``video>>>query>>>[s, e]`` keys), then runs
both scorers on the same file, each in its own process, and reports wall time, peak
memory (max RSS of the child) and the four numbers of each.

    python benchmarks/bench_score.py --n 1000000 --timelens-repo /path/to/TimeLens

``--timelens-repo`` is a checkout of TencentARC/TimeLens (or a bare git dir, whose
``evaluation/`` and ``timelens/`` are exported to a temporary folder). Without it,
only ours is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_ANSWERS = (
    "The event happens in {a} - {b} seconds.",
    "From {a} to {b} seconds.",
    "It starts at {a}s and ends at {b}s.",
    "The moment is {ca} - {cb}.",
    "I could not find the event.",
)


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60):02d}:{int(seconds % 60):02d}"


def generate(path: Path, n: int, seed: int = 0, answers_only: float = 0.0) -> None:
    """Write ``n`` predictions shaped as TimeLens' inference script writes them.

    Each value holds ``timestamps`` (the spans parsed from the answer), the raw
    ``answers`` text and the ``duration``; about 2% of the answers hold no span.
    ``answers_only`` is the share of values without ``timestamps`` (parsed by both
    scorers), 0 by default as in TimeLens' own output.
    """
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("{")
        for i in range(n):
            vid = f"vid{i // 8:07d}.mp4"
            duration = round(rng.uniform(20, 200), 2)
            g0 = round(rng.uniform(0, duration * 0.8), 1)
            g1 = round(min(duration, g0 + rng.uniform(1, 30)), 1)
            p0 = round(max(0.0, g0 + rng.gauss(0, 5)), 1)
            p1 = round(p0 + rng.gauss(g1 - g0, 5), 1)
            key = f"{vid}>>>query number {i} about an event>>>[{g0}, {g1}]"
            k = rng.randrange(len(_ANSWERS)) if rng.random() < 0.1 else 0
            if rng.random() < 0.02:
                k = len(_ANSWERS) - 1
            text = _ANSWERS[k].format(a=p0, b=p1, ca=_clock(p0), cb=_clock(p1))
            stamps = [] if k == len(_ANSWERS) - 1 else [[p0, p1]]
            if k == 3:
                stamps = [[float(int(p0)), float(int(p1))]]
            if rng.random() < answers_only:
                value: dict = {"answers": text, "duration": duration}
            else:
                value = {"timestamps": stamps, "answers": text, "duration": duration}
            sep = "," if i else ""
            fh.write(f"{sep}{json.dumps(key)}: {json.dumps(value)}")
        fh.write("}\n")


def _run(cmd: list[str], cwd: str | None = None) -> tuple[float, float, float, str]:
    """Wall seconds, peak RSS (MiB), CPU seconds (user + system) and stdout of a child.

    The peak comes from a small wrapper process that runs the command and reads its
    own ``RUSAGE_CHILDREN`` (so each command's peak is measured alone).
    """
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)\n"
        "wall = time.perf_counter() - t\n"
        "sys.stdout.buffer.write(done.stdout)\n"
        "use = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "cpu = use.ru_utime + use.ru_stime\n"
        "print(f'@@ {wall} {use.ru_maxrss} {cpu} {done.returncode}', file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", wrapper, *cmd], cwd=cwd, capture_output=True, text=True
    )
    stats = [line for line in done.stderr.splitlines() if line.startswith("@@ ")]
    wall, peak_kib, cpu, code = stats[-1].split()[1:]
    if int(code) != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {done.stderr[-2000:]}")
    return float(wall), float(peak_kib) / 1024.0, float(cpu), done.stdout


def _timelens_numbers(stdout: str) -> dict[str, float]:
    names = {"IOU 0.3": "R1@0.3", "IOU 0.5": "R1@0.5", "IOU 0.7": "R1@0.7", "mIOU": "mIoU"}
    out = {}
    for line in stdout.splitlines():
        found = re.match(r"^(IOU 0\.[357]|mIOU): (\S+)$", line)
        if found:
            out[names[found.group(1)]] = float(found.group(2))
    return out


def _export_timelens(repo: Path, dest: Path) -> Path:
    if (repo / "evaluation" / "compute_metrics.py").is_file():
        return repo
    archive = subprocess.run(
        ["git", f"--git-dir={repo}", "archive", "HEAD", "evaluation", "timelens"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def main() -> None:
    """Generate, time both scorers, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--timelens-repo", type=Path, default=os.environ.get("TIMELENS_REPO"))
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--keep", type=Path, default=None, help="write the file here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "preds.json"
        start = time.perf_counter()
        generate(path, args.n)
        print(
            f"generated {args.n:,} predictions in {time.perf_counter() - start:.1f} s "
            f"({path.stat().st_size / 2**20:.0f} MiB)",
            file=sys.stderr,
        )

        load = os.getloadavg()[0]
        rows = []
        for bootstrap in sorted({0, args.bootstrap}):
            cmd = [
                sys.executable,
                "-m",
                "timelens_eval",
                "score",
                str(path),
                "--json",
                "--bootstrap",
                str(bootstrap),
            ]
            wall, peak, cpu, stdout = _run(cmd)
            result = json.loads(stdout)
            ours = {k: result[k] for k in ("R1@0.3", "R1@0.5", "R1@0.7", "mIoU")}
            rows.append((f"timelens-eval score (bootstrap={bootstrap})", wall, cpu, peak, ours))

        if args.timelens_repo is not None:
            code = _export_timelens(Path(args.timelens_repo), Path(tmp))
            cmd = [sys.executable, "evaluation/compute_metrics.py", "-f", str(path)]
            env_path = os.environ.get("PYTHONPATH", "")
            os.environ["PYTHONPATH"] = f"{code}{os.pathsep}{env_path}" if env_path else str(code)
            wall, peak, cpu, stdout = _run(cmd, cwd=str(code))
            rows.append(("TimeLens compute_metrics.py", wall, cpu, peak, _timelens_numbers(stdout)))

    keys = ("R1@0.3", "R1@0.5", "R1@0.7", "mIoU")
    ref = rows[-1] if args.timelens_repo is not None else None
    print(f"\n{args.n:,} predictions; load average before: {load:.1f}\n")
    print(
        "| scorer | wall (s) | CPU (s) | peak RSS (MiB) | R1@0.3 | R1@0.5 | R1@0.7 | mIoU "
        "| speed-up wall / CPU |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, wall, cpu, peak, nums in rows:
        cells = " | ".join(f"{nums[k]:.6f}" for k in keys)
        speed = f"{ref[1] / wall:.1f}x / {ref[2] / cpu:.1f}x" if ref is not None else "-"
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {peak:.0f} | {cells} | {speed} |")
    if ref is not None:
        same = all(abs(r[4][k] - ref[4][k]) <= 1e-6 for r in rows for k in keys)
        print(f"\nidentical to TimeLens (1e-6): {same}")


if __name__ == "__main__":
    main()
