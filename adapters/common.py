"""Helpers shared by the model adapters."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from timelens_eval.errors import ConfigError, did_you_mean

__all__ = ["validate_config"]

ConfigT = TypeVar("ConfigT", bound=BaseModel)


def validate_config(model: type[ConfigT], kwargs: dict[str, Any], adapter: str) -> ConfigT:
    """``kwargs`` validated into the adapter's config ``model``.

    The first validation problem becomes a one-line ``ConfigError`` naming the
    ``adapter``: an unknown argument with a did-you-mean hint (or the list of known
    arguments), or the bad field with pydantic's reason.
    """
    try:
        return model.model_validate(kwargs)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "arguments"
        if first["type"] == "extra_forbidden":
            hint = did_you_mean(where, model.model_fields)
            known = ", ".join(model.model_fields)
            raise ConfigError(
                f"{adapter} adapter has no argument {where!r}"
                + (f"; did you mean {hint}?" if hint else f" (arguments: {known})")
            ) from None
        raise ConfigError(f"{adapter} adapter: {where}: {first['msg']}") from None
