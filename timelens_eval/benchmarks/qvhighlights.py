"""QVHighlights (moment_detr JSONL): ``{qid, query, duration, vid, relevant_windows, ...}``.

Several GT windows per query are common (530 of 1,550 in val); a prediction is scored
against the window it overlaps best. ``duration`` is an integer (mostly 150). The
official file's last line has no trailing newline. The same reader loads the TACoS
seconds JSONL, which shares the format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from timelens_eval.benchmarks._io import (
    beyond as is_beyond,
)
from timelens_eval.benchmarks._io import (
    iter_jsonl,
    normalize_text,
    positive_field,
    require,
    require_path,
    windows,
)
from timelens_eval.benchmarks.base import Benchmark, BenchmarkSpec, Sample
from timelens_eval.errors import InputError

__all__ = ["load_qvhighlights", "read_moment_jsonl"]


def read_moment_jsonl(path: Path) -> tuple[list[Sample], int]:
    """Samples of a moment-retrieval JSONL (id = ``qid``) and the GT-beyond-duration count."""
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    beyond = 0
    for line, record in iter_jsonl(path):
        qid = require(record, "qid", (int, str), path=path, line=line)
        sample_id = str(qid)
        if sample_id in seen:
            raise InputError(
                f"duplicate qid (first on line {seen[sample_id]})",
                path=path,
                line=line,
                sample=sample_id,
            )
        seen[sample_id] = line
        query = require(record, "query", str, path=path, line=line, sample=sample_id)
        vid = require(record, "vid", str, path=path, line=line, sample=sample_id)
        duration = positive_field(record, "duration", path=path, line=line, sample=sample_id)
        raw = require(record, "relevant_windows", list, path=path, line=line, sample=sample_id)
        if not raw:
            raise InputError("relevant_windows is empty", path=path, line=line, sample=sample_id)
        gt = windows(raw, path=path, line=line, sample=sample_id)
        beyond += any(is_beyond(w.end, duration) for w in gt)
        samples.append(
            Sample(
                sample_id=sample_id,
                video_id=vid,
                query=normalize_text(query),
                duration=duration,
                gt=gt,
                video=f"{vid}.mp4",
                meta={"line": line},
            )
        )
    if not samples:
        raise InputError("no samples in file", path=path)
    return samples, beyond


def load_qvhighlights(spec: BenchmarkSpec, path: Path | None, **_: Any) -> Benchmark:
    """Load QVHighlights (val or test JSONL); sample ids are the file's ``qid``."""
    path = require_path(path, "QVHighlights annotation file")
    samples, beyond = read_moment_jsonl(path)
    multi = sum(len(s.gt) > 1 for s in samples)
    split = "val" if "val" in path.name else spec.split
    return Benchmark.from_files(
        spec, samples, path, split=split, gt_beyond_duration=beyond, multi_window=multi
    )
