"""Planning a split: scenes, queries and both variants' annotations, without pixels.

Everything the annotation files contain is decided here from the split's seed, so
the error rates, query uniqueness and sample ids can be checked in milliseconds;
:mod:`timelens_eval.synthetic.generate` then renders the planned scenes.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from timelens_eval.errors import ConfigError
from timelens_eval.spans import Span
from timelens_eval.synthetic import inject
from timelens_eval.synthetic.queries import absent_query, describe, vague_query
from timelens_eval.synthetic.scenes import Event, Scene, SceneConfig, plan_scene

__all__ = [
    "GENERATOR_VERSION",
    "DEFAULT_VIDEOS",
    "SplitConfig",
    "PlannedSample",
    "SplitPlan",
    "plan_split",
    "validate_config",
]

GENERATOR_VERSION = 3
"""Bump whenever planning or rendering changes what a seed produces."""

DEFAULT_VIDEOS: dict[str, int] = {"test": 72, "train": 400}
"""Videos per split when not given (other split names default to the test size)."""


@dataclass(frozen=True)
class SplitConfig:
    """Everything that determines a generated split."""

    split: str = "test"
    seed: int = 0
    videos: int | None = None
    """Number of videos; ``None`` uses :data:`DEFAULT_VIDEOS`."""
    min_queries: int = 2
    max_queries: int = 4
    """Queries (samples) per video are drawn from this range."""
    scene: SceneConfig = field(default_factory=SceneConfig)

    @property
    def num_videos(self) -> int:
        if self.videos is not None:
            return self.videos
        return DEFAULT_VIDEOS.get(self.split, DEFAULT_VIDEOS["test"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "seed": self.seed,
            "videos": self.num_videos,
            "min_queries": self.min_queries,
            "max_queries": self.max_queries,
            "scene": self.scene.to_dict(),
        }


@dataclass(frozen=True)
class PlannedSample:
    """One query with its clean (refined) and its original annotation."""

    sample_id: str
    video_id: str
    event: Event
    category: str
    refined_query: str
    refined_gt: Span
    original_query: str
    original_gt: Span
    duplicate_of: str | None = None
    occurrences: tuple[Span, ...] = ()
    """Every window where the event the original query names happens: several for
    "multiple occurrences", none for "no event", the copied query's for duplicates."""


@dataclass
class SplitPlan:
    """A planned split: its scenes and samples, in id order."""

    config: SplitConfig
    scenes: list[Scene]
    samples: list[PlannedSample]

    def category_counts(self) -> dict[str, int]:
        counts = {name: 0 for name in inject.ERROR_CATEGORIES}
        for sample in self.samples:
            counts[sample.category] += 1
        return counts

    def plan_hash(self, extra: Any = None) -> str:
        """SHA-256 over the planned content (scenes, samples) and ``extra`` settings."""
        payload = {
            "generator_version": GENERATOR_VERSION,
            "config": self.config.to_dict(),
            "scenes": [
                {
                    "video_id": s.video_id,
                    "duration": s.duration,
                    "objects": [o.__dict__ for o in s.objects],
                    "events": [e.__dict__ for e in s.events],
                }
                for s in self.scenes
            ],
            "samples": [
                {**p.__dict__, "event": p.event.event_id, "occurrences": list(p.occurrences)}
                for p in self.samples
            ],
            "extra": extra,
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=list)
        return hashlib.sha256(blob.encode()).hexdigest()


_SPLIT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def _rng(config: SplitConfig, *parts: object) -> random.Random:
    # str seeds hash with SHA-512: stable across processes and PYTHONHASHSEED
    key = ["timelens-synthetic", config.split, str(config.seed), *map(str, parts)]
    return random.Random("/".join(key))


def validate_config(config: SplitConfig) -> None:
    """Raise :class:`ConfigError` for a split name, size or query range that cannot work."""
    if not _SPLIT_NAME.fullmatch(config.split):
        raise ConfigError(
            f"split name {config.split!r}: use lowercase letters, digits, '-' or '_' "
            "(it starts every video file name)"
        )
    if config.num_videos < 1:
        raise ConfigError("a split needs at least one video")
    if not 2 <= config.min_queries <= config.max_queries <= 5:
        raise ConfigError("need 2 <= min_queries <= max_queries <= 5 (duplicates need two)")


def plan_split(config: SplitConfig) -> SplitPlan:
    """Plan ``config``'s split deterministically: the same config gives the same plan."""
    validate_config(config)
    rng = _rng(config, "split")
    n_videos = config.num_videos
    per_video = [rng.randint(config.min_queries, config.max_queries) for _ in range(n_videos)]
    counts = inject.quotas(sum(per_video))
    n_repeat = min(counts[inject.MULTIPLE_OCCURRENCES], n_videos)
    repeat_videos = set(rng.sample(range(n_videos), n_repeat))

    scenes: list[Scene] = []
    chosen: list[tuple[Scene, Event]] = []
    for index in range(n_videos):
        video_id = f"{config.split}{index:04d}"
        repeat = index in repeat_videos
        scene_rng = _rng(config, "scene", index)
        scene = plan_scene(
            scene_rng,
            video_id,
            config.scene,
            repeat_jump=repeat,
            min_events=per_video[index] + (1 if repeat else 0),
        )
        scenes.append(scene)
        chosen += [(scene, e) for e in _pick_events(scene_rng, scene, per_video[index], repeat)]

    video_of = [scene.video_id for scene, _ in chosen]
    repeated = [len(s.occurrences(e.object_id, e.action)) > 1 for s, e in chosen]
    categories = inject.assign_categories(rng, video_of, repeated, counts)
    samples = _annotate(config, chosen, categories)
    return SplitPlan(config=config, scenes=scenes, samples=samples)


def _pick_events(rng: random.Random, scene: Scene, count: int, repeat: bool) -> list[Event]:
    """``count`` events to query, in time order; one occurrence of a repeated action."""
    repeats = [e for e in scene.events if len(scene.occurrences(e.object_id, e.action)) > 1]
    singles = [e for e in scene.events if e not in repeats]
    picked = [rng.choice(repeats)] if repeat and repeats else []
    picked += rng.sample(singles, min(len(singles), count - len(picked)))
    return sorted(picked, key=lambda e: e.event_id)


def _annotate(
    config: SplitConfig, chosen: list[tuple[Scene, Event]], categories: list[str]
) -> list[PlannedSample]:
    """Write both variants' query and window for every chosen event."""
    drafts: list[dict[str, Any]] = []
    counters: dict[str, int] = {}
    for (scene, event), category in zip(chosen, categories, strict=True):
        k = counters.get(scene.video_id, 0)
        counters[scene.video_id] = k + 1
        sample_id = f"{scene.video_id}#{k}"
        rng = _rng(config, "sample", sample_id)
        # both variants use the same template for the event: keep its seed
        template_seed = rng.random()
        refined_query = describe(event, scene, random.Random(template_seed))
        refined_gt = Span(event.start, event.end)
        draft: dict[str, Any] = {
            "sample_id": sample_id,
            "video_id": scene.video_id,
            "event": event,
            "category": category,
            "refined_query": refined_query,
            "refined_gt": refined_gt,
            "original_query": refined_query,
            "original_gt": refined_gt,
            "occurrences": (refined_gt,),
            "scene": scene,
            "rng": rng,
        }
        if category == inject.INACCURATE_BOUNDARIES:
            draft["original_gt"] = inject.perturb_span(rng, refined_gt, scene.duration)
        elif category == inject.MULTIPLE_OCCURRENCES:
            same = scene.occurrences(event.object_id, event.action)
            draft["original_query"] = describe(
                event, scene, random.Random(template_seed), with_occurrence=False
            )
            draft["occurrences"] = tuple(Span(e.start, e.end) for e in same)
        elif category == inject.NO_EVENT:
            draft["original_query"] = absent_query(scene, rng)
            draft["occurrences"] = ()
        elif category == inject.UNCLEAR_QUERY:
            draft["original_query"] = vague_query(event, rng)
        drafts.append(draft)

    # duplicates copy the original query of another sample of their video
    for draft in drafts:
        if draft["category"] != inject.DUPLICATE_QUERY:
            continue
        peers = [
            d
            for d in drafts
            if d["video_id"] == draft["video_id"] and d["category"] != inject.DUPLICATE_QUERY
        ]
        clean = [d for d in peers if d["original_query"] == d["refined_query"]]
        source = draft["rng"].choice(clean or peers)
        draft["original_query"] = source["original_query"]
        draft["duplicate_of"] = source["sample_id"]
        draft["occurrences"] = source["occurrences"]

    keep = {f for f in PlannedSample.__dataclass_fields__}
    return [PlannedSample(**{k: v for k, v in d.items() if k in keep}) for d in drafts]
