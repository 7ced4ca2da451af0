"""The scene grammar: objects, the actions they perform, and their state over time.

A scene is a short video of a few shapes on a plain background. Each object has a
unique shape in its scene, a colour, a size level and a horizontal position; it may
start hidden (and then ``appear``) and may end by disappearing. Between the start and
the end of an :class:`Event` the object's state changes linearly; outside events it
is still. Event boundaries lie on a 0.5 s grid that is also a whole number of frames,
so a model that reads frames with their timestamps can localise them exactly.

Planning a scene only draws numbers from a seeded generator; no pixels are made here
(see :mod:`timelens_eval.synthetic.render`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = [
    "SHAPES",
    "COLOURS",
    "ACTIONS",
    "SIZE_LEVELS",
    "TIME_GRID",
    "SceneConfig",
    "SceneObject",
    "Event",
    "Scene",
    "ObjectState",
    "plan_scene",
    "shapes_overlap",
    "object_state",
]

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
"""Shape names; each scene uses each shape at most once, so a shape names an object."""

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 190, 70),
    "blue": (50, 100, 235),
    "yellow": (240, 215, 40),
    "purple": (155, 70, 210),
    "orange": (250, 140, 30),
    "white": (245, 245, 245),
}
"""Colour names and their sRGB values, chosen to be far apart on a dark background."""

ACTIONS: tuple[str, ...] = (
    "appear",
    "disappear",
    "move_left",
    "move_right",
    "grow",
    "shrink",
    "change_colour",
    "jump",
)
"""What an object can do; ``jump`` (up and back down) is the only action that ends
where it started, so it is the one that can repeat within a scene."""

SIZE_LEVELS: tuple[float, ...] = (0.045, 0.065, 0.09)
"""Object radius per size level, as a fraction of the frame width."""

TIME_GRID = 0.5
"""Seconds; every event boundary is a multiple of this."""

_MIN_EVENT, _MAX_EVENT = 1.5, 5.0  # event duration range (s)
_MIN_GAP = 0.5  # still time between two events of the same object (s)
_MIN_MOVE = 0.2  # shortest move, as a fraction of the frame width
_JUMP_HEIGHT = 0.25  # fraction of the frame height
_BOUND = 1.35  # every shape, with its soft outline, fits in a circle of this many radii


@dataclass(frozen=True)
class SceneConfig:
    """Size and timing of the generated videos."""

    width: int = 224
    height: int = 160
    fps: int = 8
    min_duration: int = 8
    """Shortest video, whole seconds."""
    max_duration: int = 30
    min_objects: int = 2
    max_objects: int = 3

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "min_duration": self.min_duration,
            "max_duration": self.max_duration,
            "min_objects": self.min_objects,
            "max_objects": self.max_objects,
        }


@dataclass(frozen=True)
class SceneObject:
    """One shape and its state at time 0."""

    object_id: int
    shape: str
    colour: str
    size: int
    """Index into :data:`SIZE_LEVELS`."""
    x: float
    """Centre, as a fraction of the frame width."""
    y: float
    """Centre, as a fraction of the frame height."""
    visible: bool = True


@dataclass(frozen=True)
class Event:
    """One action of one object over ``[start, end]`` seconds."""

    event_id: int
    object_id: int
    action: str
    start: float
    end: float
    colour_before: str
    """The object's colour when the event starts (how a query names the object)."""
    colour_after: str | None = None
    """New colour, for ``change_colour``."""
    dx: float = 0.0
    """Horizontal displacement, fraction of the frame width (moves)."""
    size_after: int | None = None
    """New size level (grow, shrink)."""
    occurrence: int = 1
    """1 for the first time this object does this action, 2 for the second, ..."""


@dataclass
class Scene:
    """A planned video: its objects and the events they perform."""

    video_id: str
    duration: float
    config: SceneConfig
    objects: list[SceneObject]
    events: list[Event] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return round(self.duration * self.config.fps)

    def object(self, object_id: int) -> SceneObject:
        return self.objects[object_id]

    def occurrences(self, object_id: int, action: str) -> list[Event]:
        """All events of ``object_id`` doing ``action``, in time order."""
        return [e for e in self.events if e.object_id == object_id and e.action == action]


class ObjectState(NamedTuple):
    """What the renderer draws for one object at one instant."""

    opacity: float
    x: float
    y: float
    radius: float
    """Fraction of the frame width."""
    rgb: tuple[float, float, float]


def _grid(value: float) -> float:
    return round(value / TIME_GRID) * TIME_GRID


def _choose_actions(
    rng: random.Random, obj: SceneObject, count: int, repeat_jump: bool
) -> list[str]:
    """A feasible action sequence for one object: no (object, action) pair twice,
    except the deliberate repeated jump."""
    actions: list[str] = []
    x, size, visible = obj.x, obj.size, obj.visible
    if not visible:
        actions.append("appear")
        visible = True
    if repeat_jump:
        actions += ["jump", "jump"]
    while len(actions) < count:
        done = set(actions)
        options = []
        if x <= 1 - 0.12 - _MIN_MOVE and "move_right" not in done:
            options.append("move_right")
        if x >= 0.12 + _MIN_MOVE and "move_left" not in done:
            options.append("move_left")
        if size < len(SIZE_LEVELS) - 1 and "grow" not in done:
            options.append("grow")
        if size > 0 and "shrink" not in done:
            options.append("shrink")
        if "change_colour" not in done and not repeat_jump:  # keep one name for both jumps
            options.append("change_colour")
        if "jump" not in done:
            options.append("jump")
        if not options:
            break
        action = rng.choice(options)
        if action in ("move_right", "move_left"):
            # The distance is drawn later; after one move the opposite move always has
            # room (at least the distance just travelled), and the same one is not repeated.
            x = 0.5
        elif action == "grow":
            size += 1
        elif action == "shrink":
            size -= 1
        actions.append(action)
    if repeat_jump:
        # keep the two jumps apart in time: move one of them to the end
        first = actions.index("jump")
        actions.pop(first)
        actions.append("jump")
    return actions


def _timings(rng: random.Random, count: int, duration: float) -> list[tuple[float, float]] | None:
    """``count`` non-overlapping grid-aligned spans inside ``[0.5, duration - 0.5]``."""
    lengths = [_grid(rng.uniform(_MIN_EVENT, _MAX_EVENT)) for _ in range(count)]
    usable = duration - 2 * TIME_GRID
    slack = usable - sum(lengths) - _MIN_GAP * (count - 1)
    while slack < 0 and max(lengths) > _MIN_EVENT:
        i = lengths.index(max(lengths))
        lengths[i] -= TIME_GRID
        slack += TIME_GRID
    if slack < 0:
        return None
    cuts = sorted(_grid(rng.uniform(0, slack)) for _ in range(count))
    spans = []
    t = TIME_GRID
    previous_cut = 0.0
    for length, cut in zip(lengths, cuts, strict=True):
        t += cut - previous_cut
        previous_cut = cut
        spans.append((t, t + length))
        t += length + _MIN_GAP
    return spans


def plan_scene(
    rng: random.Random,
    video_id: str,
    config: SceneConfig,
    *,
    repeat_jump: bool = False,
    min_events: int = 1,
) -> Scene:
    """Draw one scene: objects, then each object's events in time order.

    With ``repeat_jump`` the first object jumps twice (the occurrence a "multiple
    event occurrences" annotation error needs); otherwise every (object, action)
    pair occurs at most once, so each event has a unique description. Draws again
    (from the same generator) until the scene has at least ``min_events`` events.
    """
    for _ in range(1000):
        scene = _draw_scene(rng, video_id, config, repeat_jump)
        if len(scene.events) >= min_events and not shapes_overlap(scene):
            return scene
    raise ValueError(f"could not plan a scene with {min_events} events; lower min_events")


def shapes_overlap(scene: Scene) -> bool:
    """True when two visible shapes touch in some frame (one could hide the other)."""
    cfg = scene.config
    aspect = cfg.width / cfg.height
    # states only change inside events: check frame 0 and every frame in some event
    frames = {0}
    for event in scene.events:
        first = int(event.start * cfg.fps) + 1
        frames.update(range(first, round(event.end * cfg.fps) + 1))
    for index in sorted(frames):
        states = [object_state(scene, obj, index / cfg.fps) for obj in scene.objects]
        shown = [st for st in states if st.opacity > 0]
        for i, a in enumerate(shown):
            for b in shown[i + 1 :]:
                dx = (a.x - b.x) * aspect  # in frame heights, like y
                dy = a.y - b.y
                reach = _BOUND * (a.radius + b.radius) * aspect
                if dx * dx + dy * dy < reach * reach:
                    return True
    return False


def _draw_scene(rng: random.Random, video_id: str, config: SceneConfig, repeat_jump: bool) -> Scene:
    duration = float(rng.randint(config.min_duration, config.max_duration))
    n_objects = rng.randint(config.min_objects, config.max_objects)
    shapes = rng.sample(SHAPES, n_objects)
    lanes = [(i + 0.5) / n_objects for i in range(n_objects)]
    rng.shuffle(lanes)
    objects = []
    for object_id, shape in enumerate(shapes):
        objects.append(
            SceneObject(
                object_id=object_id,
                shape=shape,
                colour=rng.choice(sorted(COLOURS)),
                size=rng.randint(0, len(SIZE_LEVELS) - 2),
                x=round(rng.uniform(0.15, 0.85), 3),
                y=round(0.25 + 0.6 * lanes[object_id], 3),
                visible=rng.random() > 0.3,
            )
        )
    scene = Scene(video_id=video_id, duration=duration, config=config, objects=objects)
    events: list[Event] = []
    for obj in objects:
        max_events = 1 + int(duration // 8)
        count = rng.randint(1, min(3, max_events))
        wants_repeat = repeat_jump and obj.object_id == 0
        if wants_repeat:
            count = max(count, 2 + (0 if obj.visible else 1))
        actions = _choose_actions(rng, obj, count, wants_repeat)
        if not wants_repeat and obj.visible and rng.random() < 0.2 and len(actions) < 3:
            actions.append("disappear")
        spans = _timings(rng, len(actions), duration)
        while spans is None:
            actions.pop(-2 if wants_repeat and len(actions) > 2 else -1)
            spans = _timings(rng, len(actions), duration)
        events += _realise(rng, obj, actions, spans)
    events.sort(key=lambda e: (e.start, e.object_id))
    scene.events = [_renumber(e, i) for i, e in enumerate(events)]
    return scene


def _renumber(event: Event, event_id: int) -> Event:
    return Event(**{**event.__dict__, "event_id": event_id})


def _realise(
    rng: random.Random, obj: SceneObject, actions: list[str], spans: list[tuple[float, float]]
) -> list[Event]:
    """Concrete parameters (distances, colours, sizes) for an action sequence."""
    events = []
    x, size, colour = obj.x, obj.size, obj.colour
    counts: dict[str, int] = {}
    for action, (start, end) in zip(actions, spans, strict=True):
        extra: dict[str, Any] = {}
        margin = 0.12
        # _choose_actions only picks moves with room; the room is exact here
        room = 1 - margin - x if action == "move_right" else x - margin
        counts[action] = counts.get(action, 0) + 1
        if action in ("move_right", "move_left"):
            distance = round(rng.uniform(_MIN_MOVE, max(_MIN_MOVE, min(room, 0.5))), 3)
            extra["dx"] = distance if action == "move_right" else -distance
            x = round(x + extra["dx"], 3)
        elif action == "grow":
            size = min(size + 1, len(SIZE_LEVELS) - 1)
            extra["size_after"] = size
        elif action == "shrink":
            size = max(size - 1, 0)
            extra["size_after"] = size
        events.append(
            Event(
                event_id=0,
                object_id=obj.object_id,
                action=action,
                start=start,
                end=end,
                colour_before=colour,
                occurrence=counts[action],
                **extra,
            )
        )
        if action == "change_colour":
            colour = rng.choice(sorted(set(COLOURS) - {colour}))
            events[-1] = Event(**{**events[-1].__dict__, "colour_after": colour})
    return events


def object_state(scene: Scene, obj: SceneObject, t: float) -> ObjectState:
    """The object's drawn state at time ``t`` (seconds).

    Inside an event the change is linear in time, so the first changed frame follows
    ``start`` and the final state is reached exactly at ``end``.
    """
    opacity = 1.0 if obj.visible else 0.0
    x, y = obj.x, obj.y
    radius = SIZE_LEVELS[obj.size]
    rgb: tuple[float, float, float] = tuple(float(c) for c in COLOURS[obj.colour])  # type: ignore[assignment]
    for event in scene.events:  # sorted by start
        if event.object_id != obj.object_id:
            continue
        if event.start >= t:
            break
        p = min(1.0, (t - event.start) / (event.end - event.start))
        if event.action == "appear":
            opacity = p
        elif event.action == "disappear":
            opacity = 1.0 - p
        elif event.action in ("move_left", "move_right"):
            x += event.dx * p
        elif event.action == "jump":
            # as high as the frame allows, so the top of the shape stays in view
            top_room = y - radius * 1.3 * scene.config.width / scene.config.height - 0.02
            height = max(0.08, min(_JUMP_HEIGHT, top_room))
            y -= height * (1.0 - abs(2.0 * p - 1.0))
        elif event.action in ("grow", "shrink"):
            assert event.size_after is not None
            before = radius
            radius = before + (SIZE_LEVELS[event.size_after] - before) * p
        elif event.action == "change_colour":
            assert event.colour_after is not None
            target = COLOURS[event.colour_after]
            rgb = tuple(a + (b - a) * p for a, b in zip(rgb, target, strict=True))  # type: ignore[assignment]
    return ObjectState(opacity=opacity, x=x, y=y, radius=radius, rgb=rgb)
