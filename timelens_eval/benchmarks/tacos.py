"""TACoS test, in either of its two public formats (chosen by file extension).

* ``.json`` (2D-TAN release): ``{vid: {timestamps, sentences, fps, num_frames}}`` with
  times in **frames**; seconds = frame / fps and duration = num_frames / fps.
  Sample ids are ``VIDEO#k`` (``VIDEO`` without its ``.avi`` extension).
* ``.jsonl`` (moment-retrieval release): ``{qid, query, duration, vid,
  relevant_windows}`` in seconds; sample ids are the ``qid``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from timelens_eval.benchmarks._io import (
    beyond as is_beyond,
)
from timelens_eval.benchmarks._io import (
    normalize_text,
    paired_items,
    positive_field,
    read_json,
    require_path,
    window,
)
from timelens_eval.benchmarks.base import Benchmark, BenchmarkSpec, Sample
from timelens_eval.benchmarks.qvhighlights import read_moment_jsonl
from timelens_eval.errors import InputError

__all__ = ["load_tacos"]


def _load_frames_json(path: Path) -> tuple[list[Sample], int]:
    data = read_json(path)
    if not isinstance(data, dict):
        raise InputError("expected a JSON object {video: {...}}", path=path)
    samples: list[Sample] = []
    beyond = 0
    for name, record in data.items():
        fps = positive_field(record, "fps", path=path, sample=name)
        frames = positive_field(record, "num_frames", path=path, sample=name)
        vid = Path(name).stem if name.endswith((".avi", ".mp4")) else name
        duration = frames / fps
        items = paired_items(
            record, "timestamps", "sentences", "sentence", path=path, video=name, prefix=vid
        )
        for sample_id, stamp, sentence in items:
            gt = window(stamp, path=path, sample=sample_id, scale=1.0 / fps)
            beyond += is_beyond(gt.end, duration)
            samples.append(
                Sample(
                    sample_id=sample_id,
                    video_id=vid,
                    query=normalize_text(sentence),
                    duration=duration,
                    gt=(gt,),
                    video=name,
                    meta={"fps": fps},
                )
            )
    if not samples:
        raise InputError("no samples in file", path=path)
    return samples, beyond


def load_tacos(spec: BenchmarkSpec, path: Path | None, **_: Any) -> Benchmark:
    """Load TACoS from the frame-based ``.json`` or the seconds ``.jsonl``."""
    path = require_path(path, "TACoS annotation file")
    if path.suffix == ".jsonl":
        samples, beyond = read_moment_jsonl(path)
        unit = "seconds"
    else:
        samples, beyond = _load_frames_json(path)
        unit = "frames"
    return Benchmark.from_files(spec, samples, path, gt_beyond_duration=beyond, source_unit=unit)
