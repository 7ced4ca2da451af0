"""Frame sampling on PyAV: target fps, frame cap, pixel budget, exact timestamps.

How a video is sampled (see ``docs/video.md``):

1. **Index.** The video stream's packets are demuxed once without decoding, giving
   every frame's presentation timestamp (PTS), the keyframes, and which frames no other
   frame references. Time 0 is the first frame's PTS; the real duration is the last
   frame's end. Nothing here trusts the container's duration or frame-rate metadata, so
   variable frame rate and missing metadata need no special case.
2. **Targets.** Target times are ``start + k / fps`` over ``[start, end)`` (the clip, or
   the whole video), or ``max_frames`` evenly spaced times when there would be more.
   Each target takes the frame on screen at that time (the last frame with
   ``PTS <= target``); repeated frames are kept once, so timestamps strictly increase.
3. **Plan.** A frame can only be decoded from its keyframe on. Each needed frame adds the
   packet range from its keyframe to itself; ranges closer than a short gap are merged
   (decoding through is cheaper than seeking), others start with a seek. Packets of
   non-reference frames that are not needed are not decoded at all.
4. **Decode.** Frame-threaded decoding of the planned packets; only needed frames are
   converted to RGB, resized once (swscale, bicubic) and rotated upright by the stream's
   display matrix.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from timelens_eval.spans import Span
from timelens_eval.video.budget import frame_size, has_budget
from timelens_eval.video.errors import VideoError
from timelens_eval.video.types import Frames, FrameSpec

if TYPE_CHECKING:
    from timelens_eval.video.cache import FrameCache

__all__ = ["SAMPLER_VERSION", "VideoInfo", "probe", "sample_frames", "target_times"]

SAMPLER_VERSION = "1"
"""Bumped whenever the sampler would return different frames; part of the cache key."""

_MERGE_GAP_SECONDS = 0.5
"""Decode through gaps shorter than this instead of seeking (seek + refill costs more)."""


@dataclass(frozen=True)
class VideoInfo:
    """What the packet index says about a video stream."""

    path: str
    codec: str
    coded_width: int
    coded_height: int
    n_frames: int
    duration: float
    """Seconds from the first frame's PTS to the end of the last frame."""
    fps: float
    """Mean frame rate, ``n_frames / duration``."""
    keyframes: int
    metadata_duration: float | None
    """Duration the container claims, when it claims one."""


@dataclass
class _Index:
    pts: np.ndarray  # int64 per packet, decode order (ordinals when ``synthetic``)
    keyframe: np.ndarray  # bool, decode order
    disposable: np.ndarray  # bool, decode order: no other frame references it
    time_base: float
    origin: int  # smallest PTS
    frame_duration: float  # seconds, of the last frame
    truncated: bool
    synthetic: bool = False  # the stream has no timestamps: frame i is at i / rate
    average_rate: float = 0.0  # the stream's average frame rate (0 when unknown)

    def sorted_pts(self) -> np.ndarray:
        return np.unique(self.pts)

    def duration(self) -> float:
        pts = self.sorted_pts()
        return float((pts[-1] - self.origin) * self.time_base + self.frame_duration)


def _open(path: Path) -> Any:
    import av

    if not path.exists():
        raise VideoError("file not found", path=path)
    if not path.is_file():
        raise VideoError("not a regular file", path=path)
    if path.stat().st_size == 0:
        raise VideoError("empty file", path=path)
    try:
        container = av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise VideoError(f"not a readable video file ({_reason(exc)})", path=path) from exc
    if not container.streams.video:
        container.close()
        raise VideoError("no video stream in the file", path=path)
    return container


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip().rstrip(".") or type(exc).__name__


def _nal_length_size(stream: Any) -> int | None:
    """NAL length prefix size of an AVCC H.264 stream, None for Annex B or other codecs."""
    if stream.codec_context.name != "h264":
        return None
    extra = stream.codec_context.extradata
    if extra and len(extra) > 4 and extra[0] == 1:
        return (extra[4] & 3) + 1
    return 0  # Annex B start codes


def _h264_disposable(data: memoryview, length_size: int) -> bool:
    """True when every slice NAL of an H.264 access unit has ``nal_ref_idc == 0``."""
    n = len(data)
    seen_slice = False
    if length_size:
        pos = 0
        while pos + length_size < n:
            size = int.from_bytes(data[pos : pos + length_size], "big")
            header = data[pos + length_size]
            kind = header & 0x1F
            if kind in (1, 5):
                if header & 0x60:
                    return False
                seen_slice = True
            pos += length_size + size
        return seen_slice
    raw = bytes(data)
    pos = raw.find(b"\x00\x00\x01")
    while pos >= 0 and pos + 3 < n:
        header = raw[pos + 3]
        kind = header & 0x1F
        if kind in (1, 5):
            if header & 0x60:
                return False
            seen_slice = True
        pos = raw.find(b"\x00\x00\x01", pos + 3)
    return seen_slice


def _index(container: Any, stream: Any, path: Path) -> _Index:
    import av

    length_size = _nal_length_size(stream)
    pts: list[int | None] = []
    key: list[bool] = []
    disp: list[bool] = []
    last_duration = 0
    truncated = False
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            pts.append(packet.pts if packet.pts is not None else packet.dts)
            key.append(packet.is_keyframe)
            if packet.is_keyframe:
                disp.append(False)
            elif packet.is_disposable:
                disp.append(True)
            elif length_size is not None:
                disp.append(_h264_disposable(memoryview(packet), length_size))
            else:
                disp.append(False)
            last_duration = packet.duration or 0
    except av.error.FFmpegError as exc:
        if not pts:
            raise VideoError(f"cannot read video packets ({_reason(exc)})", path=path) from exc
        truncated = True
    if not pts:
        raise VideoError("the video stream has no frames", path=path)
    synthetic = any(t is None for t in pts)
    if synthetic:
        # No timestamps at all (e.g. a raw H.264 stream): frames are 1/rate apart.
        rate = stream.average_rate or stream.guessed_rate or 25
        tb = 1.0 / float(rate)
        arr = np.arange(len(pts), dtype=np.int64)
        last_duration = 1
        disposable = np.zeros(len(pts), dtype=bool)
    else:
        tb = float(stream.time_base)
        arr = np.asarray(pts, dtype=np.int64)
        disposable = np.asarray(disp, dtype=bool)
    uniq = np.unique(arr)
    if last_duration:
        frame_duration = last_duration * tb
    elif uniq.size > 1:
        frame_duration = float(np.median(np.diff(uniq))) * tb
    else:
        rate = stream.average_rate or stream.guessed_rate
        frame_duration = 1.0 / float(rate) if rate else 0.0
    return _Index(
        pts=arr,
        keyframe=np.asarray(key, dtype=bool),
        disposable=disposable,
        time_base=tb,
        origin=int(uniq[0]),
        frame_duration=frame_duration,
        truncated=truncated,
        synthetic=synthetic,
        average_rate=float(stream.average_rate or stream.guessed_rate or 0.0),
    )


def _metadata_duration(container: Any, stream: Any) -> float | None:
    if stream.duration:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def probe(path: str | Path) -> VideoInfo:
    """Index the video stream of ``path`` (no decoding) and describe it."""
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        index = _index(container, stream, path)
        duration = index.duration()
        n = int(np.unique(index.pts).size)
        return VideoInfo(
            path=str(path),
            codec=stream.codec_context.name,
            coded_width=stream.codec_context.width,
            coded_height=stream.codec_context.height,
            n_frames=n,
            duration=duration,
            fps=n / duration if duration > 0 else 0.0,
            keyframes=int(index.keyframe.sum()),
            metadata_duration=_metadata_duration(container, stream),
        )
    finally:
        container.close()


def target_times(start: float, end: float, fps: float, max_frames: int | None) -> np.ndarray:
    """Sampling times in ``[start, end)``: every ``1/fps`` s, or ``max_frames`` evenly spaced."""
    if end <= start:
        return np.zeros(0, dtype=np.float64)
    n = int(math.floor((end - start) * fps - 1e-9)) + 1
    if max_frames is not None and n > max_frames:
        return start + (end - start) * np.arange(max_frames, dtype=np.float64) / max_frames
    return start + np.arange(n, dtype=np.float64) / fps


@dataclass(frozen=True)
class _Segment:
    first: int  # decode-order position of the keyframe to start from
    last: int  # decode-order position of the last packet to decode


def _plan(index: _Index, needed: set[int], source_fps: float, *, back: int = 0) -> list[_Segment]:
    """Packet ranges to decode: from each needed frame's keyframe (``back`` keyframes
    earlier when retrying) to the frame, merged when less than a short gap apart."""
    positions = [i for i, p in enumerate(index.pts.tolist()) if p in needed]
    key_positions = np.flatnonzero(index.keyframe)
    gap = max(2, int(_MERGE_GAP_SECONDS * source_fps))
    segments: list[_Segment] = []
    for pos in positions:
        k = np.searchsorted(key_positions, pos, side="right") - 1 - back
        first = int(key_positions[k]) if k >= 0 else 0
        if segments and first <= segments[-1].last + gap:
            segments[-1] = _Segment(segments[-1].first, max(segments[-1].last, pos))
        else:
            segments.append(_Segment(first, pos))
    return segments


def _frame_buffer(shape: tuple[int, int, int, int]) -> np.ndarray:
    """A writable uint8 array in its own anonymous memory map.

    NumPy asks for transparent huge pages on large arrays; where the kernel compacts
    memory on demand for them (THP ``defrag=madvise``, a common default) the first
    write to a 1 GB array stalls for seconds. An anonymous map uses ordinary pages.
    """
    size = int(np.prod(shape))
    buffer = mmap.mmap(-1, max(1, size))
    return np.frombuffer(buffer, dtype=np.uint8, count=size).reshape(shape)


class _Converter:
    """Converts needed frames to upright RGB arrays of one size, into one preallocated array."""

    def __init__(self, spec: FrameSpec, n_frames: int, slots: dict[int, int]) -> None:
        self.spec = spec
        self.n = n_frames
        self.slots = slots
        self.out: np.ndarray | None = None
        self.filled = np.zeros(n_frames, dtype=bool)
        self.size: tuple[int, int] | None = None  # coded (height, width) to scale to
        self.turns = 0
        self.resize: Any = None  # qwen-vl-utils: torchvision resize after RGB conversion

    def _setup(self, frame: Any) -> None:
        if self.spec.sampler == "qwen-vl-utils":
            from timelens_eval.video.qwen_sampling import qwen_frame_size, torchvision_resizer

            target = qwen_frame_size(frame.height, frame.width, self.spec, self.n)
            self.resize = torchvision_resizer(target)
            self.size = (frame.height, frame.width)
            self.out = _frame_buffer((self.n, target.height, target.width, 3))
            return
        rotation = int(round((frame.rotation or 0) / 90.0)) % 4
        self.turns = rotation
        h, w = frame.height, frame.width
        dh, dw = (w, h) if rotation % 2 else (h, w)
        if has_budget(self.spec):
            th, tw = frame_size(dh, dw, self.spec, self.n)
        else:
            th, tw = dh, dw
        self.size = (tw, th) if rotation % 2 else (th, tw)
        self.out = _frame_buffer((self.n, th, tw, 3))

    def add(self, frame: Any, key: int | None) -> None:
        slot = self.slots.get(key) if key is not None else None
        if slot is None or self.filled[slot]:
            return
        if self.out is None:
            self._setup(frame)
        assert self.out is not None and self.size is not None
        h, w = self.size
        if (frame.height, frame.width) == (h, w):
            rgb_frame = frame.reformat(format="rgb24")
        else:
            rgb_frame = frame.reformat(width=w, height=h, format="rgb24", interpolation="BICUBIC")
        # A view of the converted plane (rows may be padded), copied once into the output.
        plane = rgb_frame.planes[0]
        stride = plane.line_size
        rows = np.frombuffer(plane, np.uint8, count=h * stride).reshape(h, stride)
        rgb = rows[:, : w * 3].reshape(h, w, 3)
        if self.turns:
            rgb = np.rot90(rgb, k=self.turns)
        if self.resize is not None:
            rgb = self.resize(rgb)
        self.out[slot] = rgb
        self.filled[slot] = True


def _packets_from(
    container: Any, stream: Any, index: _Index, first: int, position: dict[int, int]
) -> Iterator[Any]:
    """Packets in decode order from position ``first`` on.

    Seeks to the keyframe's timestamp and checks where the demuxer landed (some formats,
    MPEG-TS for one, seek inexactly): landing late retries further back; packets before
    ``first`` are dropped.
    """
    if first > 0:
        target = int(index.pts[first])
        step = max(1, int(round(1.0 / index.time_base)))  # one second in stream units
        for _ in range(8):
            container.seek(target, stream=stream, backward=True)
            demux = container.demux(stream)
            for packet in demux:
                if packet.size == 0:
                    continue
                p = packet.pts if packet.pts is not None else packet.dts
                pos = position.get(p, -1) if p is not None else -1
                if 0 <= pos <= first:
                    if pos == first:
                        yield packet
                    yield from _drop_until(demux, first, position)
                    return
                break  # landed after the keyframe (or somewhere unknown): go back further
            target -= step
            step *= 2
        container.seek(0, backward=True, any_frame=False)
    yield from _drop_until(container.demux(stream), first, position, started=first == 0)


def _drop_until(
    demux: Iterator[Any], first: int, position: dict[int, int], started: bool = False
) -> Iterator[Any]:
    for packet in demux:
        if packet.size == 0:
            continue
        if not started:
            p = packet.pts if packet.pts is not None else packet.dts
            if p is None or position.get(p, -1) < first:
                continue
            started = True
        yield packet


def _decode(
    container: Any,
    stream: Any,
    index: _Index,
    segments: list[_Segment],
    needed: set[int],
    conv: _Converter,
) -> None:
    """Decode the planned packets; hand every decoded frame to ``conv``."""
    import av

    cc = stream.codec_context
    if index.synthetic:  # no timestamps: one pass, frames keyed by output order
        ordinal = 0
        try:
            for packet in container.demux(stream):
                for frame in cc.decode(packet):
                    conv.add(frame, ordinal)
                    ordinal += 1
        except av.error.FFmpegError:
            pass
        return
    position = {p: i for i, p in enumerate(index.pts.tolist())}
    skip = set(index.pts[index.disposable].tolist()) - needed
    for n, seg in enumerate(segments):
        if n:
            cc.flush_buffers()
        last_pts = int(index.pts[seg.last])
        try:
            for packet in _packets_from(container, stream, index, seg.first, position):
                p = packet.pts if packet.pts is not None else packet.dts
                if p in skip:
                    continue
                for frame in cc.decode(packet):
                    conv.add(frame, frame.pts)
                if p == last_pts or position.get(p, -1) > seg.last:
                    break
            for frame in cc.decode(None):
                conv.add(frame, frame.pts)
        except av.error.FFmpegError:
            # A damaged packet: keep what decoded; frames that did not decode are left
            # out of the result.
            pass


def sample_frames(
    path: str | Path,
    spec: FrameSpec,
    *,
    clip: Span | None = None,
    duration_hint: float | None = None,
    cache: FrameCache | None = None,
) -> Frames:
    """Sample ``path`` at ``spec.fps`` (capped at ``spec.max_frames``) within ``clip``.

    Timestamps are seconds from the first frame, from the stream's PTS, strictly
    increasing, and absolute even for a clip. Frames are ``N x H x W x 3`` RGB, upright,
    resized by ``spec``'s pixel budget (native size without one). ``duration_hint`` (an
    annotated duration) is only used when the file itself has no usable timing; sampling
    never goes past the real end of the video. Raises :class:`VideoError` for missing,
    corrupt and non-video files and for a clip that starts after the video ends.
    """
    path = Path(path)
    if cache is not None:
        hit = cache.get(path, spec, clip=clip, duration_hint=duration_hint)
        if hit is not None:
            return hit
    frames = _sample(path, spec, clip=clip, duration_hint=duration_hint)
    if cache is not None:
        cache.put(path, spec, frames, clip=clip, duration_hint=duration_hint)
    return frames


def _decode_file(
    path: Path, index: _Index, segments: list[_Segment], needed: set[int], conv: _Converter
) -> None:
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = min(8, os.cpu_count() or 1)
        _decode(container, stream, index, segments, needed, conv)
    except (OSError, ValueError) as exc:
        raise VideoError(f"decoding failed ({_reason(exc)})", path=path) from exc
    finally:
        container.close()


def _qwen_picks(
    index: _Index, duration: float, spec: FrameSpec, clip: Span | None, path: Path
) -> tuple[np.ndarray, float, int]:
    """``(source frame indices, average fps, source frame count)`` of the qwen-vl-utils
    sampler (see :mod:`timelens_eval.video.qwen_sampling`)."""
    from timelens_eval.video.qwen_sampling import frame_count, frame_indices, frame_range

    total = int(index.sorted_pts().size)
    fps = index.average_rate or (total / duration if duration > 0 else 0.0)
    try:
        chosen = frame_range(total, fps, clip)
        n = frame_count(chosen.count, fps, spec)
    except ValueError as exc:
        raise VideoError(str(exc), path=path) from None
    return frame_indices(chosen.first, chosen.last, n), fps, chosen.count


def _sample(
    path: Path, spec: FrameSpec, *, clip: Span | None, duration_hint: float | None
) -> Frames:
    container = _open(path)
    try:
        index = _index(container, container.streams.video[0], path)
    finally:
        container.close()
    duration = index.duration()
    if duration <= 0 and duration_hint:
        duration = float(duration_hint)
    times = index.sorted_pts()
    seconds = (times - index.origin) * index.time_base
    indices: np.ndarray | None = None
    source_frames: int | None = None
    if spec.sampler == "qwen-vl-utils":
        indices, source_fps, source_frames = _qwen_picks(index, duration, spec, clip, path)
        picks = np.unique(indices)
    else:
        start = max(0.0, float(clip.start)) if clip is not None else 0.0
        end = min(float(clip.end), duration) if clip is not None else duration
        if start >= duration:
            raise VideoError(
                f"clip {clip} starts at or after the end of the video ({duration:.3f} s)",
                path=path,
            )
        targets = target_times(start, max(end, start + 1e-6), spec.fps, spec.max_frames)
        picks = np.unique(
            np.clip(np.searchsorted(seconds, targets + 1e-9, side="right") - 1, 0, times.size - 1)
        )
        source_fps = times.size / duration if duration > 0 else 0.0
    slots = {int(p): i for i, p in enumerate(times[picks].tolist())}
    rate = times.size / duration if duration > 0 else 0.0
    segments = _plan(index, set(slots), rate or 25.0)
    conv = _Converter(spec, len(slots), slots)
    with _resize_context(spec):
        _decode_file(path, index, segments, set(slots), conv)
        missing = {p for p, i in slots.items() if not conv.filled[i]}
        if missing and not index.synthetic:
            # Frames that did not decode after a seek are usually leading frames of an
            # open GOP, which reference the previous one: start one keyframe earlier.
            retry = _plan(index, missing, rate or 25.0, back=1)
            _decode_file(path, index, retry, missing, conv)
    if conv.out is None or not conv.filled.any():
        raise VideoError("no frame could be decoded", path=path)
    if indices is not None:
        return _qwen_frames(conv, picks, indices, source_fps, source_frames, duration, path)
    keep = np.flatnonzero(conv.filled)
    return Frames(
        images=conv.out if keep.size == conv.n else conv.out[keep],
        timestamps=seconds[picks][keep].astype(np.float64),
        video_duration=duration,
        source_fps=source_fps or None,
    )


def _resize_context(spec: FrameSpec) -> Any:
    """torch on one thread while the qwen-vl-utils sampler resizes frame by frame."""
    if spec.sampler != "qwen-vl-utils":
        return contextlib.nullcontext()
    from timelens_eval.video.qwen_sampling import single_thread_torch

    return single_thread_torch()


def _qwen_frames(
    conv: _Converter,
    picks: np.ndarray,
    indices: np.ndarray,
    fps: float,
    source_frames: int | None,
    duration: float,
    path: Path,
) -> Frames:
    """The qwen-vl-utils sample: every chosen index (repeats kept), timestamps ``index / fps``.

    qwen-vl-utils fails on a frame that does not decode; so does this sampler, naming it.
    """
    assert conv.out is not None
    if not conv.filled.all():
        lost = picks[np.flatnonzero(~conv.filled)]
        raise VideoError(f"frame {int(lost[0])} could not be decoded", path=path)
    slot = np.searchsorted(picks, indices)
    images = conv.out if np.array_equal(slot, np.arange(conv.n)) else conv.out[slot]
    return Frames(
        images=images,
        timestamps=indices.astype(np.float64) / fps,
        video_duration=duration,
        source_fps=fps,
        indices=indices,
        source_frames=source_frames,
    )
