"""Where each benchmark's files come from.

The refined benchmarks (TimeLens-Bench) and TimeLens-100K are dataset repositories on
the Hugging Face Hub: an annotation file at the top and the videos in
``video_shards/**/*.tar.gz``. The original benchmarks' videos are not on the Hub; for
them :func:`manual_steps` says where to get each file and where it goes.

Local places come from the benchmark registry (``default_annotations``,
``default_videos``), resolved under the data folder, so a download lands exactly where
``run`` looks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from timelens_eval.benchmarks.base import BenchmarkSpec, get_benchmark_spec

__all__ = [
    "HubSource",
    "HUB_SOURCES",
    "hub_source",
    "local_path",
    "manual_steps",
    "fetch_hint",
]


@dataclass(frozen=True)
class HubSource:
    """A benchmark held in a Hugging Face Hub dataset repository."""

    repo_id: str
    """``owner/name`` of the dataset repository."""
    folder: str
    """The local folder the repository maps to (``data/...``)."""
    shard_group: str | None
    """The benchmark's shards: ``video_shards/<group>/...`` or ``video_shards/<group>*``;
    None takes every shard of the repository."""

    def repo_path(self, local: str) -> str:
        """The repository path of a file whose local place is ``local`` (``data/...``)."""
        return PurePosixPath(local).relative_to(self.folder).as_posix()

    def shards(self, files: list[str]) -> list[str]:
        """The repository's ``.tar.gz`` video shards that belong to this benchmark."""
        out = []
        for name in files:
            path = PurePosixPath(name)
            if path.parts[:1] != ("video_shards",) or not name.endswith((".tar.gz", ".tgz")):
                continue
            below = path.relative_to("video_shards")
            if self.shard_group is None or below.parts[0] == self.shard_group:
                out.append(name)
            elif len(below.parts) == 1 and below.name.startswith(self.shard_group):
                out.append(name)
        return sorted(out)


_BENCH = "TencentARC/TimeLens-Bench"

HUB_SOURCES: dict[str, HubSource] = {
    "charades-timelens": HubSource(_BENCH, "data/TimeLens-Bench", "charades"),
    "activitynet-timelens": HubSource(_BENCH, "data/TimeLens-Bench", "activitynet"),
    "qvhighlights-timelens": HubSource(_BENCH, "data/TimeLens-Bench", "qvhighlights"),
    "timelens-100k": HubSource("TencentARC/TimeLens-100K", "data/TimeLens-100K", None),
}


def hub_source(name: str) -> HubSource | None:
    """The Hub repository holding benchmark ``name``, or None."""
    return HUB_SOURCES.get(name)


def local_path(default: str, root: Path) -> Path:
    """A registry path ``data/...`` placed under ``root`` instead of the data folder."""
    path = PurePosixPath(default)
    parts = path.parts[1:] if path.parts[:1] == ("data",) else path.parts
    return root.joinpath(*parts)


def _charades(spec: BenchmarkSpec, root: Path) -> list[str]:
    ann = local_path(spec.default_annotations or "", root)
    videos = local_path(spec.default_videos or "", root)
    return [
        f"annotations: charades_sta_test.txt (Charades-STA, https://github.com/jiyanggao/TALL; "
        "a copy is in https://github.com/microsoft/VideoX, folder 2D-TAN/data/Charades-STA) "
        f"-> {ann}",
        "durations: Charades_v1_test.csv from Charades.zip "
        f"(https://prior.allenai.org/projects/charades) -> {ann.parent / 'Charades_v1_test.csv'}",
        "videos: Charades_v1_480.zip (13 GB, https://prior.allenai.org/projects/charades); "
        f"unzip it and rename its folder Charades_v1_480 to {videos} "
        f"(files {videos}/<id>.mp4, e.g. 3MSZA.mp4)",
    ]


def _activitynet(spec: BenchmarkSpec, root: Path) -> list[str]:
    ann = local_path(spec.default_annotations or "", root)
    videos = local_path(spec.default_videos or "", root)
    return [
        "annotations: val_2.json from captions.zip "
        f"(https://cs.stanford.edu/people/ranjaykrishna/densevid/) -> {ann}",
        "videos: the ActivityNet videos, which its maintainers share on request "
        f"(http://activity-net.org/download.html) -> {videos}/v_<id>.mp4 (e.g. v_uqiMw7tQ1Cc.mp4; "
        "convert other containers to MP4)",
    ]


def _qvhighlights(spec: BenchmarkSpec, root: Path) -> list[str]:
    ann = local_path(spec.default_annotations or "", root)
    videos = local_path(spec.default_videos or "", root)
    return [
        "annotations: data/highlight_val_release.jsonl of "
        f"https://github.com/jayleicn/moment_detr -> {ann}",
        "videos: https://nlp.cs.unc.edu/data/jielei/qvh/qvhilights_videos.tar.gz (linked from "
        f"moment_detr's data/README.md); unpack it and put the <vid>.mp4 files in {videos} "
        "(e.g. NUsG9BgSes0_210.0_360.0.mp4)",
    ]


def _tacos(spec: BenchmarkSpec, root: Path) -> list[str]:
    ann = local_path(spec.default_annotations or "", root)
    videos = local_path(spec.default_videos or "", root)
    return [
        "annotations: test.json of https://github.com/microsoft/VideoX "
        f"(folder 2D-TAN/data/TACoS) -> {ann}",
        "videos: the MPII Cooking Composite Activities videos linked from the TACoS page "
        "(https://www.mpi-inf.mpg.de/departments/computer-vision-and-machine-learning/"
        f"research/vision-and-language/tacos-multi-level-corpus) -> {videos}/<name>.avi "
        "(e.g. s30-d52.avi)",
    ]


_MANUAL = {
    "charades-sta": _charades,
    "activitynet-captions": _activitynet,
    "qvhighlights": _qvhighlights,
    "tacos": _tacos,
}


def manual_steps(name: str, root: Path) -> list[str] | None:
    """Where to get each file of benchmark ``name`` by hand and where it goes, or None."""
    make = _MANUAL.get(name)
    if make is None:
        return None
    return make(get_benchmark_spec(name), root)


def fetch_hint(name: str) -> str:
    """One clause telling how to get benchmark ``name``'s files ("" when generated)."""
    if name in HUB_SOURCES:
        return f"run `timelens-eval data download {name}`"
    if name in _MANUAL:
        return f"see `timelens-eval data download {name}` for where to get them"
    return ""
