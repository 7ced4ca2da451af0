"""Scoring speed: ``timelens-eval score`` vs TimeLens' ``evaluation/compute_metrics.py``.

Writes N TimeLens-format predictions (``video>>>query>>>[s, e]`` keys) in one or both of
two shapes, then runs both scorers on the same file, each in its own process, and
reports wall time, CPU time, peak memory (max RSS of the child) and the four numbers:

* ``raw``: answers as models write them (clock times, ranges, prose, JSON, refusals,
  a little non-ASCII text), about 10 % with parsed ``timestamps``, one video per
  prediction. Both scorers parse the other 90 %.
* ``parsed``: TimeLens' own inference output (``timestamps`` already parsed for every
  answer, 8 queries per video).

    python benchmarks/bench_score.py --n 1000000 --timelens-repo /path/to/TimeLens

``--timelens-repo`` is a checkout of TencentARC/TimeLens or a bare git dir of it: only
``evaluation/compute_metrics.py`` and ``timelens/utils.py`` are copied (from the
revision ``--timelens-rev``, default ``main``, for a bare dir) into a temporary folder
and run there with the same interpreter. Without it, only ours is timed. Ours runs as
``python -m timelens_eval score FILE --format timelens --json`` with its defaults
(confidence intervals on), from the environment this script runs in.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

KEYS = ("R1@0.3", "R1@0.5", "R1@0.7", "mIoU")

_ANSWERS = (
    "The event happens in {a} - {b} seconds.",
    "From {a} to {b} seconds.",
    "It starts at {a}s and ends at {b}s.",
    "The moment is {ca} - {cb}.",
    "I could not find the event.",
)

# Answer shapes real VTG models write, with relative weights. Fields: {a} {b} seconds with
# one decimal, {ia} {ib} whole seconds, {ca} {cb} MM:SS, {ha} {hb} HH:MM:SS, {fa} {fb}
# M:SS.f, {c} {d} a second span, {verb} an action.
RAW_SHAPES: tuple[tuple[int, str], ...] = (
    (28, "The event happens in {a} - {b} seconds."),  # TimeLens / Qwen2.5-VL prompt
    (8, "The given query happens in {a} - {b} seconds."),  # TimeChat
    (7, "The event occurs from {ca} to {cb}."),  # GPT / Gemini clock times
    (3, "{ha} - {hb}"),
    (2, "The event occurs between {fa} and {fb}."),
    (
        7,
        "<think>The person {verb} early on, then the scene changes.</think>"
        "<answer>{a} to {b}</answer>",
    ),  # R1-style reasoning models
    (5, "From {ia} to {ib} seconds."),
    (5, "The event happens from {a} seconds to {b} seconds."),
    (4, "Starting time: {a} seconds. Ending time: {b} seconds."),
    (3, "The start time for this event is {ia} seconds, and the end time is {ib} seconds."),
    (3, '{{"start": {a}, "end": {b}}}'),
    (3, "[{a}, {b}]"),
    (2, "It happens in {a} - {b} seconds and again in {c} - {d} seconds."),
    (2, "Start: {a}s, End: {b}s"),
    (
        4,
        "First, the video shows a room. The person {verb} at around {a} seconds and keeps "
        "going until about {b} seconds, after which the camera pans away.",
    ),
    (1, "{b} - {a}"),  # reversed
    (1, "Around {a} seconds."),  # a lone number: no span
    (1, "事件发生在 {a} - {b} 秒。"),
    (1, "L'événement se produit de {a} à {b} secondes."),
    (3, "I'm sorry, I cannot determine when this happens in the video."),
    (2, "The person never {verb} in this video."),
)
_VERBS = ("opens the door", "picks up a cup", "sits down", "turns on the light", "laughs")


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60):02d}:{int(seconds % 60):02d}"


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _fraction_clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


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


def raw_answer(rng: random.Random, p0: float, p1: float) -> str:
    """One answer in a shape drawn from :data:`RAW_SHAPES` for the predicted span."""
    template = rng.choices([t for _, t in RAW_SHAPES], weights=[w for w, _ in RAW_SHAPES])[0]
    c = round(p1 + rng.uniform(5, 30), 1)
    return template.format(
        a=p0,
        b=p1,
        ia=int(p0),
        ib=int(p1),
        ca=_clock(p0),
        cb=_clock(p1),
        ha=_hms(p0),
        hb=_hms(p1),
        fa=_fraction_clock(p0),
        fb=_fraction_clock(p1),
        c=c,
        d=round(c + rng.uniform(1, 10), 1),
        verb=rng.choice(_VERBS),
    )


def generate_raw(path: Path, n: int, seed: int = 0, parsed_share: float = 0.1) -> None:
    """Write ``n`` predictions whose answers are mostly raw model text, one video each.

    A share ``parsed_share`` of the values carry ``timestamps`` (and the answer and the
    video's duration) as TimeLens' inference script writes them; the rest hold only
    ``answers``, drawn from :data:`RAW_SHAPES`.
    """
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("{")
        for i in range(n):
            duration = round(rng.uniform(20, 200), 2)
            g0 = round(rng.uniform(0, duration * 0.8), 1)
            g1 = round(min(duration, g0 + rng.uniform(1, 30)), 1)
            p0 = round(max(0.0, g0 + rng.gauss(0, 5)), 1)
            p1 = round(max(p0 + 0.5, p0 + rng.gauss(g1 - g0, 5)), 1)
            key = f"v_{i:08d}.mp4>>>a person {rng.choice(_VERBS)} in the room>>>[{g0}, {g1}]"
            if rng.random() < parsed_share:
                text = f"The event happens in {p0} - {p1} seconds."
                value: dict = {"timestamps": [[p0, p1]], "answers": text, "duration": duration}
            else:
                value = {"answers": raw_answer(rng, p0, p1)}
            sep = "," if i else ""
            fh.write(f"{sep}{json.dumps(key, ensure_ascii=False)}: ")
            fh.write(json.dumps(value, ensure_ascii=False))
        fh.write("}\n")


def _run(
    cmd: list[str], cwd: str | None = None, env: dict[str, str] | None = None
) -> tuple[float, float, float, str]:
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
        [sys.executable, "-c", wrapper, *cmd], cwd=cwd, env=env, capture_output=True, text=True
    )
    stats = [line for line in done.stderr.splitlines() if line.startswith("@@ ")]
    if not stats:
        raise RuntimeError(f"{cmd[:3]} did not run: {done.stderr[-2000:]}")
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


_TIMELENS_FILES = ("evaluation/compute_metrics.py", "timelens/utils.py")


def export_timelens(repo: Path, dest: Path, rev: str = "main") -> Path:
    """Copy TimeLens' scoring script and the one module it imports into ``dest``.

    ``timelens/`` gets no ``__init__.py`` (it would import the training code): Python
    reads it as a namespace package, and ``compute_metrics.py`` needs only ``utils``.
    """
    for name in _TIMELENS_FILES:
        if (repo / name).is_file():
            text = (repo / name).read_bytes()
        else:
            text = subprocess.run(
                ["git", f"--git-dir={repo}", "show", f"{rev}:{name}"],
                capture_output=True,
                check=True,
            ).stdout
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(text)
    return dest


def _ours(path: Path) -> tuple[str, float, float, float, dict[str, float], str]:
    cmd = [sys.executable, "-m", "timelens_eval", "score", str(path), "--format", "timelens"]
    wall, peak, cpu, stdout = _run([*cmd, "--json"])
    result = json.loads(stdout)
    nums = {k: result[k] for k in KEYS}
    cis = [result["ci"][k] for k in KEYS]
    ci = "none" if any(c is None for c in cis) else result["ci_method"]
    return "timelens-eval score --json", wall, cpu, peak, nums, ci


def _timelens(code: Path, path: Path) -> tuple[str, float, float, float, dict[str, float], str]:
    cmd = [sys.executable, "evaluation/compute_metrics.py", "-f", str(path)]
    env = {**os.environ, "PYTHONPATH": str(code)}
    wall, peak, cpu, stdout = _run(cmd, cwd=str(code), env=env)
    return "TimeLens compute_metrics.py", wall, cpu, peak, _timelens_numbers(stdout), "none"


def _installed() -> str:
    names = ("numpy", "msgspec", "pydantic", "torch", "scipy")
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} absent")
    from timelens_eval.predictions_columns._bytes import COMPILED_ENV, _scanner

    if _scanner() is not None:
        found.append("compiled scanner on")
    else:
        why = (
            f"{COMPILED_ENV}=0" if os.environ.get(COMPILED_ENV, "").strip() == "0" else "not built"
        )
        found.append(f"compiled scanner off ({why})")
    return ", ".join(found)


def _median_row(rows: list[tuple]) -> tuple:
    """One scorer's row with the median wall, CPU and peak over the rounds."""
    name, _, _, _, nums, ci = rows[0]
    med = [statistics.median(r[i] for r in rows) for i in (1, 2, 3)]
    return name, med[0], med[1], med[2], nums, ci


def bench(
    corpus: str,
    n: int,
    tmp: Path,
    code: Path | None,
    keep: Path | None,
    repeat: int = 1,
    stages: bool = False,
) -> None:
    """Generate one corpus, time both scorers on it ``repeat`` times, print a Markdown table."""
    path = (keep / f"{corpus}.json") if keep else tmp / f"{corpus}.json"
    start = time.perf_counter()
    (generate_raw if corpus == "raw" else generate)(path, n)
    size = path.stat().st_size / 2**20
    took = time.perf_counter() - start
    print(f"\n### {corpus}: {n:,} predictions ({size:.0f} MiB, written in {took:.1f} s)\n")
    print(f"load average before: {os.getloadavg()[0]:.1f}; {_installed()}\n")
    runs = []
    for _ in range(repeat):  # both scorers back to back, each round
        runs.append([_ours(path)] + ([_timelens(code, path)] if code is not None else []))
    rows = [_median_row([r[i] for r in runs]) for i in range(len(runs[0]))]
    ref = rows[-1] if code is not None else None
    if repeat > 1:
        said = f"{repeat} rounds, medians"
        if code is not None:
            ratios = [r[1][1] / r[0][1] for r in runs]
            said += "; wall speed-up per round: " + ", ".join(f"{x:.1f}x" for x in ratios)
        print(said + "\n")
    print(
        "| scorer | wall (s) | CPU (s) | peak RSS (MiB) | R1@0.3 | R1@0.5 | R1@0.7 | mIoU | CI "
        "| speed-up wall / CPU |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for name, wall, cpu, peak, nums, ci in rows:
        cells = " | ".join(f"{nums[k]:.6f}" for k in KEYS)
        speed = f"{ref[1] / wall:.1f}x / {ref[2] / cpu:.1f}x" if ref is not None else "-"
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {peak:.0f} | {cells} | {ci} | {speed} |")
    if ref is not None:
        same = all(abs(r[4][k] - ref[4][k]) <= 1e-6 for r in rows for k in KEYS)
        print(f"\nidentical to TimeLens (1e-6): {same}")
    sys.stdout.flush()
    if stages:  # in a process of its own, so that its imports are counted
        subprocess.run([sys.executable, __file__, "--stages-of", str(path)], check=True)


def stage_times(path: Path) -> None:
    """Wall seconds of each stage of ``score``'s reading and scoring of a plain file, in
    this process (one process: how ``score`` reads a file with the compiled scanner)."""
    marks: list[tuple[str, float]] = []
    last = time.perf_counter()

    def mark(what: str) -> None:
        nonlocal last
        now = time.perf_counter()
        marks.append((what, now - last))
        last = now

    import numpy as np

    from timelens_eval.json_limits import read_limits, read_regular_file
    from timelens_eval.predictions_columns import _columns, _is_json_object
    from timelens_eval.predictions_columns._bytes import _ends, _join, _read_piece, _scanner
    from timelens_eval.scoring import score_timelens_columns

    mark("imports (numpy, msgspec, the package)")
    raw = read_regular_file(path, read_limits().file_bytes, what="the file", env="")
    mark("reading the file")
    assert _is_json_object(raw)
    mark("msgspec checking the JSON")
    buf = np.frombuffer(raw, dtype=np.uint8)
    lo, hi = _ends(buf)
    piece = _read_piece(raw, buf, lo, hi)
    assert piece is not None
    mark("the entries: keys, GT, first spans, durations")
    part = _join(raw, buf, [piece])
    assert part is not None
    mark("numbering the videos, checking the keys")
    result = score_timelens_columns(_columns(str(path), part))
    json.dumps({k: m.value for k, m in result.summary.metrics.items()})
    mark("IoUs, statuses, the intervals")
    scanner = "on" if _scanner() is not None else "off"
    print(f"\n#### stages of {path.name} (compiled scanner {scanner})\n")
    print("| stage | wall (s) |\n|---|---:|")
    for what, took in marks:
        print(f"| {what} | {took:.3f} |")
    print(f"| total after the interpreter's start | {sum(t for _, t in marks):.3f} |")


def parser_costs(n: int, code: Path | None) -> None:
    """CPU microseconds per answer of each parser on ``n`` raw answers (one process)."""
    import gc
    import importlib.util

    from timelens_eval.parsing import first_span, parse_spans
    from timelens_eval.parsing_batch import first_spans

    rng = random.Random(0)
    answers = [
        raw_answer(rng, round(rng.uniform(0, 90), 1), round(rng.uniform(0, 120), 1))
        for _ in range(n)
    ]
    parsers = {"parse_spans (every span)": parse_spans, "first_span": first_span}
    if code is not None:
        spec = importlib.util.spec_from_file_location("tl_utils", code / "timelens" / "utils.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        parsers = {"TimeLens extract_time": module.extract_time, **parsers}
    gc.disable()
    print(f"\n### parsers: {n:,} raw answers, load average {os.getloadavg()[0]:.1f}\n")
    print("| parser | CPU per answer (us) |\n|---|---:|")
    for name, parse in parsers.items():
        start = time.process_time()
        for answer in answers:
            parse(answer)
        print(f"| {name} | {(time.process_time() - start) / n * 1e6:.2f} |")
    start = time.process_time()
    first_spans(answers)
    print(f"| first_spans (all at once) | {(time.process_time() - start) / n * 1e6:.2f} |")
    try:
        from timelens_eval.predictions_columns._cscan import first_span as compiled
    except ImportError:
        print("| compiled first_span | not built |")
    else:
        ascii_answers = [a.encode() for a in answers if a.isascii()]
        start = time.process_time()
        for answer in ascii_answers:
            compiled(answer)
        cost = (time.process_time() - start) / len(ascii_answers) * 1e6
        print(
            f"| compiled first_span (the {len(ascii_answers):,} ASCII answers, one call each) "
            f"| {cost:.2f} |"
        )
    gc.enable()


def main() -> None:
    """Parse the arguments and benchmark each corpus."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument(
        "--corpus", choices=("raw", "parsed"), action="append", help="default: both"
    )
    parser.add_argument(
        "--timelens-repo", type=Path, default=os.environ.get("TIMELENS_REPO") or None
    )
    parser.add_argument("--timelens-rev", default="main", help="revision of a bare git dir")
    parser.add_argument("--keep", type=Path, default=None, help="write the files in this folder")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of both scorers (medians)")
    parser.add_argument(
        "--parsers", type=int, default=0, help="also time each parser on this many answers"
    )
    parser.add_argument(
        "--stages", action="store_true", help="also time each stage of score on each corpus"
    )
    parser.add_argument("--stages-of", type=Path, help="only time each stage of score on FILE")
    args = parser.parse_args()
    if args.stages_of is not None:
        stage_times(args.stages_of)
        return
    with tempfile.TemporaryDirectory() as tmp:
        code = None
        if args.timelens_repo is not None:
            code = export_timelens(Path(args.timelens_repo), Path(tmp), args.timelens_rev)
        if args.parsers:
            parser_costs(args.parsers, code)
        for corpus in args.corpus or ("raw", "parsed"):
            bench(corpus, args.n, Path(tmp), code, args.keep, args.repeat, args.stages)


if __name__ == "__main__":
    main()
