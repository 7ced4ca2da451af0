"""ActivityNet Captions (val_1 / val_2): ``{vid: {duration, timestamps, sentences}}``.

Quirks: many sentences start with a space (whitespace is normalised); ids carry the
``v_`` prefix (kept, as the video files are named that way); a few GT windows end
after ``duration`` (kept, counted in ``notes["gt_beyond_duration"]``).
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
from timelens_eval.errors import InputError

__all__ = ["load_activitynet_captions"]


def load_activitynet_captions(spec: BenchmarkSpec, path: Path | None, **_: Any) -> Benchmark:
    """Load an ActivityNet Captions split; sample ids are ``v_xxx#k`` (k-th sentence)."""
    path = require_path(path, "ActivityNet Captions annotation file")
    data = read_json(path)
    if not isinstance(data, dict):
        raise InputError("expected a JSON object {video_id: {...}}", path=path)
    samples: list[Sample] = []
    beyond = 0
    for vid, record in data.items():
        duration = positive_field(record, "duration", path=path, sample=vid)
        items = paired_items(record, "timestamps", "sentences", "sentence", path=path, video=vid)
        for sample_id, stamp, sentence in items:
            gt = window(stamp, path=path, sample=sample_id)
            beyond += is_beyond(gt.end, duration)
            samples.append(
                Sample(
                    sample_id=sample_id,
                    video_id=vid,
                    query=normalize_text(sentence),
                    duration=duration,
                    gt=(gt,),
                    video=f"{vid}.mp4",
                )
            )
    if not samples:
        raise InputError("no samples in file", path=path)
    split = "val_1" if "val_1" in path.name else "val_2" if "val_2" in path.name else spec.split
    return Benchmark.from_files(spec, samples, path, split=split, gt_beyond_duration=beyond)
