"""Helpers shared by the runner tests (no tests here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from timelens_eval.benchmarks.base import Benchmark, Sample
from timelens_eval.spans import Span
from timelens_eval.store import SampleRecord, read_sample_records


def toy_benchmark(n: int = 40, *, name: str = "toy", videos: int = 7) -> Benchmark:
    """``n`` text-only samples over ``videos`` videos with varied GT windows."""
    samples = []
    for i in range(n):
        duration = 20.0 + (i % 5) * 10.0
        start = (i * 3.7) % (duration / 2)
        samples.append(
            Sample(
                sample_id=f"{name}#{i}",
                video_id=f"vid{i % videos}",
                query=f"event number {i}",
                duration=duration,
                gt=(Span(round(start, 2), round(start + duration / 4, 2)),),
            )
        )
    return Benchmark(name=name, samples=samples, content_hash=f"hash-{name}-{n}", variant="refined")


def comparable(records: list[SampleRecord]) -> dict[str, dict[str, Any]]:
    """Records keyed by sample id, without measured times (model latency, decoding)."""
    out = {}
    for record in records:
        data = record.model_dump(mode="json")
        data.pop("latency_s")
        data["meta"].pop("decode_s", None)
        out[record.sample_id] = data
    return out


def stream_ids(path: Path) -> list[str]:
    """Sample ids of a per-sample stream, in file order (duplicates kept)."""
    return [r.sample_id for r in read_sample_records(path)]


def metrics_of(header: Path) -> dict[str, Any]:
    """The summary block of a header, as plain JSON."""
    return json.loads(header.read_text())["summary"]
