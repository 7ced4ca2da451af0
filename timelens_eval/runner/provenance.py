"""What a run records about itself: the spec, package versions, git commit, secrets.

Secrets (API keys) are never written anywhere: adapter arguments named in the
adapter's ``secret_args`` are dropped from the spec, and a :class:`Redactor` replaces
every known secret value, whatever its length (those arguments, the credentials the
adapter holds, plus environment variables whose names say they hold a key or token) in
any text the runner records or prints: answers, errors and the spec.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timelens_eval.store import PromptSpec, RunSpec

if TYPE_CHECKING:
    from timelens_eval.adapters import Adapter
    from timelens_eval.benchmarks.base import Benchmark
    from timelens_eval.runner.options import RunOptions

__all__ = [
    "Redactor",
    "package_versions",
    "git_commit",
    "portable_args",
    "SECRET_ENV_PATTERN",
    "build_spec",
]

SECRET_ENV_PATTERN = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS?)$", re.I)
"""Environment variable names whose values are treated as secrets."""

_CORE_PACKAGES = ("timelens-eval", "numpy", "pydantic", "av")


_FLAG = re.compile(r"[+-]?\d+(?:\.\d+)?|true|false|yes|no|on|off|none|null", re.I)


def _secret_looking(value: str) -> bool:
    """An environment value worth treating as a secret: not empty, not a number or a
    boolean word (``HF_HUB_DISABLE_TOKEN=1`` is a switch, not a credential)."""
    return bool(value.strip()) and not _FLAG.fullmatch(value.strip())


class Redactor:
    """Replaces known secret values with ``***`` in text, whatever their length."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        values = {s for s in secrets if isinstance(s, str) and s}
        self._secrets = sorted(values, key=len, reverse=True)

    @classmethod
    def for_adapter(
        cls,
        args: Mapping[str, Any],
        secret_args: Iterable[str],
        environ: Mapping[str, str],
        held: Iterable[str] = (),
    ) -> Redactor:
        """Secrets of one adapter: its secret arguments, the credentials it ``held``
        (:meth:`~timelens_eval.adapters.Adapter.secret_values`), and the environment
        variables whose names say they hold a secret (numbers and boolean words aside)."""
        secret_names = set(secret_args)
        values = [str(v) for k, v in args.items() if k in secret_names and v]
        values += [str(v) for v in held if v]
        values += [
            v for k, v in environ.items() if SECRET_ENV_PATTERN.search(k) and _secret_looking(v)
        ]
        return cls(values)

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text


def package_versions(extra: Iterable[str] = ()) -> dict[str, str]:
    """Installed versions of the core packages and ``extra`` (missing ones are skipped)."""
    import platform

    versions = {"python": platform.python_version()}
    for name in (*_CORE_PACKAGES, *extra):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_commit(start: Path | None = None) -> str | None:
    """The commit of the git checkout holding the package, or None outside one."""
    where = start or Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _portable(value: Any) -> Any:
    """A path inside the project (the shipped reference checkpoint, say) as a path
    relative to it, so a result does not record the folder it happened to run in."""
    if isinstance(value, str) and os.path.isabs(value):
        path = Path(value).resolve()
        if path.is_relative_to(_PROJECT_ROOT) and path.exists():
            return path.relative_to(_PROJECT_ROOT).as_posix()
    return value


def portable_args(args: dict[str, Any]) -> dict[str, Any]:
    """Adapter arguments as plain JSON values (paths and other objects as text; paths
    inside the project relative to it)."""
    import json

    plain = json.loads(json.dumps(args, default=str, sort_keys=True))
    return {key: _portable(value) for key, value in plain.items()}


def _prompt_spec(template: str, encoding: str) -> PromptSpec:
    """The prompt part of the spec; unknown template or encoding names fail here."""
    from timelens_eval.prompts import template_hash
    from timelens_eval.video.encodings import ENCODINGS

    ENCODINGS.get(encoding)
    return PromptSpec(template=template, template_hash=template_hash(template), encoding=encoding)


def build_spec(
    adapter: Adapter,
    adapter_name: str,
    benchmark: Benchmark,
    options: RunOptions,
) -> RunSpec:
    """The full spec of a run (secrets removed)."""
    frames = prompt = None
    if adapter.needs_frames:
        frames = options.frames or adapter.default_frames
        prompt = _prompt_spec(
            options.template or adapter.default_template,
            options.encoding or adapter.default_encoding,
        )
    return RunSpec(
        model=adapter.model,
        model_type=adapter.model_type,
        adapter=adapter_name,
        adapter_args=portable_args(adapter.describe()),
        benchmark=benchmark.name,
        variant=benchmark.variant,
        split=benchmark.split,
        benchmark_hash=benchmark.content_hash,
        prompt=prompt,
        frames=frames,
        generation=options.generation,
        protocol=options.protocol,
        limit=options.limit,
        shard=options.shard,
        versions=package_versions(getattr(adapter, "requires", ())),
        git_commit=git_commit(),
    )
