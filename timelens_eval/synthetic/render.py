"""Draw planned scenes and encode them as H.264 MP4 files with PyAV.

Frames are drawn in NumPy: flat shapes whose outlines are one pixel soft, so any
change of position, size or colour changes pixel values in the very next frame. They
are converted to YUV 4:2:0 with fixed integer BT.601 arithmetic (no swscale, whose
SIMD paths may round differently between CPUs) and encoded with libx264 on one thread
with fixed options. For a given PyAV build the output is byte-for-byte reproducible.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from timelens_eval.synthetic.scenes import ObjectState, Scene, object_state

__all__ = ["BACKGROUND", "ENCODER_OPTIONS", "render_frame", "render_frames", "write_video"]

BACKGROUND = (32, 34, 40)
"""Background colour (sRGB): dark grey, so every shape colour stands out."""

ENCODER_OPTIONS: dict[str, str] = {
    "preset": "ultrafast",
    "crf": "18",
    "x264-params": "threads=1:lookahead-threads=1:sliced-threads=0:bframes=0"
    ":scenecut=0:keyint=16:min-keyint=16",
    "flags": "+bitexact",
}
"""libx264 options: one thread, no B-frames (PTS order is decode order), a keyframe
every 2 s at 8 fps (cheap seeks), bitexact headers. ``ultrafast`` is chosen for
reproducibility as much as speed: with ``veryfast`` (lookahead, macroblock tree) a few
videos in every 72 came out with different bytes from run to run on one machine."""


def _signed_distance(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Distance in pixels from the shape's outline: negative inside, positive outside."""
    if shape == "circle":
        return np.sqrt(dx * dx + dy * dy) - np.float32(r)
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) - np.float32(r * 0.85)
    if shape == "diamond":
        return (np.abs(dx) + np.abs(dy) - np.float32(r * 1.15)) * np.float32(math.sqrt(0.5))
    if shape == "triangle":
        # equilateral, pointing up, circumradius 1.2 r: the farthest of its three edges
        R = r * 1.2
        corners = ((0.0, -R), (R * math.sqrt(3) / 2, R / 2), (-R * math.sqrt(3) / 2, R / 2))
        side = np.float32(R * math.sqrt(3))
        distance = None
        for k in range(3):
            (x0, y0), (x1, y1) = corners[k], corners[(k + 1) % 3]
            outside = (
                np.float32(y1 - y0) * (dx - np.float32(x0))
                - np.float32(x1 - x0) * (dy - np.float32(y0))
            ) / side
            distance = outside if distance is None else np.maximum(distance, outside)
        assert distance is not None
        return distance
    raise ValueError(f"unknown shape {shape!r}")


def _coverage(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Share of each pixel the shape covers (0-1): a one-pixel ramp across the outline,
    so a sub-pixel change of position or size still changes pixel values."""
    return np.clip(np.float32(0.5) - _signed_distance(shape, dx, dy, r), 0.0, 1.0)


def render_frame(scene: Scene, t: float) -> np.ndarray:
    """The scene at time ``t`` as an ``(H, W, 3)`` uint8 RGB array."""
    cfg = scene.config
    frame = np.empty((cfg.height, cfg.width, 3), dtype=np.uint8)
    frame[:] = BACKGROUND
    for obj in scene.objects:
        _draw(frame, obj.shape, object_state(scene, obj, t))
    return frame


def _draw(frame: np.ndarray, shape: str, state: ObjectState) -> None:
    if state.opacity <= 0.0:
        return
    height, width = frame.shape[:2]
    cx, cy = state.x * width, state.y * height
    r = state.radius * width
    pad = r * 1.3 + 2  # the outline ramp reaches half a pixel beyond the shape
    x0, x1 = max(0, int(cx - pad)), min(width, int(math.ceil(cx + pad)) + 1)
    y0, y1 = max(0, int(cy - pad)), min(height, int(math.ceil(cy + pad)) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    # pixel centres, float32 (the precision fixes which edge pixels are inside)
    xx = (np.arange(x0, x1, dtype=np.float32) + np.float32(0.5))[None, :]
    yy = (np.arange(y0, y1, dtype=np.float32) + np.float32(0.5))[:, None]
    weight = _coverage(shape, xx - np.float32(cx), yy - np.float32(cy), r)
    weight *= np.float32(state.opacity)
    mask = weight > 0
    region = frame[y0:y1, x0:x1]
    w = weight[mask][:, None]
    colour = np.asarray(state.rgb, dtype=np.float32)
    blended = region[mask].astype(np.float32) * (1 - w) + colour * w
    region[mask] = np.rint(blended).astype(np.uint8)  # blends of valid colours stay in range


def render_frames(scene: Scene) -> list[np.ndarray]:
    """Every frame of the scene (RGB), at ``t = i / fps``."""
    fps = scene.config.fps
    return [render_frame(scene, i / fps) for i in range(scene.num_frames)]


def rgb_to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """Planar YUV 4:2:0 (limited-range BT.601, integer arithmetic) as PyAV lays it out."""
    h, w = rgb.shape[:2]
    px = rgb.astype(np.int32)
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16
    # average each 2x2 block before computing chroma
    rs = (r[0::2, 0::2] + r[1::2, 0::2] + r[0::2, 1::2] + r[1::2, 1::2] + 2) >> 2
    gs = (g[0::2, 0::2] + g[1::2, 0::2] + g[0::2, 1::2] + g[1::2, 1::2] + 2) >> 2
    bs = (b[0::2, 0::2] + b[1::2, 0::2] + b[0::2, 1::2] + b[1::2, 1::2] + 2) >> 2
    u = ((-38 * rs - 74 * gs + 112 * bs + 128) >> 8) + 128
    v = ((112 * rs - 94 * gs - 18 * bs + 128) >> 8) + 128
    out = np.empty((h * 3 // 2, w), dtype=np.uint8)
    out[:h] = y
    out[h : h + h // 4] = u.reshape(h // 4, w)
    out[h + h // 4 :] = v.reshape(h // 4, w)
    return out


def write_video(scene: Scene, path: str | Path) -> None:
    """Render ``scene`` and write it to ``path`` as an H.264 MP4 (no audio)."""
    import av

    cfg = scene.config
    if cfg.width % 2 or cfg.height % 2 or cfg.height % 4:
        raise ValueError("width must be even and height a multiple of 4 for YUV 4:2:0")
    time_base = Fraction(1, cfg.fps)
    bitexact = {"fflags": "+bitexact"}
    with av.open(str(path), mode="w", format="mp4", container_options=bitexact) as out:
        stream = out.add_stream("libx264", rate=cfg.fps, options=dict(ENCODER_OPTIONS))
        stream.width = cfg.width
        stream.height = cfg.height
        stream.pix_fmt = "yuv420p"
        stream.time_base = time_base
        stream.codec_context.thread_count = 1
        previous_states: tuple[ObjectState, ...] | None = None
        frame = None
        rgb = np.empty((cfg.height, cfg.width, 3), dtype=np.uint8)
        for index in range(scene.num_frames):
            t = index / cfg.fps
            states = tuple(object_state(scene, obj, t) for obj in scene.objects)
            if frame is None or states != previous_states:  # still frames are drawn once
                rgb[:] = BACKGROUND
                for obj, state in zip(scene.objects, states, strict=True):
                    _draw(rgb, obj.shape, state)
                frame = av.VideoFrame.from_ndarray(rgb_to_yuv420p(rgb), format="yuv420p")
                previous_states = states
            frame.pts = index
            frame.time_base = time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
