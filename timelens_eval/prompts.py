"""Prompt templates and the prompt builder.

A template is instruction text with a ``{query}`` placeholder. Its hash (the first 16 hex
digits of the SHA-256 of the template text) is recorded with every result, so two runs
are comparable only when their hashes match.

:func:`build_prompt` lays a prompt out the way TimeLens does: the frames first (as the
chosen timestamp encoding presents them), then the instruction text. Adapters translate
the resulting :class:`~timelens_eval.messages.PromptMessage` into their API's format.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from timelens_eval.errors import ConfigError
from timelens_eval.messages import Part, PromptMessage, TextPart, VideoSource
from timelens_eval.registry import Registry
from timelens_eval.video.types import Frames

__all__ = [
    "TEMPLATES",
    "TIMELENS_PROMPT",
    "TIMELENS_7B_PROMPT",
    "PromptTemplate",
    "build_prompt",
    "get_template",
    "register_template",
    "template_hash",
]

TIMELENS_PROMPT = (
    "Please find the visual event described by the sentence '{query}', determining its "
    "starting and ending times. The format should be: 'The event happens in <start time> - "
    "<end time> seconds'."
)
"""The TimeLens evaluation prompt, verbatim."""

TIMELENS_7B_PROMPT = (
    "You are given a video with multiple frames. The numbers before each video frame "
    "indicate its sampling timestamp (in seconds). " + TIMELENS_PROMPT
)
"""The TimeLens-7B prompt, for frames with interleaved textual timestamps."""


@dataclass(frozen=True)
class PromptTemplate:
    """Instruction text with a ``{query}`` placeholder."""

    name: str
    text: str
    description: str = ""

    @property
    def hash(self) -> str:
        """First 16 hex digits of the SHA-256 of the template text."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]

    def render(self, query: str) -> str:
        """The instruction for ``query`` (inserted as is; other braces are left alone)."""
        return self.text.replace("{query}", query)


TEMPLATES: Registry[PromptTemplate] = Registry("prompt template")


def register_template(
    name: str, text: str, *, description: str = "", replace: bool = False
) -> PromptTemplate:
    """Register a template; model-specific adapters add their own this way."""
    if "{query}" not in text:
        raise ConfigError(f"prompt template {name!r} has no '{{query}}' placeholder")
    template = PromptTemplate(name, text, description)
    TEMPLATES.register(name, template, replace=replace)
    return template


def get_template(name: str) -> PromptTemplate:
    """The registered template ``name`` (unknown names raise with suggestions)."""
    return TEMPLATES.get(name)


def template_hash(name: str) -> str:
    """The hash of the registered template ``name``."""
    return get_template(name).hash


register_template(
    "timelens",
    TIMELENS_PROMPT,
    description="The TimeLens evaluation prompt (frames without timestamp text).",
)
register_template(
    "timelens-7b",
    TIMELENS_7B_PROMPT,
    description="TimeLens-7B: explains the timestamps interleaved before frames.",
)


def build_prompt(
    query: str, frames: Frames | None, template: str, encoding: str, duration: float
) -> PromptMessage:
    """One user turn: the encoded frames (if any), then the template's instruction text.

    ``duration`` is the video duration the encoding may state (the ``list`` encodings).
    """
    from timelens_eval.video.encodings import ENCODINGS, encode_frames

    chosen = get_template(template)
    ENCODINGS.get(encoding)  # unknown names fail even without frames
    parts: list[Part] = []
    video = None
    if frames is not None and len(frames) > 0:
        parts.extend(encode_frames(frames, encoding, duration))
        if frames.indices is not None and frames.source_fps and frames.source_frames:
            video = VideoSource(
                fps=float(frames.source_fps),
                frame_indices=tuple(int(i) for i in frames.indices),
                total_frames=int(frames.source_frames),
            )
    parts.append(TextPart(chosen.render(query)))
    return PromptMessage(
        parts=tuple(parts),
        template=chosen.name,
        template_hash=chosen.hash,
        encoding=encoding,
        video=video,
    )
