"""Helpers shared by the model adapters."""

from __future__ import annotations

import asyncio
import io
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from timelens_eval.adapters import AdapterError
from timelens_eval.errors import ConfigError, did_you_mean

__all__ = [
    "AttemptFailure",
    "RetrySettings",
    "backoff_delay",
    "encode_image",
    "validate_config",
    "with_retries",
]

ConfigT = TypeVar("ConfigT", bound=BaseModel)
T = TypeVar("T")


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


def encode_image(image: Any, fmt: str = "jpeg", quality: int = 90) -> bytes:
    """An ``H x W x 3`` uint8 frame as JPEG (RGB, at ``quality``) or PNG bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    picture = Image.fromarray(image)
    if fmt == "jpeg":
        picture.convert("RGB").save(buffer, format="JPEG", quality=quality)
    else:
        picture.save(buffer, format="PNG")
    return buffer.getvalue()


class AttemptFailure(Exception):
    """One failed attempt of a remote call, classified."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class RetrySettings(Protocol):
    """The retry fields an API adapter's config carries."""

    @property
    def max_retries(self) -> int: ...
    @property
    def backoff(self) -> float: ...
    @property
    def max_backoff(self) -> float: ...
    @property
    def max_retry_after(self) -> float: ...


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds before retry ``attempt`` (1-based): ``base * 2**(attempt-1)``, at most
    ``cap``, spread by up to 25% of itself: upward while that stays within ``cap``,
    downward otherwise, so that concurrent failures do not retry in lockstep."""
    full = min(cap, base * 2 ** (attempt - 1))
    jitter = 0.25 * full * random.random()
    return full + jitter if full * 1.25 <= cap else full - jitter


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    sample: str,
    settings: RetrySettings,
    log: logging.Logger,
    classify: Callable[[Exception], AttemptFailure] | None = None,
) -> tuple[T, int]:
    """``(result, attempts)`` of ``call``, retrying the failures that may pass.

    A retryable :class:`AttemptFailure` (other exceptions go through ``classify``
    when given, else propagate) is retried up to ``settings.max_retries`` times,
    after its ``retry_after`` or ``backoff * 2**k`` seconds capped at ``max_backoff``,
    spread by up to 25% (added, or taken off where adding would pass ``max_backoff``:
    a wait never exceeds it). Then, or for a failure that cannot pass, an
    :class:`AdapterError` "``what`` failed after N attempts" is raised; it is
    ``retryable`` (handed on to the runner) when this adapter was told not to retry
    or the asked wait exceeds ``max_retry_after``.
    """
    attempts = 0
    while True:
        attempts += 1
        try:
            return await call(), attempts
        except AttemptFailure as failure:
            error = failure
        except Exception as exc:
            if classify is None:
                raise
            error = classify(exc)
        too_long = error.retry_after is not None and error.retry_after > settings.max_retry_after
        if not error.retryable or attempts > settings.max_retries or too_long:
            handed_on = error.retryable and (settings.max_retries == 0 or too_long)
            raise AdapterError(
                f"{what} failed after {attempts} attempt{'s' if attempts > 1 else ''}: {error}",
                retryable=handed_on,
                retry_after=error.retry_after,
            ) from None
        delay = error.retry_after
        if delay is None:
            delay = backoff_delay(attempts, settings.backoff, settings.max_backoff)
        log.info(
            "sample %s: %s; retry %d/%d in %.2fs",
            sample,
            error,
            attempts,
            settings.max_retries,
            delay,
        )
        await asyncio.sleep(delay)
