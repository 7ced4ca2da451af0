"""The adapter registry: built-in adapters (lazy), third-party entry points, building.

Built-in adapters are registered by ``"module:Class"`` and imported on first use;
other distributions add theirs through the entry-point group ``timelens_eval.adapters``
(:func:`discover_adapters`). :func:`build_adapter` turns a name and ``--adapter-args``
into an adapter, checking everything a run could discover late.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from timelens_eval.adapters.arguments import coerce_adapter_args, split_adapter_args
from timelens_eval.adapters.interface import Adapter
from timelens_eval.registry import Registry

__all__ = [
    "ADAPTERS",
    "ENTRY_POINT_GROUP",
    "BUILTIN_ADAPTERS",
    "discover_adapters",
    "adapter_source",
    "get_adapter_class",
    "build_adapter",
]

ADAPTERS: Registry[type[Adapter]] = Registry("adapter")

ENTRY_POINT_GROUP = "timelens_eval.adapters"
"""Entry-point group through which other distributions add adapters."""

BUILTIN_ADAPTERS: dict[str, str] = {
    "mock": "timelens_eval.adapters.mock:MockAdapter",
    "uniform": "timelens_eval.adapters.baselines:UniformAdapter",
    "prior": "timelens_eval.adapters.baselines:PriorAdapter",
    "random": "timelens_eval.adapters.baselines:RandomAdapter",
    "openai": "timelens_eval.adapters.openai_chat:OpenAIAdapter",
    "gemini": "timelens_eval.adapters.gemini:GeminiAdapter",
    "transformers": "timelens_eval.adapters.transformers_hf:TransformersAdapter",
    "vllm": "timelens_eval.adapters.vllm_engine:VLLMAdapter",
    "lmms": "timelens_eval.adapters.lmms_bridge:LmmsAdapter",
}
"""Adapters shipped with the package, registered lazily by ``"module:Class"``."""

for _name, _target in BUILTIN_ADAPTERS.items():
    if _name not in ADAPTERS:
        ADAPTERS.register(_name, _target)

_ENTRY_POINT_SOURCES: dict[str, str] = {}


def discover_adapters() -> dict[str, str]:
    """Register adapters announced by installed distributions (entry-point group
    ``timelens_eval.adapters``) and return ``{name: distribution}`` of those found.

    Entries stay lazy (``"module:attr"``): nothing is imported until an adapter is
    used. A name that is already registered (a built-in, or an earlier entry point)
    keeps its first registration.
    """
    from importlib.metadata import entry_points

    found: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(getattr(ep, "dist", None), "name", None) or "unknown"
        found[ep.name] = dist
        if ep.name not in ADAPTERS:
            ADAPTERS.register(ep.name, ep.value)
            _ENTRY_POINT_SOURCES[ep.name] = dist
    return found


def adapter_source(name: str) -> str:
    """Where adapter ``name`` comes from: ``"built-in"``, a distribution, or ``"code"``."""
    if name in _ENTRY_POINT_SOURCES:
        return _ENTRY_POINT_SOURCES[name]
    if name in BUILTIN_ADAPTERS and ADAPTERS.target(name) == BUILTIN_ADAPTERS[name]:
        return "built-in"
    return "code"


def get_adapter_class(name: str) -> type[Adapter]:
    """The adapter class registered under ``name`` (imports its module).

    Unknown names raise :class:`~timelens_eval.errors.UnknownNameError` with
    suggestions; a module that cannot be imported raises ``ConfigError`` (or
    ``MissingDependencyError`` when the adapter module raised it).
    """
    from timelens_eval.errors import ConfigError, MissingDependencyError

    if name not in ADAPTERS:
        discover_adapters()
    try:
        cls = ADAPTERS.get(name)
    except MissingDependencyError:
        raise
    except ImportError as exc:
        raise ConfigError(
            f"adapter {name!r} ({ADAPTERS.target(name)}) could not be imported: {exc}"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise ConfigError(f"adapter {name!r} is not an Adapter subclass: {cls!r}")
    return cls


def build_adapter(name: str, args: str | Mapping[str, Any] | None = None) -> Adapter:
    """Create adapter ``name`` from ``"k=v,..."`` (or a mapping), before any work starts.

    Every problem a run could discover late (unknown adapter, unknown or ill-typed
    arguments, missing optional dependency, missing credentials) raises a
    :class:`~timelens_eval.errors.TimelensError` here.
    """
    from timelens_eval.errors import ConfigError, TimelensError

    cls = get_adapter_class(name)
    raw = split_adapter_args(args) if isinstance(args, str) or args is None else dict(args)
    kwargs = coerce_adapter_args(cls, raw)
    try:
        adapter = cls(**kwargs)
    except TimelensError:
        raise
    except (TypeError, ValueError) as exc:
        secrets = [str(v) for k, v in kwargs.items() if k in cls.secret_args and v]
        message = str(exc)
        for secret in secrets:
            message = message.replace(secret, "***")
        raise ConfigError(f"adapter {name!r}: {message}") from None
    return adapter
