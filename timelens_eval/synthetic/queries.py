"""Natural-language queries from templates.

A query names an object by its colour when the event starts and its shape ("the red
circle"); since a shape occurs at most once per scene, that name is unambiguous.
Besides the exact description of an event, this module writes the texts the
"original" variant's annotation errors need: vague queries and queries about events
that never happen.
"""

from __future__ import annotations

import random

from timelens_eval.synthetic.scenes import COLOURS, SHAPES, Event, Scene

__all__ = ["TEMPLATES", "VAGUE_TEMPLATES", "describe", "vague_query", "absent_query"]

TEMPLATES: dict[str, tuple[str, ...]] = {
    "appear": ("{obj} appears", "{obj} fades into view", "{obj} shows up"),
    "disappear": ("{obj} disappears", "{obj} fades away", "{obj} vanishes"),
    "move_left": ("{obj} moves to the left", "{obj} slides left", "{obj} travels to the left"),
    "move_right": (
        "{obj} moves to the right",
        "{obj} slides right",
        "{obj} travels to the right",
    ),
    "grow": ("{obj} grows bigger", "{obj} gets larger", "{obj} expands"),
    "shrink": ("{obj} shrinks", "{obj} gets smaller", "{obj} becomes smaller"),
    "change_colour": (
        "{obj} turns {new}",
        "{obj} changes colour to {new}",
        "{obj} changes from {old} to {new}",
    ),
    "jump": ("{obj} jumps", "{obj} jumps up and lands", "{obj} hops up and down"),
}
"""Templates per action; ``{obj}`` is e.g. "the red circle"."""

VAGUE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "appear": ("something shows up", "a shape is there"),
    "disappear": ("something is gone", "a shape goes"),
    "move_left": ("something moves", "a shape goes somewhere"),
    "move_right": ("something moves", "a shape goes somewhere"),
    "grow": ("a shape changes", "something is different"),
    "shrink": ("a shape changes", "something is different"),
    "change_colour": ("a shape changes", "the colours are different"),
    "jump": ("something moves", "a shape does something"),
}
"""Vague texts ("unclear query" errors); each could describe several events."""

_ORDINALS = {1: "first", 2: "second", 3: "third"}


def _object_name(colour: str, shape: str) -> str:
    return f"the {colour} {shape}"


def describe(
    event: Event, scene: Scene, rng: random.Random, *, with_occurrence: bool | None = None
) -> str:
    """A query that describes ``event`` (and, if it repeats, which occurrence).

    ``with_occurrence`` defaults to "when the object does this action more than once";
    pass False to get the ambiguous text a "multiple occurrences" error needs.
    """
    shape = scene.object(event.object_id).shape
    template = rng.choice(TEMPLATES[event.action])
    text = template.format(
        obj=_object_name(event.colour_before, shape),
        old=event.colour_before,
        new=event.colour_after or "",
    )
    repeated = len(scene.occurrences(event.object_id, event.action)) > 1
    if with_occurrence if with_occurrence is not None else repeated:
        text += f" for the {_ORDINALS.get(event.occurrence, f'{event.occurrence}th')} time"
    return text


def vague_query(event: Event, rng: random.Random) -> str:
    """A vague text loosely about ``event`` (an "unclear query" error)."""
    return rng.choice(VAGUE_TEMPLATES[event.action])


def absent_query(scene: Scene, rng: random.Random) -> str:
    """A query about an event that does not happen in ``scene`` ("no event occurrence").

    Either an object of the scene does an action it never does, or a shape that is not
    in the scene does something.
    """
    happens = {(scene.object(e.object_id).shape, e.action) for e in scene.events}
    candidates: list[tuple[str, str, str]] = []
    for obj in scene.objects:
        for action in ("move_left", "move_right", "grow", "shrink", "jump", "disappear"):
            if (obj.shape, action) not in happens:
                candidates.append((obj.colour, obj.shape, action))
    present = {obj.shape for obj in scene.objects}
    for shape in SHAPES:
        if shape not in present:
            for action in ("move_left", "move_right", "grow", "jump"):
                candidates.append((rng.choice(sorted(COLOURS)), shape, action))
    colour, shape, action = rng.choice(candidates)
    template = rng.choice(TEMPLATES[action])
    return template.format(obj=_object_name(colour, shape), old=colour, new="")
