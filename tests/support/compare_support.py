"""Builders of result files for the compare / report / leaderboard tests (no tests here).

They write headers and per-sample streams with the real store schema; the metric
values in each header are computed here from the per-sample IoUs, independently of
the code under test. :func:`model_page` says where a built site puts a model's page.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from timelens_eval.leaderboard.build import model_slug
from timelens_eval.spans import temporal_iou
from timelens_eval.store import (
    MetricsSummary,
    MetricValue,
    RunResult,
    RunSpec,
    SampleRecord,
    write_result,
)

CATEGORIES = ("none", "shifted", "too_wide", "wrong_segment")


@dataclass
class SynthSample:
    sample_id: str
    video_id: str
    query: str
    duration: float
    refined: tuple[float, float]
    original: tuple[float, float]
    category: str


def synth_samples(n_videos: int = 30, per_video: int = 3, seed: int = 7) -> list[SynthSample]:
    """Queries whose original GT carries an injected error in 3 of 4 cases."""
    rng = np.random.default_rng(seed)
    out = []
    for v in range(n_videos):
        duration = float(rng.uniform(30, 90))
        for q in range(per_video):
            length = float(rng.uniform(0.15, 0.3)) * duration
            start = float(rng.uniform(0, duration - length))
            true = (round(start, 2), round(start + length, 2))
            category = CATEGORIES[(v * per_video + q) % len(CATEGORIES)]
            if category == "none":
                orig = true
            elif category == "shifted":
                shift = min(0.8 * length, duration - true[1])
                shift = shift if shift > 0.3 * length else -min(0.8 * length, true[0])
                orig = (round(true[0] + shift, 2), round(true[1] + shift, 2))
            elif category == "too_wide":
                orig = (
                    round(max(0.0, true[0] - length), 2),
                    round(min(duration, true[1] + length), 2),
                )
            else:
                other = (true[0] + duration / 2) % (duration - length)
                orig = (round(other, 2), round(other + length, 2))
            out.append(
                SynthSample(
                    f"v{v:03d}#{q}",
                    f"v{v:03d}",
                    f"event {q} in video {v}",
                    round(duration, 2),
                    true,
                    orig,
                    category,
                )
            )
    return out


def summarize_ious(ious: list[float], thresholds=(0.3, 0.5, 0.7)) -> MetricsSummary:
    arr = np.asarray(ious)
    metrics = {
        f"R1@{t}": MetricValue(value=float(np.mean(arr >= t) * 100), params={"threshold": t})
        for t in thresholds
    }
    metrics["mIoU"] = MetricValue(value=float(arr.mean() * 100))
    return MetricsSummary(
        n=len(ious), metrics=metrics, parse_failures=0, reversed=0, out_of_range=0, errors=0
    )


def write_run(
    folder: Path,
    model: str,
    model_type: str,
    benchmark: str,
    variant: str,
    samples: list[SynthSample],
    predictions: list[tuple[float, float]],
    answers: list[str] | None = None,
    benchmark_hash: str = "0" * 64,
) -> Path:
    """Write a header + per-sample stream for one model on one variant; returns the header."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{model.replace('/', '_').replace('<', '_').replace('>', '_')[:40]}.{benchmark}"
    stem = "".join(c if c.isalnum() or c in "._-" else "_" for c in stem)
    samples_name = f"{stem}.samples.jsonl"
    lines, ious = [], []
    for i, (s, pred) in enumerate(zip(samples, predictions, strict=True)):
        gt = s.original if variant == "original" else s.refined
        iou = temporal_iou(pred, gt)
        ious.append(iou)
        rec = SampleRecord(
            sample_id=s.sample_id,
            video_id=s.video_id,
            query=s.query,
            duration=s.duration,
            gt=[gt],
            sample_hash=hashlib.sha256(s.sample_id.encode()).hexdigest()[:16],
            answer=answers[i]
            if answers
            else f"The event happens in {pred[0]:.1f} - {pred[1]:.1f} seconds.",
            spans=[pred],
            status="ok",
            iou=iou,
            meta={"error_category": s.category},
        )
        lines.append(rec.model_dump_json())
    body = "\n".join(lines) + "\n"
    (folder / samples_name).write_text(body, encoding="utf-8")
    result = RunResult(
        kind="reproduced",
        spec=RunSpec(
            model=model,
            model_type=model_type,
            adapter="mock",
            benchmark=benchmark,
            variant=variant,
            benchmark_hash=benchmark_hash,
            versions={"timelens-eval": "0.1.0"},
            git_commit="abc123",
            created=datetime(2026, 11, 1, tzinfo=timezone.utc),
        ),
        summary=summarize_ious(ious),
        samples_file=samples_name,
        samples_sha256=hashlib.sha256(body.encode()).hexdigest(),
    )
    path = folder / f"{stem}.json"
    write_result(result, path)
    return path


def model_predictions(samples: list[SynthSample], seed: int = 0) -> dict[str, tuple[str, list]]:
    """Predictions of five models: two baselines, one that follows the original annotations'
    errors, one accurate proprietary model and one noisy open model."""
    rng = np.random.default_rng(seed)

    def jitter(span, scale, d):
        a = min(max(0.0, span[0] + rng.normal(0, scale)), d - 1)
        b = min(max(a + 0.5, span[1] + rng.normal(0, scale)), d)
        return (round(a, 2), round(b, 2))

    return {
        "Follows-Original": ("open", [jitter(s.original, 0.6, s.duration) for s in samples]),
        "Accurate-Pro": ("proprietary", [jitter(s.refined, 2.5, s.duration) for s in samples]),
        "Noisy-Open": ("open", [jitter(s.refined, 6.0, s.duration) for s in samples]),
        "Whole-Video": ("baseline", [(0.0, s.duration) for s in samples]),
        "Middle-Half": (
            "baseline",
            [(round(s.duration / 4, 2), round(3 * s.duration / 4, 2)) for s in samples],
        ),
    }


def write_synthetic_pair(
    folder: Path, n_videos: int = 30, extra: dict | None = None
) -> dict[str, tuple[str, list]]:
    """Write every model's results on synthetic-original and synthetic-refined."""
    samples = synth_samples(n_videos)
    models = model_predictions(samples)
    if extra:
        models.update(extra)
    for model, (kind, preds) in models.items():
        for bench, variant in (
            ("synthetic-original", "original"),
            ("synthetic-refined", "refined"),
        ):
            write_run(folder, model, kind, bench, variant, samples, preds)
    return models


def load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def model_page(site: Path, name: str) -> Path:
    """The page of model ``name`` on the site built in ``site``."""
    return site / "models" / f"{model_slug(name)}.html"
