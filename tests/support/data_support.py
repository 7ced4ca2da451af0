"""A small TimeLens-Bench-shaped dataset repository built from synthetic videos (no tests here).

Like the real ``TencentARC/TimeLens-Bench``: ``charades-timelens.json`` (and an
ActivityNet one) at the top, ``{vid: {duration, spans, queries}}``; the videos in
``video_shards/<group>/<group>_shard_NN.tar.gz`` whose members are ``<group>/<vid>.mp4``.
The videos are real H.264 files from the project's synthetic generator.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path

from hub_standin import HubRepo

from timelens_eval.synthetic.annotations import read_annotations
from timelens_eval.synthetic.generate import generate_split
from timelens_eval.synthetic.loader import samples_from_document
from timelens_eval.synthetic.plan import SplitConfig
from timelens_eval.synthetic.scenes import SceneConfig

__all__ = ["BenchFiles", "build_bench_repo", "tar_gz", "run_cli", "hub_env"]

REPO_ID = "TencentARC/TimeLens-Bench"


def tar_gz(members: Sequence[tuple[str, bytes]]) -> bytes:
    """A ``.tar.gz`` holding ``(name, data)`` regular files."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class BenchFiles:
    """The repository's files and what a correct download must produce."""

    def __init__(self, files: dict[str, bytes], videos: dict[str, bytes], queries: int) -> None:
        self.files = files
        self.videos = videos
        """``<vid>.mp4`` -> bytes, for the Charades part."""
        self.queries = queries
        self.repo = HubRepo(REPO_ID, files)


def build_bench_repo(work: Path, *, videos: int = 4, seed: int = 11) -> BenchFiles:
    """Render ``videos`` synthetic videos and pack them as a TimeLens-Bench repository."""
    config = SplitConfig(
        split="test",
        seed=seed,
        videos=videos + 1,
        scene=SceneConfig(min_duration=8, max_duration=10),
    )
    made = generate_split(config, work / "synth", variants=("refined",))
    samples = samples_from_document(read_annotations(made.annotations["refined"]))
    folder = made.root / "videos"
    records: dict[str, dict] = {}
    for sample in samples:
        record = records.setdefault(
            sample.video_id, {"duration": sample.duration, "spans": [], "queries": []}
        )
        record["spans"].append(list(sample.gt[0]))
        record["queries"].append(sample.query + ".")
    vids = list(records)
    charades, activitynet = vids[:videos], vids[videos:]
    data = {v: (folder / f"{v}.mp4").read_bytes() for v in vids}
    half = (len(charades) + 1) // 2
    files = {
        "README.md": b"# TimeLens-Bench (test copy)\n",
        "charades-timelens.json": json.dumps({v: records[v] for v in charades}).encode(),
        "activitynet-timelens.json": json.dumps({v: records[v] for v in activitynet}).encode(),
        "video_shards/charades/charades_shard_01.tar.gz": tar_gz(
            [(f"charades/{v}.mp4", data[v]) for v in charades[:half]]
        ),
        "video_shards/charades/charades_shard_02.tar.gz": tar_gz(
            [(f"charades/{v}.mp4", data[v]) for v in charades[half:]]
        ),
        "video_shards/activitynet/activitynet_shard_01.tar.gz": tar_gz(
            [(f"activitynet/{v}.mp4", data[v]) for v in activitynet]
        ),
    }
    queries = sum(len(records[v]["queries"]) for v in charades)
    return BenchFiles(files, {f"{v}.mp4": data[v] for v in charades}, queries)


def hub_env(url: str, home: Path, **extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess talking to the stand-in at ``url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(
        HF_ENDPOINT=url,
        HF_HOME=str(home / "hf"),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        TIMELENS_EVAL_CACHE=str(home / "cache"),
        **extra,
    )
    env.pop("TIMELENS_EVAL_DATA", None)
    return env


def run_cli(
    args: Sequence[str], cwd: Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``timelens-eval ARGS`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "timelens_eval", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
