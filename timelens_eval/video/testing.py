"""Small synthetic videos whose frames can be identified after decoding.

Each frame carries its own index as a row of black/white blocks, so a test (or the sampler
benchmark) can check which source frame a decoder returned without trusting the decoder's
timestamps. Frames may have irregular timestamps (variable frame rate), a display rotation
and an audio track. Used by tests and ``benchmarks/bench_sampler.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

__all__ = ["INDEX_BITS", "frame_with_index", "read_frame_index", "write_indexed_video"]

INDEX_BITS = 12


def frame_with_index(index: int, height: int, width: int) -> np.ndarray:
    """An ``H x W x 3`` frame: index bits in the top third, a moving bar below."""
    img = np.full((height, width, 3), 96, dtype=np.uint8)
    band = height // 3
    cell = width // INDEX_BITS
    for bit in range(INDEX_BITS):
        value = 235 if (index >> bit) & 1 else 16
        img[:band, bit * cell : (bit + 1) * cell] = value
    x = (index * 7) % max(1, width - 8)
    img[band + 2 :, x : x + 8] = (200, 40, 40)
    return img


def read_frame_index(image: np.ndarray) -> int:
    """Decode the index written by :func:`frame_with_index` from a decoded frame."""
    height, width = image.shape[:2]
    band = height // 3
    cell = width // INDEX_BITS
    gray = image[:band, :, :].astype(np.float32).mean(axis=2)
    index = 0
    for bit in range(INDEX_BITS):
        x0, x1 = bit * cell + cell // 4, (bit + 1) * cell - cell // 4
        block = gray[band // 4 : band * 3 // 4, x0:x1]
        if block.mean() > 128:
            index |= 1 << bit
    return index


def write_indexed_video(
    path: str | Path,
    timestamps: Sequence[float],
    *,
    height: int = 96,
    width: int = 192,
    rotation: int | None = None,
    audio: bool = False,
    gop: int | None = None,
    crf: int = 18,
    preset: str = "veryfast",
    container_format: str | None = None,
    x264_params: str | None = None,
) -> Path:
    """Write an H.264 video whose frame ``i`` shows index ``i`` at ``timestamps[i]`` seconds.

    ``timestamps`` must be strictly increasing; any spacing is allowed (VFR). ``rotation``
    stores a display rotation (degrees counter-clockwise). ``audio`` adds an AAC track
    (a 440 Hz tone) as the first stream, so the video is not stream 0. ``x264_params``
    passes encoder settings through (e.g. ``"open-gop=1:keyint=12"``).
    """
    import av

    path = Path(path)
    ts = [float(t) for t in timestamps]
    if any(b <= a for a, b in zip(ts, ts[1:], strict=False)):
        raise ValueError("timestamps must be strictly increasing")
    tb = Fraction(1, 1000)
    with av.open(str(path), mode="w", format=container_format) as out:
        astream = out.add_stream("aac", rate=16000) if audio else None
        vstream = out.add_stream("libx264", rate=25)
        vstream.width, vstream.height = width, height
        vstream.pix_fmt = "yuv420p"
        vstream.time_base = tb
        vstream.codec_context.time_base = tb
        options = {"crf": str(crf), "preset": preset}
        if gop is not None:
            options["g"] = str(gop)
            options["keyint_min"] = str(gop)
        if x264_params is not None:
            options["x264-params"] = x264_params
        vstream.codec_context.options = options
        if rotation is not None:
            vstream.set_display_rotation(rotation)
        for i, t in enumerate(ts):
            frame = av.VideoFrame.from_ndarray(frame_with_index(i, height, width), format="rgb24")
            frame.pts = round(t * 1000)
            frame.time_base = tb
            for packet in vstream.encode(frame):
                out.mux(packet)
        for packet in vstream.encode(None):
            out.mux(packet)
        if astream is not None:
            _write_tone(astream, out, (ts[-1] if ts else 0.0) + 0.5)
    return path


def _write_tone(stream, out, seconds: float) -> None:  # type: ignore[no-untyped-def]
    import av

    rate = 16000
    chunk = 1024
    n = int(seconds * rate)
    t = np.arange(n, dtype=np.float32) / rate
    samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for start in range(0, n, chunk):
        block = samples[start : start + chunk]
        if block.size < chunk:
            block = np.pad(block, (0, chunk - block.size))
        frame = av.AudioFrame.from_ndarray(block[None, :], format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
