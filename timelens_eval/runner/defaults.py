"""The main job: the embedded default models on the synthetic original/refined pair.

``timelens-eval run`` with no arguments runs :func:`default_models` on
:data:`DEFAULT_BENCHMARKS` through :func:`~timelens_eval.runner.matrix.run_matrix`. The
default models are the three baselines and, when the
``transformers`` extra is installed, the reference model that ships with the package
(``timelens_eval/data/reference-tiny``, trained by ``timelens-eval rlvr reference``; see
docs/reference-model.md). It is evaluated through the ``transformers`` adapter with the
frames, template and timestamp encoding it was trained with, which its directory records
in ``timelens_eval_inputs.json``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from timelens_eval.errors import InputError
from timelens_eval.runner.matrix import ModelEntry
from timelens_eval.runner.options import RunOptions

__all__ = [
    "DEFAULT_MODELS",
    "DEFAULT_BENCHMARKS",
    "REFERENCE_MODEL_DIR",
    "default_models",
    "default_root",
    "reference_model",
]


DEFAULT_MODELS: tuple[ModelEntry, ...] = (
    ModelEntry("uniform"),
    ModelEntry("prior"),
    ModelEntry("random", {"seed": 0}),
)
"""The baselines, evaluated by ``timelens-eval run`` with no arguments."""

REFERENCE_MODEL_DIR = Path(__file__).resolve().parents[1] / "data" / "reference-tiny"
"""The shipped reference checkpoint."""


def reference_model(path: Path = REFERENCE_MODEL_DIR, label: str = "reference-tiny") -> ModelEntry:
    """The checkpoint at ``path`` as a default model, with the inputs it was trained on
    (its ``timelens_eval_inputs.json``, see :mod:`timelens_eval.checkpoint_inputs`)."""
    from timelens_eval.checkpoint_inputs import INPUTS_FILE, read_checkpoint_inputs

    inputs = read_checkpoint_inputs(path)
    if inputs is None:
        raise InputError(f"no {INPUTS_FILE} beside the checkpoint", path=path)
    options = {"frames": inputs.frames, "template": inputs.template, "encoding": inputs.encoding}
    args = {**inputs.adapter_args, "model": str(path), "name": label}
    return ModelEntry(inputs.adapter, args, options, label)


def default_models(note: Callable[[str], None] | None = None) -> tuple[ModelEntry, ...]:
    """The baselines, plus the shipped reference model when the packages it needs are
    installed (otherwise ``note`` is told why it is left out)."""
    models = list(DEFAULT_MODELS)
    if not (REFERENCE_MODEL_DIR / "config.json").exists():
        if note is not None:
            note(f"reference model left out: no checkpoint at {REFERENCE_MODEL_DIR}")
        return tuple(models)
    missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        if note is not None:
            note(
                f"reference model left out: it needs {' and '.join(missing)} "
                "(pip install 'timelens-eval[transformers]')"
            )
        return tuple(models)
    models.append(reference_model())
    return tuple(models)


DEFAULT_BENCHMARKS: tuple[str, ...] = ("synthetic-original", "synthetic-refined")


def default_root(options: RunOptions) -> Path:
    """Where the default models' results go: ``output`` (a folder), else
    ``runs_dir/default``; each model gets a folder of its own inside it."""
    return options.output if options.output is not None else options.runs_dir / "default"
