"""Content hashes of the official annotation files, per registered benchmark.

``leaderboard validate`` accepts a result's ``spec.benchmark_hash`` when it is listed
here or equals the hash of the benchmark loaded from an annotation file available to
the validator (``--annotations NAME=FILE`` or the registry's default location). The
hashes are what the benchmark loaders record as ``Benchmark.content_hash``: SHA-256
over the annotation file bytes (Charades-STA: the query file, then the video-length
CSV). To add a benchmark, load its official file once and copy
``load_benchmark(name, file).content_hash`` here, in the same pull request that
registers it.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["KNOWN_HASHES", "known_hashes"]

KNOWN_HASHES: Mapping[str, frozenset[str]] = {
    # charades_sta_test.txt + Charades_v1_test.csv (microsoft/VideoX 2D-TAN release)
    "charades-sta": frozenset({"db6d4f24ecd066df047c5a6472bd205977be45ac2e1909528c8ccbbd129b0ba7"}),
    # ActivityNet Captions val_2.json (the split VTG papers call "test")
    "activitynet-captions": frozenset(
        {"08fe56568bc92dd02a6150fe1094457a5f2ac72975b8778a922bc9a65aa7f0e9"}
    ),
    # QVHighlights highlight_val_release.jsonl (jayleicn/moment_detr)
    "qvhighlights": frozenset({"f668a1eaea156ec5315e14718999cea043a8cf948d3cafbd8e8d655318c3cd02"}),
    # TACoS test.json (microsoft/VideoX 2D-TAN release, times in frames)
    "tacos": frozenset({"1c64c8a5ada2b812ee7e230d1577139c5ee8e1e5d9ae2141479c980a0c3fb847"}),
}


def known_hashes(benchmark: str) -> frozenset[str]:
    """The accepted content hashes of ``benchmark`` (empty if none are listed)."""
    return KNOWN_HASHES.get(benchmark, frozenset())
