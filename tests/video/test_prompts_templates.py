"""Prompt templates (verbatim texts, hashes) and the prompt builder's part layout."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from timelens_eval.errors import ConfigError, UnknownNameError
from timelens_eval.messages import ImagePart, PromptMessage, TextPart
from timelens_eval.prompts import (
    TEMPLATES,
    build_prompt,
    get_template,
    register_template,
    template_hash,
)
from timelens_eval.video.types import Frames

# Typed from the TimeLens paper / repository, not copied from the code under test.
PAPER_PROMPT = (
    "Please find the visual event described by the sentence 'a person opens a door', "
    "determining its starting and ending times. The format should be: 'The event happens "
    "in <start time> - <end time> seconds'."
)
PREFIX_7B = (
    "You are given a video with multiple frames. The numbers before each video frame "
    "indicate its sampling timestamp (in seconds). "
)


def frames(timestamps: list[float]) -> Frames:
    images = np.zeros((len(timestamps), 28, 28, 3), dtype=np.uint8)
    for i in range(len(timestamps)):
        images[i] += i
    return Frames(images=images, timestamps=np.asarray(timestamps), video_duration=3.0)


def test_timelens_prompt_is_verbatim() -> None:
    assert get_template("timelens").render("a person opens a door") == PAPER_PROMPT
    assert get_template("timelens-7b").render("a person opens a door") == PREFIX_7B + PAPER_PROMPT


def test_template_hash_is_sha256_of_the_text() -> None:
    for name in ("timelens", "timelens-7b"):
        text = get_template(name).text
        assert template_hash(name) == hashlib.sha256(text.encode()).hexdigest()[:16]
        assert len(template_hash(name)) == 16
    assert template_hash("timelens") != template_hash("timelens-7b")
    # The hash is of the template, not of a rendered prompt: queries do not change it.
    msg_a = build_prompt("a", None, "timelens", "none", 1.0)
    msg_b = build_prompt("b", None, "timelens", "none", 1.0)
    assert msg_a.template_hash == msg_b.template_hash == template_hash("timelens")


def test_build_prompt_puts_frames_first_then_the_instruction() -> None:
    msg = build_prompt(
        "a person opens a door", frames([0.0, 0.5, 1.04]), "timelens-7b", "interleaved", 3.0
    )
    assert isinstance(msg, PromptMessage)
    assert (msg.template, msg.encoding) == ("timelens-7b", "interleaved")
    kinds = [type(p).__name__ for p in msg.parts]
    assert kinds == ["TextPart", "ImagePart"] * 3 + ["TextPart"]
    assert [p.text for p in msg.parts if isinstance(p, TextPart)] == [
        "0.0s",
        "0.5s",
        "1.0s",
        PREFIX_7B + PAPER_PROMPT,
    ]
    assert [p.index for p in msg.images] == [0, 1, 2]
    np.testing.assert_allclose(msg.timestamps, [0.0, 0.5, 1.04])
    assert msg.text("<image>") == ("0.0s<image>0.5s<image>1.0s<image>" + PREFIX_7B + PAPER_PROMPT)


def test_build_prompt_with_list_and_none_encodings() -> None:
    msg = build_prompt("q", frames([0.0, 2.0]), "timelens", "list", 3.0)
    assert msg.text("<image>") == (
        "This video samples 2 frames of a 3.0-second video at 0.0, 2.0 seconds."
        "<image><image>" + get_template("timelens").render("q")
    )
    plain = build_prompt("q", frames([0.0, 2.0]), "timelens", "none", 3.0)
    assert [type(p) for p in plain.parts] == [ImagePart, ImagePart, TextPart]


def test_build_prompt_without_frames_is_text_only() -> None:
    msg = build_prompt("q", None, "timelens", "interleaved", 3.0)
    assert msg.parts == (TextPart(get_template("timelens").render("q")),)


def test_queries_with_braces_and_quotes_are_inserted_as_is() -> None:
    text = get_template("timelens").render("the {man} isn't here")
    assert "sentence 'the {man} isn't here'" in text


def test_unknown_names_raise_with_suggestions() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'timelens'"):
        build_prompt("q", None, "timelen", "none", 1.0)
    with pytest.raises(UnknownNameError, match="timestamp encoding"):
        build_prompt("q", None, "timelens", "overlays", 1.0)


def test_model_specific_templates_can_be_registered() -> None:
    try:
        tpl = register_template("test-model", "Find '{query}'. Answer as <start>-<end>.")
        assert tpl.hash == hashlib.sha256(tpl.text.encode()).hexdigest()[:16]
        msg = build_prompt("a dog", None, "test-model", "none", 1.0)
        assert msg.text() == "Find 'a dog'. Answer as <start>-<end>."
        with pytest.raises(ConfigError, match="already registered"):
            register_template("test-model", "x {query}")
        with pytest.raises(ConfigError, match="placeholder"):
            register_template("test-bad", "no placeholder here")
    finally:
        TEMPLATES._entries.pop("test-model", None)
