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
    duration_value,
    normalize_text,
    read_json,
    require,
    require_path,
    window,
)
from timelens_eval.benchmarks.base import Benchmark, BenchmarkSpec, Sample, file_sha256
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
        fps = duration_value(
            require(record, "fps", (int, float), path=path, sample=name), path=path, sample=name
        )
        frames = duration_value(
            require(record, "num_frames", (int, float), path=path, sample=name),
            path=path,
            sample=name,
        )
        stamps = require(record, "timestamps", list, path=path, sample=name)
        sentences = require(record, "sentences", list, path=path, sample=name)
        if len(stamps) != len(sentences):
            raise InputError(
                f"{len(stamps)} timestamps but {len(sentences)} sentences", path=path, sample=name
            )
        vid = Path(name).stem if name.endswith((".avi", ".mp4")) else name
        duration = frames / fps
        for k, (stamp, sentence) in enumerate(zip(stamps, sentences, strict=True)):
            sample_id = f"{vid}#{k}"
            if not isinstance(sentence, str):
                raise InputError("sentence must be a string", path=path, sample=sample_id)
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
    return Benchmark(
        name=spec.name,
        samples=samples,
        content_hash=file_sha256(path),
        variant=spec.variant,
        split=spec.split,
        source=str(path),
        notes={"gt_beyond_duration": beyond, "source_unit": unit},
    )
