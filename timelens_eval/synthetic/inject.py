"""The annotation-error taxonomy of the TimeLens paper, and how it is injected.

Categories are mutually exclusive per sample. Each split gets an exact quota per
category (largest-remainder rounding of ``rate x samples``) instead of independent
coin flips, so the realised rates differ from the targets only by rounding (well
under one point for the default test split). Which samples get which category is
drawn from the split's seeded generator, subject to what each category needs:
"multiple occurrences" needs a video where the queried event repeats (planned with
the scene), and a "duplicate query" needs another query in the same video to copy.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from timelens_eval.spans import Span, temporal_iou

__all__ = [
    "NONE",
    "INACCURATE_BOUNDARIES",
    "DUPLICATE_QUERY",
    "MULTIPLE_OCCURRENCES",
    "NO_EVENT",
    "UNCLEAR_QUERY",
    "ERROR_RATES",
    "ERROR_CATEGORIES",
    "quotas",
    "assign_categories",
    "perturb_span",
]

NONE = "none"
INACCURATE_BOUNDARIES = "inaccurate_boundaries"
DUPLICATE_QUERY = "duplicate_query"
MULTIPLE_OCCURRENCES = "multiple_occurrences"
NO_EVENT = "no_event"
UNCLEAR_QUERY = "unclear_query"

ERROR_RATES: dict[str, float] = {
    INACCURATE_BOUNDARIES: 0.349,
    DUPLICATE_QUERY: 0.206,
    MULTIPLE_OCCURRENCES: 0.084,
    NO_EVENT: 0.048,
    UNCLEAR_QUERY: 0.035,
}
"""Target share of samples per error category: the rates the TimeLens paper measured
on Charades-STA. The remaining 27.8% are clean (``"none"``)."""

ERROR_CATEGORIES: tuple[str, ...] = (NONE, *ERROR_RATES)
"""Every value ``Sample.meta["error_category"]`` can take."""


def quotas(n_samples: int, rates: Mapping[str, float] = ERROR_RATES) -> dict[str, int]:
    """Exact sample counts per category for ``n_samples`` (largest remainder), plus "none"."""
    if sum(rates.values()) > 1.0 + 1e-9:
        raise ValueError("error rates add up to more than 1")
    shares = {name: rate * n_samples for name, rate in rates.items()}
    shares[NONE] = n_samples - sum(shares.values())
    counts = {name: int(share) for name, share in shares.items()}
    left = n_samples - sum(counts.values())
    by_remainder = sorted(shares, key=lambda name: (-(shares[name] - counts[name]), name))
    for name in by_remainder[:left]:
        counts[name] += 1
    return counts


def assign_categories(
    rng: random.Random,
    video_of: Sequence[str],
    repeated: Sequence[bool],
    counts: Mapping[str, int],
) -> list[str]:
    """One category per sample, meeting ``counts`` where the constraints allow.

    ``video_of[i]`` is sample i's video; ``repeated[i]`` says its event happens more
    than once in that video (only those can be "multiple occurrences", and they must
    be, since their clean query needs an ordinal the original annotation drops).
    A video keeps at least half of its samples free of "duplicate query", so each
    duplicate has a distinct query to copy.
    """
    n = len(video_of)
    categories = [NONE] * n
    order = list(range(n))
    rng.shuffle(order)
    for i in order:
        if repeated[i]:
            categories[i] = MULTIPLE_OCCURRENCES
    per_video: dict[str, int] = {}
    for video in video_of:
        per_video[video] = per_video.get(video, 0) + 1
    duplicates: dict[str, int] = {}
    for name in (DUPLICATE_QUERY, NO_EVENT, UNCLEAR_QUERY, INACCURATE_BOUNDARIES):
        wanted = counts.get(name, 0)
        for i in order:
            if wanted == 0:
                break
            if categories[i] != NONE:
                continue
            if name == DUPLICATE_QUERY:
                video = video_of[i]
                if duplicates.get(video, 0) + 1 > per_video[video] // 2:
                    continue
                duplicates[video] = duplicates.get(video, 0) + 1
            categories[i] = name
            wanted -= 1
    return categories


def perturb_span(rng: random.Random, span: Span, duration: float) -> Span:
    """A visibly wrong window for ``span``: boundaries moved by 1-4 s, IoU at most 0.7.

    Times are rounded to 0.1 s and kept inside ``[0, duration]``.
    """
    for _ in range(200):
        start = span.start + rng.choice((-1, 1)) * rng.uniform(1.0, 4.0)
        end = span.end + rng.choice((-1, 1)) * rng.uniform(1.0, 4.0)
        start = round(min(max(start, 0.0), duration), 1)
        end = round(min(max(end, 0.0), duration), 1)
        if end - start >= 1.0 and temporal_iou((start, end), span) <= 0.7:
            return Span(start, end)
    # fall back: slide the window by its own length, whichever way fits
    length = span.end - span.start
    if span.end + length <= duration:
        return Span(round(span.start + length, 1), round(span.end + length, 1))
    return Span(round(max(0.0, span.start - length), 1), round(span.start, 1))
