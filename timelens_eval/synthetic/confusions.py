"""Where a model's answers on a synthetic split land, event by event.

On real benchmarks only the queried window is known. A synthetic split knows every event
of every video, so a miss can be told apart: the answer may sit on another event of the
same video (the model found *an* event, not the one the query names) or on no event at
all (it found none). :func:`event_confusions` sorts each answer's first span into:

``hit``
    IoU with its own ground truth at least ``threshold``.
``same_object``
    a miss that matches another event of the queried object (right object, wrong action).
``same_colour``
    a miss that matches an event of another object of the queried object's colour.
``other_object``
    a miss that matches an event of an object of another colour.
``no_event``
    a miss that matches no event of the video.
``no_span``
    no usable span: none could be read from the answer, or it starts at or after its end
    (the protocol scores such answers 0).

It also reports two references for a model that ignores the query:
``random_event_r1`` is the R1 of a perfect event detector that answers with one of the
video's events drawn uniformly at random (the expectation, not a draw), and
``repeated_span_share`` the share of answers with a usable span whose span is exactly the
span the same model gave another query about the same video.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from timelens_eval.errors import InputError
from timelens_eval.parsing import parse_spans
from timelens_eval.predictions import PredictionSet
from timelens_eval.spans import Span, temporal_iou
from timelens_eval.synthetic.plan import PlannedSample, SplitPlan
from timelens_eval.synthetic.scenes import Event, Scene

__all__ = ["CATEGORIES", "EventConfusions", "event_confusions"]

CATEGORIES = ("hit", "same_object", "same_colour", "other_object", "no_event", "no_span")


@dataclass(frozen=True)
class EventConfusions:
    """The answers of one prediction file, sorted by the event they land on."""

    threshold: float
    samples: int
    """Samples of the plan that the file answers."""
    missing: int
    """Samples of the plan the file does not answer (left out of every count)."""
    counts: dict[str, int]
    random_event_r1: float
    """R1@threshold (percent) of a perfect detector picking one of the video's events."""
    repeated_span_share: float
    """Percent of the answers with a usable span that repeat another query's span (same video)."""
    no_event_distances: list[float] = field(default_factory=list)
    """For ``no_event`` answers: seconds from the span's centre to the nearest event's."""

    def share(self, category: str) -> float:
        """``counts[category]`` as a percentage of the answered samples."""
        return 100.0 * self.counts[category] / self.samples if self.samples else 0.0

    def to_dict(self) -> dict[str, object]:
        distances = self.no_event_distances
        return {
            "threshold": self.threshold,
            "samples": self.samples,
            "missing": self.missing,
            "counts": dict(self.counts),
            "random_event_r1": self.random_event_r1,
            "repeated_span_share": self.repeated_span_share,
            "no_event_median_distance": statistics.median(distances) if distances else None,
        }


def _category(span: Span, own: Event, scene: Scene, gt: Span, threshold: float) -> str:
    if temporal_iou(span, gt) >= threshold:
        return "hit"
    best = max(scene.events, key=lambda e: temporal_iou(span, (e.start, e.end)))
    if temporal_iou(span, (best.start, best.end)) < threshold:
        return "no_event"
    if best.object_id == own.object_id:
        return "same_object"
    if best.colour_before == own.colour_before:
        return "same_colour"
    return "other_object"


def _random_event_hit(sample: PlannedSample, scene: Scene, threshold: float) -> float:
    gt = sample.refined_gt
    hits = sum(temporal_iou((e.start, e.end), gt) >= threshold for e in scene.events)
    return hits / len(scene.events)


def event_confusions(
    predictions: PredictionSet, plan: SplitPlan, threshold: float = 0.5
) -> EventConfusions:
    """Sort the answers of ``predictions`` (on ``plan``'s refined samples) by event.

    Every reference in the file must be a sample id of the plan: a file of another split
    or seed is refused, naming its first unknown sample and line.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    planned = {s.sample_id: s for s in plan.samples}
    scenes = {s.video_id: s for s in plan.scenes}
    answered: dict[str, Span | None] = {}
    for i, ref in enumerate(predictions.refs):
        if ref not in planned:
            raise InputError(
                f"not a sample of the synthetic {plan.config.split!r} split "
                f"(seed {plan.config.seed}); was the file made on another split or seed?",
                path=predictions.path,
                line=predictions.lines[i] if i < len(predictions.lines) else None,
                sample=ref,
            )
        spans = predictions.spans[i]
        if spans is None:  # an answer to parse, as the scorer does
            duration = scenes[planned[ref].video_id].duration
            spans = parse_spans(predictions.answers[i], duration=duration).spans
        answered[ref] = spans[0] if spans and spans[0][0] < spans[0][1] else None

    counts = dict.fromkeys(CATEGORIES, 0)
    distances: list[float] = []
    chance: list[float] = []
    by_video: dict[str, list[Span]] = defaultdict(list)
    for sample_id, span in answered.items():
        sample = planned[sample_id]
        scene = scenes[sample.video_id]
        chance.append(_random_event_hit(sample, scene, threshold))
        if span is None:
            counts["no_span"] += 1
            continue
        by_video[sample.video_id].append(span)
        category = _category(span, sample.event, scene, sample.refined_gt, threshold)
        counts[category] += 1
        if category == "no_event":
            centre = (span[0] + span[1]) / 2
            distances.append(min(abs(centre - (e.start + e.end) / 2) for e in scene.events))

    repeated = 0
    for given in by_video.values():
        for k, span in enumerate(given):
            repeated += any(other == span for j, other in enumerate(given) if j != k)
    spanned = sum(len(v) for v in by_video.values())
    return EventConfusions(
        threshold=threshold,
        samples=len(answered),
        missing=len(planned) - len(answered),
        counts=counts,
        random_event_r1=100.0 * sum(chance) / len(chance) if chance else 0.0,
        repeated_span_share=100.0 * repeated / spanned if spanned else 0.0,
        no_event_distances=sorted(distances),
    )
