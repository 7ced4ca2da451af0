"""Charades-STA: ``VID START END##sentence`` lines plus durations from ``Charades_v1_test.csv``.

Quirk: many ground-truth windows end after the video (562 of 3,720 in the test
split). They are kept as they are by default, as TimeLens does; ``clip_gt=True``
clips them to the duration. Either way ``notes["gt_beyond_duration"]`` counts them.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from timelens_eval.benchmarks._io import beyond as is_beyond
from timelens_eval.benchmarks._io import normalize_text, require_path
from timelens_eval.benchmarks.base import Benchmark, BenchmarkSpec, Sample
from timelens_eval.errors import InputError
from timelens_eval.spans import Span

__all__ = ["load_charades_sta", "read_charades_durations"]

DURATIONS_FILE = "Charades_v1_test.csv"


def read_charades_durations(path: Path) -> dict[str, float]:
    """``{video id: length in seconds}`` from a Charades metadata CSV (columns id, length)."""
    durations: dict[str, float] = {}
    try:
        fh = open(path, encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path=path) from None
    with fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"id", "length"} <= set(reader.fieldnames):
            raise InputError("expected a CSV with columns 'id' and 'length'", path=path, line=1)
        try:
            for row in reader:
                line = reader.line_num
                try:
                    length = float(row["length"])
                except (TypeError, ValueError):
                    raise InputError(
                        f"length {row['length']!r} is not a number", path=path, line=line
                    ) from None
                if not math.isfinite(length) or length <= 0:
                    raise InputError(f"length must be > 0, got {length}", path=path, line=line)
                durations[row["id"]] = length
        except csv.Error as exc:
            raise InputError(f"not valid CSV ({exc})", path=path, line=reader.line_num) from None
    return durations


def _durations_path(txt: Path, durations: str | Path | None) -> Path:
    if durations is not None:
        path = Path(durations)
        if not path.is_file():
            raise InputError("durations file not found", path=path)
        return path
    path = txt.parent / DURATIONS_FILE
    if not path.is_file():
        raise InputError(
            f"Charades-STA needs video durations from {DURATIONS_FILE}; expected it next to the "
            "annotations or pass durations=PATH (official release: "
            "https://prior.allenai.org/projects/charades, Charades annotations)",
            path=path,
        )
    return path


def _parse_line(raw: str, path: Path, number: int) -> tuple[str, float, float, str]:
    head, sep, sentence = raw.partition("##")
    fields = head.split()
    if not sep or len(fields) != 3:
        raise InputError("expected 'VIDEO START END##sentence'", path=path, line=number)
    vid, start_text, end_text = fields
    try:
        start, end = float(start_text), float(end_text)
    except ValueError:
        raise InputError(
            f"start/end {start_text!r} {end_text!r} are not numbers", path=path, line=number
        ) from None
    if not (math.isfinite(start) and math.isfinite(end)):
        raise InputError("start and end must be finite", path=path, line=number)
    if start < 0:
        raise InputError(f"start must be >= 0, got {start:g}", path=path, line=number)
    if start > end:
        raise InputError(f"start {start:g} is after end {end:g}", path=path, line=number)
    query = normalize_text(sentence)
    if not query:
        raise InputError("empty sentence", path=path, line=number)
    return vid, start, end, query


def load_charades_sta(
    spec: BenchmarkSpec,
    path: Path | None,
    *,
    durations: str | Path | None = None,
    clip_gt: bool = False,
    **_: Any,
) -> Benchmark:
    """Load Charades-STA; sample ids are ``VID#k`` (k-th query of the video, file order)."""
    path = require_path(path, "Charades-STA annotation file")
    csv_path = _durations_path(path, durations)
    lengths = read_charades_durations(csv_path)
    samples: list[Sample] = []
    per_video: dict[str, int] = {}
    beyond = 0
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", path=path) from None
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        vid, start, end, query = _parse_line(raw, path, number)
        if vid not in lengths:
            raise InputError(f"video {vid!r} has no length in {csv_path}", path=path, line=number)
        duration = lengths[vid]
        if is_beyond(end, duration):
            beyond += 1
            if clip_gt:
                end = duration
                start = min(start, duration)
        k = per_video.get(vid, 0)
        per_video[vid] = k + 1
        samples.append(
            Sample(
                sample_id=f"{vid}#{k}",
                video_id=vid,
                query=query,
                duration=duration,
                gt=(Span(start, end),),
                video=f"{vid}.mp4",
                meta={"line": number},
            )
        )
    if not samples:
        raise InputError("no samples in file", path=path)
    return Benchmark.from_files(
        spec,
        samples,
        [path, csv_path],
        gt_beyond_duration=beyond,
        gt_clipped=beyond if clip_gt else 0,
    )
