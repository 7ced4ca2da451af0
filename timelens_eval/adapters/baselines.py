"""Baselines that never look at the video: ``uniform``, ``prior`` and ``random``.

They answer in the TimeLens answer format, so they go through the same parser and
scorer as every model, and they set ``needs_frames = False`` so the runner decodes
nothing for them.

* ``uniform``: the whole video (or the clip shown), the answer a model that gives up
  would give;
* ``prior``: the mean normalised ground-truth span of a training split, scaled to the
  video's duration (a strong "where events usually are" prior);
* ``random``: a uniformly random span, seeded per sample id (reproducible, and the
  same sample gets the same span in every shard and on every resume).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, ClassVar

from timelens_eval.adapters import Adapter, GroundingOutput, GroundingRequest, ModelType
from timelens_eval.errors import ConfigError, TimelensError

__all__ = ["UniformAdapter", "PriorAdapter", "RandomAdapter", "learn_prior"]


def _window(request: GroundingRequest) -> tuple[float, float]:
    if request.clip is not None:
        return float(request.clip[0]), float(request.clip[1])
    return 0.0, float(request.duration)


def _answer(start: float, end: float) -> GroundingOutput:
    return GroundingOutput(text=f"The event happens in {start:.2f} - {end:.2f} seconds.")


class _Baseline(Adapter):
    model_type: ClassVar[ModelType] = "baseline"
    needs_frames: ClassVar[bool] = False


class UniformAdapter(_Baseline):
    """Answers the whole video (or the clip shown)."""

    name: ClassVar[str] = "uniform"

    def __init__(self, model: str = "uniform") -> None:
        super().__init__(model=model)

    async def ground(self, request: GroundingRequest) -> GroundingOutput:
        """The whole window."""
        return _answer(*_window(request))


class RandomAdapter(_Baseline):
    """A uniformly random span, seeded by ``seed`` and the sample id."""

    name: ClassVar[str] = "random"

    def __init__(self, seed: int = 0, model: str = "random") -> None:
        super().__init__(seed=seed, model=model)

    async def ground(self, request: GroundingRequest) -> GroundingOutput:
        """Two uniform points of the window, sorted."""
        rng = random.Random(f"{self.args['seed']}:{request.sample_id}")
        low, high = _window(request)
        a, b = sorted((rng.random(), rng.random()))
        return _answer(low + a * (high - low), low + b * (high - low))


_SYNTHETIC_LOADER = "timelens_eval.synthetic.loader:load_synthetic"


def _synthetic_windows(variant: str, split: str) -> list[tuple[float, tuple[float, float]]]:
    """``(duration, gt)`` of a synthetic split from its plan: the annotations are
    decided without rendering a pixel, so the prior needs no videos."""
    from timelens_eval.synthetic.plan import SplitConfig, plan_split

    plan = plan_split(SplitConfig(split=split))
    durations = {scene.video_id: float(scene.duration) for scene in plan.scenes}
    return [
        (
            durations[s.video_id],
            tuple(s.original_gt if variant == "original" else s.refined_gt),  # type: ignore[misc]
        )
        for s in plan.samples
    ]


def learn_prior(
    train: str, annotations: str | None = None, split: str = "train"
) -> tuple[float, float, int]:
    """Mean normalised ``(start, end)`` over a training split and the number of samples.

    ``train`` is a registered benchmark name (loaded with ``annotations`` if given), or
    the path of an annotation file read by that benchmark's loader when ``annotations``
    names the benchmark instead (``train=my.txt,train_format=charades-sta``).
    """
    from timelens_eval.benchmarks import get_benchmark_spec, load_benchmark

    spec = get_benchmark_spec(train)
    if annotations is None and spec.loader == _SYNTHETIC_LOADER:
        windows = _synthetic_windows(str(spec.options.get("variant", "refined")), split)
    else:
        options: dict[str, Any] = {}
        if split != spec.split:
            options["split"] = split
        bench = load_benchmark(train, annotations, **options)
        windows = [(s.duration, s.gt[0]) for s in bench.samples if s.gt]
    starts, ends = [], []
    for duration, (start, end) in windows:
        if duration <= 0:
            continue
        starts.append(min(max(start / duration, 0.0), 1.0))
        ends.append(min(max(end / duration, 0.0), 1.0))
    if not starts:
        raise ConfigError(f"prior: training split {train!r} has no usable samples")
    return sum(starts) / len(starts), sum(ends) / len(ends), len(starts)


class PriorAdapter(_Baseline):
    """The mean normalised span of a training split, scaled to each video.

    Arguments: ``train`` (benchmark name or annotation file; default the synthetic
    train split), ``train_format`` (the benchmark whose loader reads a ``train`` file),
    ``split`` (which split of ``train``), or ``start``/``end`` fractions to skip
    learning. The learned fractions are recorded with the result.
    """

    name: ClassVar[str] = "prior"

    def __init__(
        self,
        train: str = "synthetic-refined",
        train_format: str | None = None,
        split: str = "train",
        start: float | None = None,
        end: float | None = None,
        model: str = "prior",
    ) -> None:
        if (start is None) != (end is None):
            raise ConfigError("prior: give both start and end fractions, or neither")
        if start is not None and end is not None:
            if not 0.0 <= start < end <= 1.0:
                raise ConfigError("prior: need 0 <= start < end <= 1")
            mean_start, mean_end, n = start, end, 0
            source: dict[str, Any] = {}
        else:
            if train_format is not None:
                if not Path(train).exists():
                    raise ConfigError(f"prior: training annotation file not found: {train}")
                name, annotations = train_format, train
            else:
                name, annotations = train, None
            try:
                mean_start, mean_end, n = learn_prior(name, annotations, split)
            except TimelensError as exc:
                raise ConfigError(f"prior: cannot learn from {train!r}: {exc}") from None
            source = {"train": train, "train_format": train_format, "split": split}
        super().__init__(
            **source,
            start=round(mean_start, 6),
            end=round(mean_end, 6),
            train_samples=n,
            model=model,
        )

    async def ground(self, request: GroundingRequest) -> GroundingOutput:
        """The prior span scaled to the window."""
        low, high = _window(request)
        length = high - low
        return _answer(low + self.args["start"] * length, low + self.args["end"] * length)
