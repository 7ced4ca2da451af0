"""Contact sheets: one PNG showing a prompt's frames as the model gets them.

Each tile is a frame as encoded (after resizing and any overlay). Above it, in bold, is
the text the model reads right before that frame (``"0.5s"``, ``"Frame 2:"``, or ``-``
when none), and the frame's exact timestamp and position. Text parts that are not tied to
one frame (the ``list`` sentence, the instruction) are printed above and below the grid.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from timelens_eval.messages import ImagePart, PromptMessage, TextPart

__all__ = ["contact_sheet"]

_BG = (255, 255, 255)
_INK = (20, 20, 20)
_MUTED = (90, 90, 90)


def _font(size: int):  # type: ignore[no-untyped-def]
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):
        return ImageFont.load_default()


def contact_sheet(
    message: PromptMessage,
    out: str | Path,
    *,
    columns: int = 6,
    tile_width: int = 256,
    title: str | None = None,
) -> Path:
    """Write ``message``'s frames and text as a PNG grid to ``out``; returns the path."""
    from PIL import Image, ImageDraw

    parts = list(message.parts)
    tiles: list[tuple[str, ImagePart]] = []
    header: list[str] = []
    footer: list[str] = []
    pending: str | None = None
    for part in parts:
        if isinstance(part, TextPart):
            if pending is not None:
                (footer if tiles else header).append(pending)
            pending = part.text
        else:
            tiles.append((pending if pending is not None else "-", part))
            pending = None
    if pending is not None:
        footer.append(pending)
    # Texts that only preceded frames because they are per-frame labels stay on tiles;
    # a text before the first frame that is long is a header, not a label.
    if tiles and len(tiles[0][0]) > 24:
        header.append(tiles[0][0])
        tiles[0] = ("-", tiles[0][1])

    columns = max(1, min(columns, len(tiles) or 1))
    label_font, small_font, body_font = _font(18), _font(14), _font(16)
    if tiles:
        h0, w0 = tiles[0][1].image.shape[:2]
        tile_h = max(1, round(h0 * tile_width / w0))
    else:
        tile_h = 0
    label_h, gap, margin = 44, 8, 12
    rows = (len(tiles) + columns - 1) // columns
    width = margin * 2 + columns * tile_width + (columns - 1) * gap
    chars = max(40, width // 9)
    head_lines = ([title] if title else []) + _wrap(header, chars)
    foot_lines = _wrap(footer, chars)
    line_h = 22
    height = (
        margin * 2
        + len(head_lines) * line_h
        + rows * (label_h + tile_h + gap)
        + len(foot_lines) * line_h
        + (gap if foot_lines else 0)
    )
    sheet = Image.new("RGB", (width, max(height, 40)), _BG)
    draw = ImageDraw.Draw(sheet)
    y = margin
    for line in head_lines:
        draw.text((margin, y), line, fill=_INK, font=body_font)
        y += line_h
    for k, (label, part) in enumerate(tiles):
        r, c = divmod(k, columns)
        x0 = margin + c * (tile_width + gap)
        y0 = y + r * (label_h + tile_h + gap)
        draw.text((x0, y0), label, fill=_INK, font=label_font)
        draw.text(
            (x0, y0 + 22),
            f"t = {part.timestamp:.3f} s   #{part.index + 1}",
            fill=_MUTED,
            font=small_font,
        )
        thumb = Image.fromarray(np.ascontiguousarray(part.image)).resize(
            (tile_width, tile_h), Image.Resampling.BILINEAR
        )
        sheet.paste(thumb, (x0, y0 + label_h))
    y += rows * (label_h + tile_h + gap)
    for line in foot_lines:
        draw.text((margin, y), line, fill=_INK, font=body_font)
        y += line_h
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, format="PNG")
    return out


def _wrap(texts: list[str], chars: int) -> list[str]:
    lines: list[str] = []
    for text in texts:
        lines.extend(textwrap.wrap(text, chars) or [""])
    return lines
