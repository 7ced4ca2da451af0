"""What a checkpoint expects to see: the inputs file saved beside its weights.

A model trained on one frame rate, frame size, prompt template and timestamp encoding
should be evaluated on the same. ``timelens-eval rlvr reference`` writes them next to
each checkpoint it trains (``timelens_eval_inputs.json``); the ``transformers`` adapter
reads the file when its ``model`` is a local directory holding one, and uses it in place
of the model family's preset, so ``timelens-eval run -a transformers --adapter-args
model=DIR`` evaluates the checkpoint on its training inputs. Options given explicitly
(``--adapter-args``, ``--fps``, ``--encoding``, ...) still win.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from timelens_eval.errors import InputError
from timelens_eval.video.types import FrameSpec

__all__ = [
    "INPUTS_FILE",
    "CheckpointInputs",
    "read_checkpoint_inputs",
    "write_checkpoint_inputs",
]

INPUTS_FILE = "timelens_eval_inputs.json"


class CheckpointInputs(BaseModel):
    """The adapter arguments, frames, template and encoding a checkpoint was trained with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    adapter: str = "transformers"
    adapter_args: dict[str, Any] = Field(default_factory=dict)
    frames: FrameSpec
    template: str
    encoding: str


def read_checkpoint_inputs(directory: str | Path) -> CheckpointInputs | None:
    """The inputs file in ``directory``; None when there is none (or no such directory)."""
    path = Path(directory) / INPUTS_FILE
    if not path.is_file():
        return None
    try:
        return CheckpointInputs.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise InputError(f"cannot read it: {exc.strerror}", path=path) from None
    except ValueError as exc:  # JSONDecodeError and ValidationError
        detail = exc.errors()[0] if isinstance(exc, ValidationError) else exc
        raise InputError(f"not an inputs file ({detail})", path=path) from None


def write_checkpoint_inputs(directory: str | Path, inputs: CheckpointInputs) -> Path:
    """Write ``inputs`` beside the checkpoint in ``directory``; returns the file."""
    path = Path(directory) / INPUTS_FILE
    document = inputs.model_dump(mode="json", exclude_none=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
