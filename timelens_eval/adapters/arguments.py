"""Adapter arguments: ``--adapter-args`` text split, then validated by the adapter's config.

Every adapter's arguments are fields of one pydantic model, its
:attr:`~timelens_eval.adapters.interface.Adapter.config_model`. An adapter written
before config models (keyword arguments in its constructor) gets a model derived from
its constructor's signature, so the same rules check both: names (with "did you mean"),
types (command-line text coerced with pydantic's lax rules, JSON for lists and
mappings), required arguments. Secret values never appear in messages.
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from timelens_eval.adapters.interface import Adapter
from timelens_eval.errors import ConfigError, did_you_mean

__all__ = ["ArgumentSpec", "argument_spec", "split_adapter_args", "coerce_adapter_args"]


@dataclass(frozen=True)
class ArgumentSpec:
    """The arguments an adapter takes: ``{name: (annotation, required)}``; ``open``:
    other names are accepted too (a constructor with ``**kwargs``)."""

    fields: dict[str, tuple[Any, bool]]
    open: bool = False


def argument_spec(cls: type[Adapter]) -> ArgumentSpec:
    """The arguments of ``cls``: its config model's fields, or, for an adapter without
    one, the keyword parameters of its constructor."""
    model = cls.config_model
    if model is not None:
        return ArgumentSpec(
            {k: (f.annotation, f.is_required()) for k, f in model.model_fields.items()}
        )
    signature = inspect.signature(cls.__init__)
    params = {
        k: p
        for k, p in signature.parameters.items()
        if k != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # unresolvable forward references: fall back to literals
        hints = {}
    return ArgumentSpec(
        {k: (hints.get(k), p.default is inspect.Parameter.empty) for k, p in params.items()},
        open=any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()),
    )


def split_adapter_args(text: str | None) -> dict[str, str]:
    """Split ``"k=v,k2=v2"`` into raw strings.

    Commas inside brackets, braces or a quoted value do not split, so values may be
    JSON: ``answers={"a": "x, y"},latency=0.1``. Values are returned as written;
    a quoted value (``model="a, b"``, ``version='2024'``) is taken as a string.
    """
    if text is None or not text.strip():
        return {}
    items: list[str] = []
    depth, quote, current = 0, "", []
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'" and (depth > 0 or "".join(current).rstrip().endswith("=")):
            quote = ch  # a quoted value, or a string inside a JSON value
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    items.append("".join(current))
    out: dict[str, str] = {}
    for item in items:
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ConfigError(f"adapter argument {item.strip()!r} must look like key=value")
        if key in out:
            raise ConfigError(f"adapter argument {key!r} given twice")
        out[key] = value.strip()
    return out


def _quoted(raw: str) -> str | None:
    """The text inside matching quotes (``"a, b"`` -> ``a, b``), or None."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return None


def _literal(raw: str) -> Any:
    """Best guess of a value's type for arguments without an annotation."""
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _coerce(annotation: Any, raw: Any) -> Any:
    """Coerce a raw (string) argument to ``annotation`` with pydantic's lax rules."""
    if not isinstance(raw, str):
        return TypeAdapter(annotation).validate_python(raw)
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    if raw.strip()[:1] in ("[", "{"):
        try:
            return adapter.validate_python(json.loads(raw))
        except (ValueError, ValidationError):
            pass
    if raw.lower() in ("none", "null"):
        try:
            return adapter.validate_python(None)
        except ValidationError:
            pass
    try:
        return adapter.validate_python(raw)
    except ValidationError as first:
        try:
            return adapter.validate_python(json.loads(raw))
        except (ValueError, ValidationError):
            raise first from None


def coerce_adapter_args(cls: type[Adapter], args: Mapping[str, Any]) -> dict[str, Any]:
    """Check argument names against :func:`argument_spec` and coerce values to their types.

    Unknown names raise ``ConfigError`` with suggestions (unless the adapter takes any
    keyword); values that do not fit their type raise ``ConfigError``; so do missing
    required arguments. A secret argument (``cls.secret_args``) that is not a field goes
    to the constructor as written, which refuses it with its reason (a key belongs in the
    environment). Secret values never appear in messages.
    """
    name = getattr(cls, "name", cls.__name__)
    spec = argument_spec(cls)
    out: dict[str, Any] = {}
    for key, raw in args.items():
        shown = "***" if key in cls.secret_args else repr(raw)
        if key not in spec.fields and key in cls.secret_args:
            out[key] = raw  # the constructor accepts or refuses it, with its own reason
            continue
        if key not in spec.fields and not spec.open:
            hint = did_you_mean(key, spec.fields)
            known = ", ".join(sorted(spec.fields)) or "none"
            raise ConfigError(
                f"adapter {name!r} has no argument {key!r}"
                + (f"; did you mean {hint}?" if hint else f" (arguments: {known})")
            )
        annotation = spec.fields[key][0] if key in spec.fields else None
        text = _quoted(raw) if isinstance(raw, str) else None
        if annotation is None or annotation is Any:
            if text is not None:
                out[key] = text
            else:
                out[key] = _literal(raw) if isinstance(raw, str) else raw
            continue
        if text is not None:
            raw = text
        try:
            out[key] = _coerce(annotation, raw)
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
            raise ConfigError(f"adapter {name!r}: bad value {key}={shown}: {reason}") from None
    missing = [k for k, (_, required) in spec.fields.items() if required and k not in out]
    if missing:
        raise ConfigError(f"adapter {name!r} needs argument(s): {', '.join(missing)}")
    return out
