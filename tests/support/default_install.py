"""A default install of the project (``pip install -e .``, no extras) in its own venv.

Built once per test session under pytest's temporary folder, so tests can run the real
``timelens-eval`` command the way a new user gets it: without the packages that only
the extras (or the test extra) bring, such as torch, httpx or click.
"""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

from repo_paths import ROOT

REPO = ROOT


def build_default_install(folder: Path) -> Path:
    """Create a venv in ``folder`` and ``pip install -e`` the repository into it; returns
    its ``bin`` folder."""
    venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    bin_dir = folder / "bin"
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "-e", str(REPO)],
        check=True,
        capture_output=True,
        text=True,
        env=clean_env(bin_dir),
        timeout=900,
    )
    return bin_dir


def clean_env(bin_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a shell that activated the venv at ``bin_dir``: none of the
    test session's Python paths leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    env["VIRTUAL_ENV"] = str(bin_dir.parent)
    env.update(extra)
    return env


def run_command(
    bin_dir: Path, args: list[str], cwd: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """``timelens-eval ARGS`` from the venv at ``bin_dir``."""
    return subprocess.run(
        [str(bin_dir / "timelens-eval"), *args],
        cwd=cwd,
        env=clean_env(bin_dir, **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def has_module(bin_dir: Path, name: str) -> bool:
    """Whether ``import name`` works in the venv at ``bin_dir``."""
    probe = subprocess.run(
        [str(bin_dir / "python"), "-c", f"import {name}"],
        env=clean_env(bin_dir),
        capture_output=True,
    )
    return probe.returncode == 0


__all__ = ["REPO", "build_default_install", "clean_env", "run_command", "has_module"]
