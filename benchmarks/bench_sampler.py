"""Frame-sampling speed and memory: this sampler against peer decoders, same files, same run.

Samples 2 fps (native resolution) from

* ``../shared/data/videos/OHOFG.mp4`` (a real Charades-STA video, 640x360, 9.5 fps), and
* a 10-minute 854x480 25 fps H.264 video this script generates once with PyAV
  (libx264 defaults: keyframe every 250 frames, B-frames), cached in ``--workdir``,

with each method in its own subprocess (so peak memory is per method):

``timelens``        ``sample_frames(path, FrameSpec(fps=2))``
``timelens-budget`` the same with the TimeLens Qwen2.5-VL pixel budget (resized frames)
``decord``          ``VideoReader.get_batch`` on the frame indices on screen at each target
                    (what qwen-vl-utils' decord reader does)
``opencv``          ``VideoCapture.grab()`` through the video, ``retrieve()`` + BGR->RGB
                    only for needed frames (OpenCV's fastest sequential pattern)
``pyav-all``        PyAV decoding and converting every frame, keeping the needed ones
                    (what readers that decode the whole clip do)
``lower-bound``     "decode only the needed frames": the packets the needed frames depend
                    on (their keyframe onward, minus unreferenced frames) decoded with the
                    same threaded decoder, the plan computed before the clock starts

Peers are optional: ``pip install decord opencv-python-headless`` (not project
dependencies); missing ones are reported as skipped. Run from the repository root::

    python benchmarks/bench_sampler.py [--workdir /tmp/timelens-bench] [--repeats 3]
        [--long-repeats 2] [--methods timelens,decord,...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "videos" / "OHOFG.mp4"
METHODS = ["timelens", "timelens-budget", "decord", "opencv", "pyav-all", "lower-bound"]
FPS = 2.0


def make_long_video(path: Path, minutes: float = 10.0) -> Path:
    """A 854x480 25 fps H.264 video with moving texture (libx264 default GOP/B-frames)."""
    import av

    if path.exists():
        return path
    tmp = path.with_suffix(".tmp.mp4")
    w, h, rate = 854, 480, 25
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0 : h + 256, 0 : w + 512].astype(np.float32)
    texture = np.zeros((h + 256, w + 512, 3), dtype=np.float32)
    for c in range(3):  # smooth colour waves plus mild grain: a typical bitrate
        for _ in range(4):
            fy, fx, ph = rng.uniform(0.005, 0.05), rng.uniform(0.005, 0.05), rng.uniform(0, 6)
            texture[..., c] += 30 * np.sin(fy * yy + fx * xx + ph)
    texture += rng.normal(0, 12, texture.shape).astype(np.float32)
    texture = np.clip(texture + 128, 0, 255).astype(np.uint8)
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.options = {"preset": "veryfast", "crf": "23"}
        for i in range(int(minutes * 60 * rate)):
            dx, dy = (3 * i) % 512, (i // 2) % 256
            img = np.ascontiguousarray(texture[dy : dy + h, dx : dx + w])
            img[(i % h) : (i % h) + 20] = 255 - img[(i % h) : (i % h) + 20]
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode(None))
    tmp.rename(path)
    return path


def _frame_times(path: Path) -> tuple[np.ndarray, float]:
    """Sorted frame times (s) and duration, from PTS (demux only)."""
    from timelens_eval.video.sampler import _index, _open

    container = _open(path)
    try:
        index = _index(container, container.streams.video[0], path)
    finally:
        container.close()
    seconds = (index.sorted_pts() - index.origin) * index.time_base
    return seconds, index.duration()


def _needed_indices(path: Path) -> np.ndarray:
    from timelens_eval.video.sampler import target_times

    seconds, duration = _frame_times(path)
    targets = target_times(0.0, duration, FPS, None)
    return np.unique(np.searchsorted(seconds, targets + 1e-9, side="right") - 1)


def run_method(method: str, path: Path) -> int:
    """Sample ``path`` with ``method``; returns the number of frames produced."""
    if method == "timelens":
        from timelens_eval.video.sampler import sample_frames
        from timelens_eval.video.types import FrameSpec

        return len(sample_frames(path, FrameSpec(fps=FPS)))
    if method == "timelens-budget":
        from timelens_eval.video.budget import timelens_frame_spec
        from timelens_eval.video.sampler import sample_frames

        return len(sample_frames(path, timelens_frame_spec("qwen2.5-vl", fps=FPS)))
    if method == "decord":
        import decord

        vr = decord.VideoReader(str(path), num_threads=0)
        fps = vr.get_avg_fps()
        n = len(vr)
        idx = np.unique(np.minimum((np.arange(0, n / fps, 1 / FPS) * fps).astype(int), n - 1))
        return int(vr.get_batch(idx.tolist()).asnumpy().shape[0])
    if method == "opencv":
        import cv2

        cap = cv2.VideoCapture(str(path))
        fps = cap.get(cv2.CAP_PROP_FPS)
        kept, i, next_t = [], 0, 0.0
        while cap.grab():
            if i / fps + 1e-9 >= next_t:
                ok, bgr = cap.retrieve()
                if ok:
                    kept.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                next_t += 1 / FPS
            i += 1
        cap.release()
        return len(np.stack(kept))
    if method == "pyav-all":
        import av

        needed = set(_needed_indices(path).tolist())
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            kept = []
            for i, frame in enumerate(container.decode(stream)):
                rgb = frame.to_ndarray(format="rgb24")
                if i in needed:
                    kept.append(rgb)
        return len(np.stack(kept))
    raise ValueError(method)


def lower_bound(path: Path) -> tuple[int, float]:
    """Decode only the packets the needed frames depend on; returns (frames, seconds)."""
    import av

    from timelens_eval.video import sampler

    container = sampler._open(path)
    index = sampler._index(container, container.streams.video[0], path)
    container.close()
    times = index.sorted_pts()
    needed = {int(p) for p in times[_needed_indices(path)].tolist()}
    segments = sampler._plan(index, needed, times.size / index.duration())
    pts = index.pts.tolist()
    todo = [set() for _ in segments]
    for k, seg in enumerate(segments):
        todo[k] = {
            p
            for p, d in zip(
                pts[seg.first : seg.last + 1],
                index.disposable[seg.first : seg.last + 1].tolist(),
                strict=True,
            )
            if p in needed or not d
        }
    start = time.perf_counter()
    kept = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = min(8, os.cpu_count() or 1)
        cc = stream.codec_context
        for k, seg in enumerate(segments):
            if k:
                container.seek(pts[seg.first], stream=stream, backward=True)
                cc.flush_buffers()
            last = pts[seg.last]
            for packet in container.demux(stream):
                if packet.pts is None or packet.pts not in todo[k]:
                    continue
                for frame in cc.decode(packet):
                    if frame.pts in needed:
                        kept.append(frame.to_ndarray(format="rgb24"))
                if packet.pts == last:
                    break
            for frame in cc.decode(None):
                if frame.pts in needed:
                    kept.append(frame.to_ndarray(format="rgb24"))
    return len(kept), time.perf_counter() - start


def _peak_rss_kib() -> int:
    """Peak resident memory of this process (VmHWM; ru_maxrss would carry the parent's
    peak across fork+exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def worker(method: str, path: Path, repeats: int) -> dict:  # type: ignore[type-arg]
    """Runs in a subprocess: timings (best and median of ``repeats``) and peak RSS."""
    # Import what the method needs before the baseline reading.
    if method == "decord":
        import decord  # noqa: F401
    elif method == "opencv":
        import cv2  # noqa: F401
    import av  # noqa: F401

    import timelens_eval.video.sampler  # noqa: F401

    base = _peak_rss_kib()
    times, frames = [], 0
    for _ in range(repeats):
        if method == "lower-bound":
            frames, seconds = lower_bound(path)
        else:
            t0 = time.perf_counter()
            frames = run_method(method, path)
            seconds = time.perf_counter() - t0
        times.append(seconds)
    peak = _peak_rss_kib()
    return {
        "method": method,
        "frames": frames,
        "best_s": min(times),
        "median_s": float(np.median(times)),
        "peak_rss_mb": peak / 1024,
        "peak_over_imports_mb": (peak - base) / 1024,
    }


def available(method: str) -> bool:
    module = {"decord": "decord", "opencv": "cv2"}.get(method)
    if module is None:
        return True
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/timelens-bench"))
    parser.add_argument("--repeats", type=int, default=3, help="rounds on OHOFG.mp4")
    parser.add_argument("--long-repeats", type=int, default=2, help="rounds on the long video")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument(
        "--worker", nargs=3, metavar=("METHOD", "PATH", "REPEATS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        method, path, repeats = args.worker
        print(json.dumps(worker(method, Path(path), int(repeats))))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    long_video = make_long_video(args.workdir / f"long_{args.minutes:g}min_480p.mp4", args.minutes)
    print(f"# long video ready in {time.perf_counter() - t0:.1f} s: {long_video}")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    videos = [(REAL, args.repeats)] if REAL.exists() else []
    videos.append((long_video, args.long_repeats))
    methods = [m for m in args.methods.split(",") if available(m)]
    for path, rounds in videos:
        path.read_bytes()  # warm the page cache for every method alike
        # Rounds interleave the methods, so a burst of load on the shared machine does
        # not fall on one method only; each method's best round is reported.
        results: dict[str, list[dict]] = {m: [] for m in methods}  # type: ignore[type-arg]
        failed: dict[str, str] = {}
        for _ in range(rounds):
            for method in methods:
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", method, str(path), "1"],
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                    check=False,
                )
                if out.returncode != 0:
                    failed[method] = (out.stderr.strip().splitlines() or ["?"])[-1]
                    continue
                results[method].append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"\n## {path.name} (2 fps, native size unless noted; best of {rounds})\n")
        print(
            "| method | frames | best s | frames/s | x lower bound | peak RSS MB | "
            "RSS over imports MB |"
        )
        print("|---|---|---|---|---|---|---|")
        best = {m: min(r, key=lambda x: x["best_s"]) for m, r in results.items() if r}
        bound = best["lower-bound"]["best_s"] if "lower-bound" in best else None
        for method in args.methods.split(","):
            if method in failed:
                print(f"| {method} | failed: {failed[method]} | | | | | |")
            elif method not in best:
                print(f"| {method} | skipped (not installed) | | | | | |")
            else:
                r = best[method]
                peak = max(x["peak_rss_mb"] for x in results[method])
                over = max(x["peak_over_imports_mb"] for x in results[method])
                ratio = f"{r['best_s'] / bound:.2f}" if bound else "-"
                print(
                    f"| {method} | {r['frames']} | {r['best_s']:.3f} | "
                    f"{r['frames'] / r['best_s']:.1f} | {ratio} | {peak:.0f} | {over:.0f} |"
                )
        print(f"\n(load average after: {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
