"""Reward tables: temporal IoU through parse_spans, hedging, thinking mode, group stats."""

from __future__ import annotations

import math

import numpy as np
import pytest

from timelens_eval.protocol import ParseOptions
from timelens_eval.rlvr.reward import (
    RewardConfig,
    answer_format_ok,
    answer_format_reward,
    completion_text,
    format_reward,
    grounding_reward,
    group_reward_stats,
    make_reward_funcs,
    snap_span_to_times,
    tiou_reward,
)

GT = [[10.0, 20.0]]
DURATION = 60.0

# (answer, expected reward) for GT [10, 20] in a 60 s video. Expected values are IoUs
# worked out by hand: overlap / hull.
TABLE = [
    ("The event happens in 10 - 20 seconds.", 1.0),
    ("The event happens in 10.0 - 20.0 seconds", 1.0),
    ("The event happens in 12 - 18 seconds.", 6 / 10),
    ("The event happens in 15 - 25 seconds.", 5 / 15),
    ("The event happens in 0:10 - 0:20.", 1.0),
    ("From 10 to 20 seconds.", 1.0),
    ("10 20", 1.0),
    ("The event happens in 30 - 40 seconds.", 0.0),  # disjoint
    ("The event happens in 20 - 10 seconds.", 0.0),  # reversed
    ("The event happens in 15 - 15 seconds.", 0.0),  # start == end
    ("I cannot tell when it happens.", 0.0),  # no span
    ("", 0.0),
    # Hedging: only the first span is scored.
    ("The event happens in 30 - 40 seconds, or maybe 10 - 20 seconds.", 0.0),
    ("The event happens in 10 - 20 seconds, or maybe 30 - 40 seconds.", 1.0),
    ("Either 0 - 5, 10 - 20 or 50 - 60 seconds.", 0.0),
    # Hedging with the whole video: IoU = gt length / duration.
    ("The event happens in 0 - 60 seconds.", 10 / 60),
    ("The event happens in 0:00 - 1:00.", 10 / 60),
]


@pytest.mark.parametrize("answer,expected", TABLE)
def test_reward_table(answer: str, expected: float) -> None:
    assert grounding_reward(answer, GT, duration=DURATION) == pytest.approx(expected)


def test_hedging_never_beats_a_committed_answer() -> None:
    committed = grounding_reward("The event happens in 10 - 20 seconds.", GT, duration=DURATION)
    for hedge in ("0 - 60 seconds", "0 - 30 seconds", "5 - 25 seconds"):
        assert grounding_reward(hedge, GT, duration=DURATION) < committed


def test_multi_window_gt_is_scored_by_its_first_window_as_timelens_does() -> None:
    """TimeLens' reward takes the first GT window (reward_funcs.py); evaluation's
    best-matching window is an option."""
    windows = [[0.0, 5.0], [30.0, 40.0]]
    assert grounding_reward("30 - 40", windows) == 0.0
    assert grounding_reward("0 - 5", windows) == 1.0
    assert grounding_reward("2 - 5", windows) == pytest.approx(3 / 5)
    best = RewardConfig(gt_spans="best")
    assert grounding_reward("30 - 40", windows, config=best) == 1.0
    assert grounding_reward("2 - 5", windows, config=best) == pytest.approx(3 / 5)
    # A flat [start, end] is accepted as one window.
    assert grounding_reward("2 - 5", [0.0, 5.0]) == pytest.approx(3 / 5)


SNAP_TABLE = [
    # (span, frame times, snapped): start to the latest time at or before it, end to the
    # earliest at or after it (never before the new start).
    ((2.5, 5.5), [0, 2, 4, 6, 8], (2.0, 6.0)),
    ((2.0, 6.0), [0, 2, 4, 6, 8], (2.0, 6.0)),  # on the grid: unchanged
    ((2.1, 2.9), [0, 2, 4, 6, 8], (2.0, 4.0)),  # inside one gap: widened to both frames
    ((0.0, 0.5), [1, 2, 3], (1.0, 1.0)),  # before the first frame: the first
    ((8.5, 9.5), [0, 2, 4, 6, 8], (8.0, 8.0)),  # past the last frame: the last
    ((3.0, 3.0), [0, 2, 4], (2.0, 4.0)),
    ((5.0, 1.0), [0, 2, 4, 6], (4.0, 4.0)),  # reversed: the end never precedes the start
]


@pytest.mark.parametrize(("span", "times", "snapped"), SNAP_TABLE)
def test_gt_snaps_to_the_frame_times_shown(span, times, snapped) -> None:  # type: ignore[no-untyped-def]
    assert snap_span_to_times(span, times) == snapped


def test_one_frame_shown_holds_the_whole_gt_and_no_frame_is_an_error() -> None:
    # A clip sampled to a single frame still gives a (zero-length) target on that frame.
    assert snap_span_to_times((0.5, 9.0), [3.0]) == (3.0, 3.0)
    with pytest.raises(ValueError, match=r"^no frame times to snap to$"):
        snap_span_to_times((0.5, 9.0), [])


def test_out_of_range_answers_are_scored_as_is() -> None:
    # The scorer scores an out-of-range first span as is (status OUT_OF_RANGE); so does the reward.
    assert grounding_reward("50 - 70", [[50.0, 60.0]], duration=60.0) == pytest.approx(0.5)


THINKING_TABLE = [
    ("<think>look at 10 s</think><answer>The event happens in 10 - 20 seconds.</answer>", 1.0, 1.0),
    ("<think>first 30 - 40</think> <answer>12 - 18</answer>", 0.6, 1.0),
    ("The event happens in 10 - 20 seconds.", 0.0, 0.0),  # no tag: 0, span outside ignored
    ("<answer>10 - 20</answer>", 1.0, 0.0),  # tag but no think block
    ("<think>x</think><answer>1 - 2</answer><answer>10 - 20</answer>", 1.0, 1.0),  # last tag
    ("<think>x</think><answer>none</answer> trailing", 0.0, 0.0),
]


@pytest.mark.parametrize("answer,iou,fmt", THINKING_TABLE)
def test_thinking_mode_table(answer: str, iou: float, fmt: float) -> None:
    config = RewardConfig(thinking=True)
    assert grounding_reward(answer, GT, config=config) == pytest.approx(iou)
    assert format_reward([answer]) == [fmt]


def test_trl_reward_functions_read_conversational_completions() -> None:
    completions = [
        [{"role": "assistant", "content": "The event happens in 10 - 20 seconds."}],
        [{"role": "assistant", "content": "no idea"}],
        "The event happens in 15 - 25 seconds.",
    ]
    rewards = tiou_reward(completions, gt=[GT, GT, GT], duration=[DURATION] * 3)
    assert rewards == pytest.approx([1.0, 0.0, 1 / 3])
    assert completion_text([]) == ""

    funcs, weights = make_reward_funcs()
    assert [f.__name__ for f in funcs] == ["tiou", "answer_format"] and weights == [1.0, 0.0]
    assert funcs[0](completions=completions, gt=[GT] * 3, prompts=None) == pytest.approx(rewards)
    assert funcs[1](completions=completions, gt=[GT] * 3) == [1.0, 0.0, 1.0]
    funcs, weights = make_reward_funcs(RewardConfig(answer_format=None))
    assert [f.__name__ for f in funcs] == ["tiou"] and weights == [1.0]

    funcs, weights = make_reward_funcs(RewardConfig(thinking=True, format_weight=0.5))
    assert [f.__name__ for f in funcs] == ["tiou", "format"] and weights == [1.0, 0.5]
    # Thinking mode ignores spans outside the answer tag.
    assert funcs[0](completions=completions, gt=[GT] * 3) == [0.0, 0.0, 0.0]


def test_reward_matches_the_scorer_for_every_answer() -> None:
    """The reward is the evaluation IoU: compare with the metrics module's score_answer."""
    from timelens_eval.metrics import score_answer

    for answer, _ in TABLE + [(a, 0) for a, _, _ in THINKING_TABLE]:
        expected = score_answer(answer, [(10.0, 20.0)], duration=DURATION).iou
        assert grounding_reward(answer, GT, duration=DURATION) == pytest.approx(expected)


def test_group_reward_stats() -> None:
    rewards = [0.0, 1.0, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5]
    stats = group_reward_stats(rewards, 4)
    assert stats["reward_std_within_group"] == pytest.approx(0.25)  # (0.5 + 0) / 2
    assert stats["frac_groups_zero_std"] == 0.5
    assert stats["reward_mean"] == pytest.approx(0.5)
    # The batch-wide std (what TRL logs as reward_std) differs from the within-group one.
    assert np.std(rewards) != pytest.approx(stats["reward_std_within_group"])
    with pytest.raises(ValueError):
        group_reward_stats([1.0, 2.0, 3.0], 2)
    assert not math.isnan(group_reward_stats([1.0], 1)["reward_std_within_group"])


ANSWER_FORMAT_TABLE = [
    ("The event happens in 10 - 20 seconds.", True),
    ("  The event happens in 10.5 - 20.0 seconds\n", True),
    ("The event happens in 10.0 - 20.0 seconds. Then it ends.", False),
    ("The event happens in 1.0 - 3.0 seconds, 5.0 - 6.0 seconds.", True),  # SFT's form
    ("The event happens in 1.0 - 3.0 seconds, 5.0 seconds.", False),
    ("The seconds.0 seconds.0 - 13.0 seconds.0 - 14.0 seconds.", False),  # parses, hacked
    ("10 - 20", False),
    ("", False),
]


@pytest.mark.parametrize(("answer", "well_formed"), ANSWER_FORMAT_TABLE)
def test_answer_format_monitor(answer: str, well_formed: bool) -> None:
    assert answer_format_ok(answer) is well_formed
    assert answer_format_reward([[{"role": "assistant", "content": answer}]]) == [
        float(well_formed)
    ]


def test_the_hacked_answers_earn_iou_but_fail_the_format() -> None:
    """Text that stopped being an answer still parses into a span and earns reward: only
    the format monitor tells it apart."""
    hacked = "The seconds.0 seconds.0 - 13.0 seconds.0 - 14.0 seconds."
    assert grounding_reward(hacked, [(5.0, 15.0)], duration=DURATION) > 0.3
    assert not answer_format_ok(hacked)
    assert answer_format_ok("from 3 to 5 s", r"from \d+ to \d+ s")  # any model's own format
    with pytest.raises(ValueError, match="answer_format"):
        RewardConfig(answer_format="The event (happens")


def test_duration_and_parse_options_reach_the_reward() -> None:
    clip = RewardConfig(parse=ParseOptions(clip_to_duration=True))
    assert grounding_reward("50 - 80", [(50.0, 60.0)], duration=60.0, config=clip) == 1.0
    assert grounding_reward("50 - 80", [(50.0, 60.0)], duration=60.0) == pytest.approx(1 / 3)
    rewards = tiou_reward(["50 - 80", "50 - 80"], [[(50, 60)], [(50, 60)]], [60.0, 100.0],
                          reward_config=clip)  # fmt: skip
    assert rewards == [1.0, pytest.approx(1 / 3)]
    units = RewardConfig(parse=ParseOptions(units=True))
    assert grounding_reward("1 - 2 min", [(60.0, 120.0)], config=units) == 1.0
    assert grounding_reward("1 - 2 min", [(60.0, 120.0)]) == 0.0


def test_reward_columns_must_be_aligned() -> None:
    with pytest.raises(ValueError):
        tiou_reward(["1 - 2", "3 - 4"], [[(1, 2)]])
    with pytest.raises(ValueError):
        tiou_reward(["1 - 2"], [[(1, 2)]], [10.0, 20.0])


def test_completion_without_content_is_empty_text() -> None:
    assert completion_text({"role": "assistant", "content": None}) == ""
    assert completion_text([]) == ""
    assert completion_text(None) == ""


def test_reward_functions_carry_the_config_through() -> None:
    clip = RewardConfig(parse=ParseOptions(clip_to_duration=True), answer_format=r"\d+ - \d+")
    funcs, weights = make_reward_funcs(clip)
    assert [f.__name__ for f in funcs] == ["tiou", "answer_format"] and weights == [1.0, 0.0]
    assert funcs[0](["50 - 80"], gt=[[(50, 60)]], duration=[60.0]) == [1.0]
    assert funcs[1](["50 - 80", "The event happens in 1 - 2 seconds."]) == [1.0, 0.0]
    thinking, _ = make_reward_funcs(RewardConfig(thinking=True, format_weight=0.5))
    assert thinking[1](["<think>a</think><answer>1 - 2</answer>", "1 - 2"]) == [1.0, 0.0]
    assert answer_format_reward(["7 - 9"], r"\d - \d") == [1.0]
    assert answer_format_ok(None, "") and not answer_format_ok(None, "X+")


@pytest.mark.parametrize("generations", [0, -1, 3])
def test_group_stats_refuse_rewards_that_do_not_split_into_groups(generations: int) -> None:
    with pytest.raises(ValueError, match="^4 rewards do not split into groups of"):
        group_reward_stats([1.0, 0.0, 0.5, 0.5], generations)
