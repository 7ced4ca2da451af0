"""Model adapters: the grounding interface, the registry, and the built-in adapters.

* :mod:`~timelens_eval.adapters.interface`: what every adapter implements
  (:class:`Adapter`, :class:`GroundingRequest`, :class:`GroundingOutput`,
  :class:`GenerationConfig`, ...); low in the house, imported by the result schema;
* :mod:`~timelens_eval.adapters.registry`: names to adapters (built-in, entry points
  of the group ``timelens_eval.adapters``) and :func:`build_adapter`;
* :mod:`~timelens_eval.adapters.arguments`: ``--adapter-args`` checked against an
  adapter's config model;
* the built-in adapters, one module each (``mock``, ``baselines``, ``openai_chat``,
  ``gemini``, ``transformers_hf``, ``vllm_engine``, ``lmms_bridge``), imported on
  first use, with their helpers (``common``, ``presets``, ``inputs``, ``pricing``).

Everything is importable from here. The registry is loaded on first use of one of its
names, so importing the interface registers nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from timelens_eval.adapters.interface import (
    Adapter,
    AdapterError,
    GenerationConfig,
    GroundingOutput,
    GroundingRequest,
    ModelType,
    Usage,
)

if TYPE_CHECKING:
    from timelens_eval.adapters.arguments import coerce_adapter_args, split_adapter_args
    from timelens_eval.adapters.registry import (
        ADAPTERS,
        BUILTIN_ADAPTERS,
        ENTRY_POINT_GROUP,
        adapter_source,
        build_adapter,
        discover_adapters,
        get_adapter_class,
    )

__all__ = [
    "ADAPTERS",
    "Adapter",
    "AdapterError",
    "BUILTIN_ADAPTERS",
    "ENTRY_POINT_GROUP",
    "GenerationConfig",
    "GroundingOutput",
    "GroundingRequest",
    "ModelType",
    "Usage",
    "adapter_source",
    "build_adapter",
    "coerce_adapter_args",
    "discover_adapters",
    "get_adapter_class",
    "split_adapter_args",
]

_LAZY = {
    "coerce_adapter_args": "arguments",
    "split_adapter_args": "arguments",
    "ADAPTERS": "registry",
    "BUILTIN_ADAPTERS": "registry",
    "ENTRY_POINT_GROUP": "registry",
    "adapter_source": "registry",
    "build_adapter": "registry",
    "discover_adapters": "registry",
    "get_adapter_class": "registry",
}


def __getattr__(name: str) -> Any:
    """The registry's names, imported on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
