"""Verifiable rewards for grounding RL: temporal IoU through the project's one parser.

The IoU reward parses an answer with :func:`timelens_eval.parsing.parse_spans` (the same
parser the scorer uses), takes the *first* span and scores it with
:func:`timelens_eval.metrics.score_parsed` against the *first* ground-truth window, as
TimeLens' released reward does (``gt_spans: best`` scores it against the best-matching
window instead, as evaluation does). An answer with no span, or whose first span has
``start >= end``, earns 0. Hedging therefore does not pay: listing several spans scores
only the first, and answering the whole video scores ``gt_length / duration``.

TimeLens-7B's recipe first moves each ground-truth window onto the frame times the
model was shown (:func:`snap_span_to_times`): the start to the latest shown time at or
before it, the end to the earliest shown time at or after it.

Thinking mode (for ablations) reads the span from the last ``<answer>...</answer>`` tag
only (no tag: 0) and adds a separate format reward for
``<think>...</think><answer>...</answer>``.

Thinking-free training also watches the answers' form: ``answer_format`` scores 1 for a
completion that is exactly the answer format (by default TimeLens', ``The event happens
in <s> - <e> seconds.``) and 0 otherwise, with weight 0. It never changes the reward or
the advantages; TRL logs its mean every step (``rewards/answer_format/mean``), which the
early-stopping guard ``min_format_rate`` reads. The IoU reward alone can be earned by
text that is no longer an answer but still parses into a span.

The functions named ``*_reward`` follow TRL's reward-function convention: they take the
batch's ``completions`` plus the dataset columns as keyword arguments and return one
float per completion.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from timelens_eval.metrics import score_parsed
from timelens_eval.parsing import parse_spans
from timelens_eval.protocol import ParseOptions

__all__ = [
    "RewardConfig",
    "completion_text",
    "extract_answer",
    "grounding_reward",
    "snap_span_to_times",
    "format_ok",
    "tiou_reward",
    "format_reward",
    "TIMELENS_ANSWER_FORMAT",
    "answer_format_ok",
    "answer_format_reward",
    "make_reward_funcs",
    "group_reward_stats",
]

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_THINK_FORMAT = re.compile(r"\s*<think>.*?</think>\s*<answer>.*?</answer>\s*", re.DOTALL)

RewardFunc = Callable[..., list[float]]

TIMELENS_ANSWER_FORMAT = (
    r"The event happens in \d+(?:\.\d+)? - \d+(?:\.\d+)? seconds"
    r"(?:, \d+(?:\.\d+)? - \d+(?:\.\d+)? seconds)*\.?"
)
"""The answer the TimeLens prompt asks for, as a regular expression (whole text, after
stripping surrounding whitespace); several windows are joined as TimeLens' SFT answers
join them (``... 1.0 - 3.0 seconds, 5.0 - 6.0 seconds.``)."""


class RewardConfig(BaseModel):
    """How completions are rewarded. Recorded with every training run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    thinking: bool = Field(
        False,
        description="Thinking mode: read the span from <answer>...</answer> and add a format "
        "reward. TimeLens' recipe is thinking-free (False).",
    )
    format_weight: float = Field(
        1.0, ge=0, description="Weight of the format reward in thinking mode."
    )
    parse: ParseOptions = Field(
        default_factory=ParseOptions, description="Parser options (default: TimeLens')."
    )
    gt_spans: Literal["first", "best"] = Field(
        "first",
        description="Multi-window ground truth: score against the first window (TimeLens' "
        "reward) or the best-matching one (evaluation).",
    )
    snap_gt_to_frames: bool = Field(
        False,
        description="Move each GT window onto the times of the frames the model saw, one time "
        "per temporal patch (TimeLens-7B's recipe).",
    )
    answer_format: str | None = Field(
        TIMELENS_ANSWER_FORMAT,
        description="Regular expression a well-formed thinking-free answer matches in full; "
        "the share of completions that do is logged as rewards/answer_format/mean (weight "
        "0: it never changes the reward). None: not logged.",
    )

    @field_validator("answer_format")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"answer_format is not a regular expression: {exc}") from None
        return value


def completion_text(completion: Any) -> str:
    """The text of one TRL completion: a string, or a conversation whose last turn is read."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return str(completion.get("content") or "")
    if isinstance(completion, Sequence) and completion:
        return completion_text(completion[-1])
    return ""


def extract_answer(text: str) -> str | None:
    """Content of the last ``<answer>...</answer>`` tag, or None when there is none."""
    found = _ANSWER.findall(text or "")
    return found[-1] if found else None


def format_ok(text: str) -> bool:
    """True when ``text`` is exactly ``<think>...</think> <answer>...</answer>``."""
    return _THINK_FORMAT.fullmatch(text or "") is not None


def grounding_reward(
    text: str | None,
    gt: Sequence[Sequence[float]],
    *,
    duration: float | None = None,
    config: RewardConfig | None = None,
) -> float:
    """Temporal IoU of the first parsed span of ``text`` against the GT windows ``gt``
    (the first window, or the best-matching one with ``config.gt_spans == "best"``).

    0 for no span or a reversed first span. With ``config.thinking`` only the last
    ``<answer>`` tag is read (no tag: 0).
    """
    config = config or RewardConfig()
    if config.thinking:
        text = extract_answer(text or "")
    # Only the first span is scored: a huge answer costs only the scan that finds it.
    parsed = parse_spans(text, duration=duration, options=config.parse, max_spans=1)
    windows = _windows(gt)
    if config.gt_spans == "first":
        windows = windows[:1]
    return float(score_parsed(parsed, windows))


def snap_span_to_times(span: Sequence[float], times: Sequence[float]) -> tuple[float, float]:
    """``span`` moved onto the shown ``times`` (ascending seconds).

    The start becomes the latest time at or before it (the first time when none is), the
    end the earliest time at or after it, not before the new start (the last time when
    none is). A window between two shown times thus widens to the frames around it.
    """
    grid = np.asarray(times)  # ints or floats alike: the result is read with float()
    if grid.size == 0:
        raise ValueError("no frame times to snap to")
    start, end = float(span[0]), float(span[1])
    first = max(int(np.searchsorted(grid, start, side="right")) - 1, 0)
    # searchsorted's default side ("left"): the earliest time at or after the end.
    last = int(np.searchsorted(grid[first:], end)) + first
    last = min(last, grid.size - 1)
    return float(grid[first]), float(grid[last])


def _windows(gt: Sequence[Any]) -> list[tuple[float, float]]:
    """GT as a list of windows; a single flat ``[start, end]`` is accepted too."""
    if len(gt) == 2 and all(isinstance(v, (int, float)) for v in gt):
        return [(float(gt[0]), float(gt[1]))]
    return [(float(w[0]), float(w[1])) for w in gt]


def tiou_reward(
    completions: Sequence[Any],
    gt: Sequence[Sequence[Sequence[float]]],
    duration: Sequence[float] | None = None,
    *,
    reward_config: RewardConfig | None = None,
    **_: Any,
) -> list[float]:
    """TRL reward function: one temporal IoU per completion.

    Reads the dataset columns ``gt`` (windows) and ``duration``.
    """
    durations = list(duration) if duration is not None else [None] * len(completions)
    return [
        grounding_reward(completion_text(c), g, duration=d, config=reward_config)
        for c, g, d in zip(completions, gt, durations, strict=True)
    ]


def format_reward(completions: Sequence[Any], **_: Any) -> list[float]:
    """TRL reward function for thinking mode: 1 for the think/answer format, else 0."""
    return [1.0 if format_ok(completion_text(c)) else 0.0 for c in completions]


def answer_format_ok(text: str, pattern: str = TIMELENS_ANSWER_FORMAT) -> bool:
    """True when ``text`` (surrounding whitespace aside) is exactly the answer format."""
    return re.fullmatch(pattern, (text or "").strip()) is not None


def answer_format_reward(
    completions: Sequence[Any], pattern: str = TIMELENS_ANSWER_FORMAT, **_: Any
) -> list[float]:
    """1 for each completion in the answer format, else 0 (a monitor: weight 0)."""
    return [float(answer_format_ok(completion_text(c), pattern)) for c in completions]


def make_reward_funcs(config: RewardConfig | None = None) -> tuple[list[RewardFunc], list[float]]:
    """The reward functions and their weights for ``config``: IoU (plus the weight-0
    ``answer_format`` monitor when ``config.answer_format`` is set), or, in thinking mode,
    IoU and the think/answer format reward."""
    config = config or RewardConfig()

    def tiou(completions: Sequence[Any], gt: Any, duration: Any = None, **kw: Any) -> list[float]:
        return tiou_reward(completions, gt, duration, reward_config=config)

    tiou.__name__ = "tiou"
    if not config.thinking:
        if config.answer_format is None:
            return [tiou], [1.0]
        pattern = config.answer_format

        def answer_format(completions: Sequence[Any], **kw: Any) -> list[float]:
            return answer_format_reward(completions, pattern)

        return [tiou, answer_format], [1.0, 0.0]

    def format_(completions: Sequence[Any], **kw: Any) -> list[float]:
        return format_reward(completions)

    format_.__name__ = "format"
    return [tiou, format_], [1.0, config.format_weight]


def group_reward_stats(
    rewards: Sequence[float] | np.ndarray, num_generations: int
) -> dict[str, float]:
    """Within-group statistics of a batch of rewards laid out as consecutive groups.

    Returns the mean within-group (population) standard deviation, the fraction of groups
    whose rewards are all equal (zero advantage, no learning signal) and the mean reward.
    """
    values = np.asarray(rewards, dtype=np.float64)
    if num_generations < 1 or values.size % num_generations:
        raise ValueError(
            f"{values.size} rewards do not split into groups of {num_generations} generations"
        )
    groups = values.reshape(-1, num_generations)
    stds = np.nanstd(groups, axis=1)
    return {
        "reward_mean": float(np.nanmean(groups)),
        "reward_std_within_group": float(np.mean(stds)),
        "frac_groups_zero_std": float(np.mean(np.isclose(stds, 0.0))),
    }
