"""Difficulty-based sampling of RL training data (TimeLens' Gaussian sampler).

Each training sample carries a difficulty estimate: the IoU the model to be trained
reaches on it before RL (see :mod:`timelens_eval.rlvr.difficulty`). Samples are drawn
without replacement, per duration bucket, with weights

    w_i = exp(-((iou_i - mean) / std)^2 / 2) / count(bin(iou_i))

where ``count`` is the number of the bucket's samples in the same IoU bin (20 equal bins
over [0, 1]). The inverse-density factor flattens the pool first, so the *selected*
IoU histogram follows the Gaussian itself (bin masses proportional to the bin's mean
Gaussian weight) instead of "pool histogram x Gaussian". TimeLens' released code centres
the Gaussian at IoU 0.05 with sigma 0.2: it favours hard samples. See docs/rlvr.md for
how this differs from the paper's wording.

Buckets include both ends, ``min_duration <= duration <= max_duration``, and a
duration on an edge goes to the first bucket that holds it, as in the released code.
Samples whose duration falls in no bucket are all kept, as in the released code.

``method: uniform`` draws each bucket's target uniformly instead (TimeLens' SFT data:
Python's ``random.Random(seed).sample`` per bucket, in bucket order, as the released
code draws it).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from timelens_eval.errors import ConfigError, InputError

__all__ = [
    "DurationBucket",
    "SamplingConfig",
    "DifficultyRecord",
    "Selection",
    "default_buckets",
    "iou_bins",
    "gaussian_weights",
    "assign_buckets",
    "expected_bin_distribution",
    "select_samples",
    "read_difficulty",
    "write_difficulty",
]


class DurationBucket(BaseModel):
    """Videos with ``min_duration <= duration <= max_duration`` and how many to draw from them."""

    # An open last bucket is written to JSON as Infinity (which Python's json reads back).
    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")

    min_duration: float = Field(ge=0)
    max_duration: float = Field(description="Inclusive upper bound; may be infinite.")
    target_size: int = Field(ge=0, description="Samples to draw (fewer if the bucket is smaller).")

    @model_validator(mode="after")
    def _check(self) -> DurationBucket:
        if not self.max_duration > self.min_duration:
            raise ValueError(f"bucket [{self.min_duration}, {self.max_duration}] is empty")
        return self

    def contains(self, duration: float) -> bool:
        return self.min_duration <= duration <= self.max_duration


def default_buckets(target_size: int = 2500) -> list[DurationBucket]:
    """TimeLens' buckets: 30 s wide up to 240 s plus one open bucket, equal targets
    (``target_size // 9`` each: 277 for 2,500, 3,333 for 30,000)."""
    edges = [(float(lo), float(lo + 30)) for lo in range(0, 240, 30)] + [(240.0, math.inf)]
    per_bucket = target_size // len(edges)
    return [
        DurationBucket(min_duration=lo, max_duration=hi, target_size=per_bucket) for lo, hi in edges
    ]


class SamplingConfig(BaseModel):
    """Options of the Gaussian difficulty sampler. Defaults: TimeLens' released code."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["gaussian", "uniform"] = Field(
        "gaussian",
        description="gaussian: weights by IoU (GRPO data); uniform: no difficulty needed "
        "(TimeLens' SFT data).",
    )
    mean: float = Field(0.05, description="Centre of the Gaussian over IoU (0.05: hard samples).")
    std: float = Field(0.2, gt=0, description="Width of the Gaussian over IoU.")
    num_bins: int = Field(20, ge=1, description="IoU bins over [0, 1] for the inverse density.")
    inverse_density: bool = Field(
        True, description="Divide weights by the bin count (TimeLens' fixed_gaussian_sampling)."
    )
    buckets: tuple[DurationBucket, ...] = Field(
        default_factory=lambda: tuple(default_buckets()),
        description="Duration buckets with target sizes.",
    )
    keep_unbucketed: bool = Field(True, description="Keep samples that fall in no bucket.")
    seed: int = 42


class DifficultyRecord(NamedTuple):
    """One training sample's difficulty estimate."""

    sample_id: str
    iou: float
    duration: float


class Selection(NamedTuple):
    """The sampler's result: the chosen ids (pool order) and per-bucket counts."""

    sample_ids: list[str]
    bucket_counts: list[tuple[DurationBucket, int, int]]
    """(bucket, samples in the pool, samples selected)."""
    unbucketed: int


def iou_bins(ious: np.ndarray, num_bins: int) -> np.ndarray:
    """Bin index of each IoU over [0, 1] in ``num_bins`` equal bins (IoU 1.0 joins the last)."""
    clipped = np.clip(np.asarray(ious, dtype=np.float64), 0.0, 1.0)
    return np.minimum((clipped * num_bins).astype(np.int64), num_bins - 1)


def gaussian_weights(ious: Sequence[float] | np.ndarray, config: SamplingConfig) -> np.ndarray:
    """Unnormalised sampling weight of each sample (Gaussian x inverse bin density)."""
    values = np.asarray(ious, dtype=np.float64)
    weights = np.exp(-0.5 * ((values - config.mean) / config.std) ** 2)
    if config.inverse_density and values.size:
        bins = iou_bins(values, config.num_bins)
        counts = np.bincount(bins, minlength=config.num_bins)
        weights = weights / counts[bins]
    return weights


def expected_bin_distribution(
    ious: Sequence[float] | np.ndarray, config: SamplingConfig
) -> np.ndarray:
    """Probability of each IoU bin under one weighted draw from ``ious`` (the target histogram).

    With inverse density this is each non-empty bin's mean Gaussian weight, normalised:
    the Gaussian's shape, whatever the pool looks like.
    """
    values = np.asarray(ious, dtype=np.float64)
    weights = gaussian_weights(values, config)
    mass = np.bincount(
        iou_bins(values, config.num_bins), weights=weights, minlength=config.num_bins
    )
    total = mass.sum()
    if total <= 0:
        raise ConfigError("every sampling weight is zero; widen the Gaussian (std)")
    return mass / total


def assign_buckets(durations: np.ndarray, buckets: Sequence[DurationBucket]) -> np.ndarray:
    """Index of the first bucket holding each duration (both ends included); -1 for none."""
    assigned = np.full(len(durations), -1, dtype=np.int64)
    for b, bucket in enumerate(buckets):
        inside = (durations >= bucket.min_duration) & (durations <= bucket.max_duration)
        assigned[(assigned < 0) & inside] = b
    return assigned


def select_samples(records: Sequence[DifficultyRecord], config: SamplingConfig) -> Selection:
    """Draw the training subset: per bucket, ``target_size`` samples without replacement.

    Seeded by ``config.seed``; the result lists ids in pool order.
    """
    rng = np.random.default_rng(config.seed)
    ids = [r.sample_id for r in records]
    if len(set(ids)) != len(ids):
        raise InputError("difficulty records repeat a sample id")
    durations = np.array([r.duration for r in records], dtype=np.float64)
    ious = np.array([r.iou for r in records], dtype=np.float64)
    if ious.size and not np.all(np.isfinite(ious)):
        raise InputError("difficulty records contain a non-finite IoU")

    assigned = assign_buckets(durations, config.buckets)
    uniform = random.Random(config.seed)

    keep = np.zeros(len(records), dtype=bool)
    counts = []
    for b, bucket in enumerate(config.buckets):
        members = np.flatnonzero(assigned == b)
        size = min(bucket.target_size, members.size)
        if size and config.method == "uniform":
            keep[uniform.sample(members.tolist(), size)] = True
        elif size:
            weights = gaussian_weights(ious[members], config)
            if weights.sum() <= 0 or np.count_nonzero(weights) < size:
                raise ConfigError(
                    f"bucket [{bucket.min_duration:g}, {bucket.max_duration:g}] has fewer samples "
                    f"with a non-zero weight than its target {size}; widen the Gaussian (std)"
                )
            chosen = rng.choice(members, size=size, replace=False, p=weights / weights.sum())
            keep[chosen] = True
        counts.append((bucket, int(members.size), int(size)))
    unbucketed = assigned < 0
    if config.keep_unbucketed:
        keep |= unbucketed
    return Selection([ids[i] for i in np.flatnonzero(keep)], counts, int(unbucketed.sum()))


def read_difficulty(path: str | Path) -> list[DifficultyRecord]:
    """Read difficulty records from JSONL: ``sample_id``, ``iou`` and ``duration`` per line.

    Per-sample result files written by the runner have these fields, so a run of the
    model over the training split can be read directly.
    """
    records: list[DifficultyRecord] = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    records.append(
                        DifficultyRecord(
                            str(row["sample_id"]), float(row["iou"]), float(row["duration"])
                        )
                    )
                except (ValueError, KeyError, TypeError) as exc:
                    raise InputError(
                        f"expected a JSON object with sample_id, iou and duration ({exc})",
                        path=path,
                        line=line_no,
                    ) from None
    except OSError as exc:
        raise InputError(f"cannot read difficulty file: {exc.strerror}", path=path) from None
    return records


def write_difficulty(records: Iterable[DifficultyRecord], path: str | Path) -> None:
    """Write difficulty records as JSONL (one object per line)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps({"sample_id": r.sample_id, "iou": r.iou, "duration": r.duration}))
            fh.write("\n")
