"""Checking and running the commands of the docs (see :mod:`docs_commands`)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import tomllib
from docs_commands import REPO, DocBlock, DocCommand

SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"

# Files the docs name as a user's own, made from the real ones in ../shared/data.
FIXTURES = {
    "preds.jsonl": "predictions/qvh_val_moment_detr.jsonl",
    "video.mp4": "videos/OHOFG.mp4",
}
# The default annotation folder ($TIMELENS_EVAL_DATA, ./data) of a user who downloaded
# the original benchmarks, from ../shared/data.
DATA_FOLDERS = ("charades_sta", "activitynet", "qvhighlights", "tacos")
# Paths inside the checkout that commands read; a command naming one that does not
# exist is out of date.
REPO_PREFIXES = ("configs/", "scripts/", "examples/", "tests/", "benchmarks/", "timelens_eval/")
OUTPUT_OPTIONS = {"-o", "--output", "--out", "--output-dir", "--sheet", "--cache-dir"}


class DocCommandError(AssertionError):
    """A documented command that does not work as written."""


def cli_args(command: DocCommand) -> list[str] | None:
    """The arguments after ``timelens-eval`` (or ``-m timelens_eval``), else None."""
    words = command.words
    if words and words[0] == "timelens-eval":
        return _strip_shell(words[1:])
    for i in range(len(words) - 1):
        if words[i] == "-m" and words[i + 1] == "timelens_eval":
            return _strip_shell(words[i + 2 :])
    return None


def _strip_shell(words: list[str]) -> list[str]:
    """Without a trailing ``&`` and anything after a pipe or a redirection."""
    out = []
    for word in words:
        if word in ("&", "|", ">", ">>", "2>", "2>&1", "<"):
            break
        out.append(word)
    return out


# -- the real command line ----------------------------------------------------------------


@cache
def _command_tree() -> Any:
    """The click command of ``timelens-eval`` with every command's action replaced by
    a no-op, so that parsing runs in full (names, options, values, required arguments)
    and nothing else does."""
    import typer.main

    from timelens_eval.cli import build_app

    root = typer.main.get_command(build_app())

    def disarm(command: Any) -> None:
        for sub in getattr(command, "commands", {}).values():
            disarm(sub)
        if not getattr(command, "commands", None):
            command.callback = lambda **kwargs: None

    disarm(root)
    return root


def parse_cli(args: list[str]) -> None:
    """Parse ``args`` as the real command line does, without running the command."""
    import io

    from timelens_eval.cli.errors import debug_requested, report_failure

    _, args = debug_requested(args, {})
    try:
        _command_tree().main(args=args, prog_name="timelens-eval", standalone_mode=False)
    except Exception as exc:
        stream = io.StringIO()
        report_failure(exc, debug=False, stream=stream)
        raise DocCommandError(stream.getvalue().strip()) from None


def _leaf(args: list[str]) -> tuple[Any, list[str], list[str]]:
    """The command ``args`` name, its path and the words after it."""
    command, path = _command_tree(), []
    words = list(args)
    while getattr(command, "commands", None) and words and words[0] in command.commands:
        path.append(words[0])
        command = command.commands[words.pop(0)]
    return command, path, words


def check_options(args: list[str]) -> None:
    """The command exists and every ``--option`` (and ``-x``) it names is one of its own."""
    command, path, words = _leaf(args)
    if getattr(command, "commands", None):
        raise DocCommandError(
            f"no command {' '.join(args[:2])!r} (commands: {', '.join(command.commands)})"
        )
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    known |= {"--help", "--debug"}
    for word in words:
        option = word.strip("[]()").split("=")[0]
        if re.fullmatch(r"--?[a-zA-Z][\w-]*", option) and option not in known:
            raise DocCommandError(
                f"timelens-eval {' '.join(path)}: no option {option} "
                f"(it has {', '.join(sorted(o for o in known if o.startswith('--')))})"
            )


# -- set-up commands ----------------------------------------------------------------------


@cache
def _extras() -> frozenset[str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return frozenset(data["project"]["optional-dependencies"])


def check_setup(command: DocCommand) -> None:
    """Set-up and other commands that are not run: what they name must exist."""
    words = command.words
    for word in words:
        for extra in re.findall(r"(?:^\.|^timelens-eval)\[([\w,-]+)\]", word):
            missing = set(extra.split(",")) - _extras()
            if missing:
                raise DocCommandError(f"no extra {sorted(missing)} in pyproject.toml")
    previous = ""
    for word in words:
        path = word.rstrip("/")
        if previous not in OUTPUT_OPTIONS and path.startswith(REPO_PREFIXES):
            if not (REPO / path).exists():
                raise DocCommandError(f"{path} does not exist in the repository")
        previous = word
    if words[:2] in (["pip", "install"],) or words[1:4] == ["-m", "pip", "install"]:
        for word in words:
            if word.startswith(("./", "examples/")) and not (REPO / word).exists():
                raise DocCommandError(f"pip install: {word} does not exist")


def check_command(command: DocCommand) -> None:
    """The checks of a command that is not run (parse or options)."""
    args = cli_args(command)
    check_setup(command)
    if args is None:
        return
    if command.mode == "options":
        check_options(args)
    else:
        parse_cli(args)


# -- running a doc's blocks ---------------------------------------------------------------


def install_example_adapter(folder: Path) -> Path:
    """``pip install`` the example adapter package into ``folder`` (for PYTHONPATH)."""
    source = folder / "src"
    shutil.copytree(
        REPO / "examples" / "timelens-eval-example-adapter",
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info"),
    )
    target = folder / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return target


def prepare_workdir(folder: Path) -> Path:
    """A working folder that looks like a checkout: the repository's files (results/
    copied, so runs may add to it; the rest linked), ``../shared`` beside it, the default
    ``data/`` folder of the original benchmarks and the files in :data:`FIXTURES`."""
    work = folder / "project"
    work.mkdir(parents=True)
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    for top in sorted({name.split("/")[0] for name in tracked}):
        if top == "results":
            shutil.copytree(REPO / top, work / top)
        else:
            (work / top).symlink_to(REPO / top)
    if SHARED.is_dir():
        (folder / "shared").symlink_to(SHARED)
    if SHARED_DATA.is_dir():
        (work / "data").mkdir()
        for name in DATA_FOLDERS:
            (work / "data" / name).symlink_to(SHARED_DATA / name)
        for name, source in FIXTURES.items():
            (work / name).symlink_to(SHARED_DATA / source)
    return work


def needs_shared_data(block: DocBlock) -> bool:
    """Whether ``block`` runs a command on the real files of ../shared/data."""
    names = ("../shared/", "data/", *FIXTURES)
    return any(c.mode == "run" and any(name in c.text for name in names) for c in block.commands)


def block_script(block: DocBlock) -> str:
    """The block's commands to run, as one bash script that stops at the first failure
    and stops the commands it started in the background."""
    lines = [
        "set -e",
        "cleanup() { for job in $(jobs -p); do kill $job 2>/dev/null || true; done; }",
        "trap cleanup EXIT",
    ]
    for command in block.commands:
        if command.mode != "run" or command.is_setup:
            continue
        banner = f"docs-test> {block.doc.name}:{command.line}: {command.text}"
        lines.append(f"echo {shlex.quote(banner)} >&2")
        lines.append(command.text)
    return "\n".join(lines) + "\n"


def run_block(block: DocBlock, work: Path, env: dict[str, str], timeout: float) -> str:
    """Run ``block`` in ``work``; returns the output, raises DocCommandError on a failure
    (a block still running after ``timeout`` seconds is stopped, with all it started)."""
    import signal

    process = subprocess.Popen(
        ["bash", "-c", block_script(block)],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise DocCommandError(f"{block.name}: still running after {timeout:.0f} s") from None
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        last = [line for line in done.stderr.splitlines() if line.startswith("docs-test> ")]
        where = last[-1].removeprefix("docs-test> ") if last else block.name
        tail = "\n".join(output.splitlines()[-25:])
        raise DocCommandError(f"{where}\nexited {done.returncode}:\n{tail}")
    return output


def doc_env(site: Path | None) -> dict[str, str]:
    """The environment the doc commands run in: this interpreter's ``timelens-eval``
    first on PATH, the example adapter importable, a placeholder API key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELENS_EVAL_DATA")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH")) if p)
    env.setdefault("OPENAI_API_KEY", "sk-docs-test-placeholder")
    env["COLUMNS"] = "200"
    return env
