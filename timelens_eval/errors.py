"""Typed errors. The library raises these; only the CLI decides how to print them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "TimelensError",
    "InputError",
    "ConfigError",
    "OutputError",
    "UnknownNameError",
    "MissingDependencyError",
    "DependencyVersionError",
    "did_you_mean",
]


class TimelensError(Exception):
    """Base class of every error the CLI reports as one line, without a traceback."""


class InputError(TimelensError):
    """Bad input data: names the file and, where known, the line and the sample."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        sample: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.sample = sample
        self.reason = message
        where = ""
        if self.path is not None:
            where = self.path if line is None else f"{self.path}:{line}"
        if sample is not None:
            where = f"{where} (sample {sample})" if where else f"sample {sample}"
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(TimelensError):
    """A bad option, argument or configuration value."""


class OutputError(TimelensError):
    """A file that cannot be written: disk full, no permission, a file where a folder
    should be. One line naming the path and the reason, plus what to do (``hint``)."""

    def __init__(self, path: str | Path, reason: str | OSError, hint: str | None = None) -> None:
        if isinstance(reason, OSError):
            reason = _os_reason(reason)
        self.path, self.reason = str(path), reason
        super().__init__(f"cannot write {path}: {reason}" + (f"; {hint}" if hint else ""))


def _os_reason(exc: OSError) -> str:
    import errno

    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return "a part of the path is a file, not a folder"
    text = exc.strerror or type(exc).__name__
    return text[:1].lower() + text[1:]


class UnknownNameError(ConfigError, KeyError):
    """A name that is not in a registry; the message suggests close matches."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        hint = did_you_mean(name, known)
        message = f"unknown {kind} {name!r}"
        message += f"; did you mean {hint}?" if hint else f"; known: {', '.join(known) or 'none'}"
        self.kind, self.name, self.known = kind, name, known
        ConfigError.__init__(self, message)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class MissingDependencyError(TimelensError):
    """An optional dependency is missing; says which extra installs it."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        self.feature, self.extra, self.module = feature, extra, module
        super().__init__(
            f"{feature} needs the optional dependency {module!r}: "
            f"pip install 'timelens-eval[{extra}]'"
        )


class DependencyVersionError(TimelensError):
    """An installed dependency outside the version range a feature is tested with."""

    def __init__(self, feature: str, package: str, installed: str, supported: str) -> None:
        self.feature, self.package = feature, package
        self.installed, self.supported = installed, supported
        super().__init__(
            f"{feature} is tested with {package}{supported}, but {package} {installed} is "
            f"installed: pip install '{package}{supported}'"
        )


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """Quoted close matches of ``name`` among ``known``, or None."""
    matches = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    if not matches:
        return None
    return " or ".join(repr(m) for m in matches)
