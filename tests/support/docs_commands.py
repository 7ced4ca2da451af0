"""The commands shown in README.md, docs/*.md and the examples' READMEs, as the
documentation tests run them.

Every code block that holds shell commands is found (fenced blocks in ``bash``, ``sh``,
``shell`` or ``console``, unlabelled fenced blocks and indented blocks whose lines are
commands), and every inline ``timelens-eval ...`` span of the prose. Each is checked in
one of three ways:

``run``
    The default for a block. Its commands run in order, as written, in one ``bash`` (so
    globs, variables and ``&`` behave as in a terminal), in a working folder that looks
    like a checkout (see :func:`prepare_workdir`); every command must exit 0. Commands
    that set up an environment (``python3 -m venv``, ``. .venv/bin/activate``,
    ``pip install ...``, ``python -m pytest``) are checked, not run: their paths and
    extras must exist, and the test environment already holds what they install.
``parse``
    For a block that needs what a test machine has not got (a GPU, an API key, the
    network, a dataset), marked by an HTML comment on the line before it::

        <!-- docs-test: parse-only, needs a GPU -->

    or, for one line of a block, by a trailing comment that starts with ``needs``
    (``timelens-eval run --adapter vllm ...   # needs a GPU``). Its ``timelens-eval``
    commands are parsed by the real command line (command names, options, values and
    required arguments) without running; other commands get the set-up checks.
``options``
    A synopsis (``[--fps 2]``, ``NAME``, ``...``) or an inline span: the command must
    exist and every ``--option`` it names must be one of that command's.

A block that shows commands but is none of these (a transcript of another tool, a
diagram) is left out with ``<!-- docs-test: skip, REASON -->``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from repo_paths import ROOT

REPO = ROOT
DOCS = (
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    *sorted((REPO / "examples").glob("*/README.md")),
)

PROGRAM = "timelens-eval"
SHELL_LANGS = {"bash", "sh", "shell", "console", ""}
MARKER = re.compile(r"<!--\s*docs-test:\s*(parse-only|skip)\s*(?:,\s*(.*?))?\s*-->")
# Commands whose first words put them in the set-up class (checked, never run).
SETUP = (
    "python3 -m venv",
    "python -m venv",
    ". .venv/bin/activate",
    "source .venv/bin/activate",
    "pip install",
    "python -m pip install",
    "python3 -m pip install",
    "python -m pytest",
    "python3 -m pytest",
)
# Other programs a block may name; a block that runs them must be marked parse-only.
EXTERNAL = ("vllm", "accelerate", "python", "python3", "curl", "git", "sbatch")


@dataclass
class DocCommand:
    """One command of a doc: its text as written (continuation lines joined)."""

    text: str
    line: int
    mode: str  # "run", "parse" or "options"
    reason: str = ""

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text, comments=True)

    @property
    def is_cli(self) -> bool:
        words = self.words
        return bool(words) and (
            words[0] == PROGRAM or words[:3] == ["python", "-m", "timelens_eval"]
        )

    @property
    def is_setup(self) -> bool:
        return self.text.lstrip().startswith(SETUP)


@dataclass
class DocBlock:
    """One code block of a doc and what is done with it."""

    doc: Path
    line: int
    mode: str  # "run", "parse", "options" or "skip"
    reason: str = ""
    commands: list[DocCommand] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"


def _logical_lines(body: str, first_line: int) -> list[tuple[int, str]]:
    """Lines with backslash continuations joined; ``$ `` prompts kept, output lines of a
    transcript (after a ``$`` line, not starting with ``$``) dropped."""
    transcript = any(line.startswith("$ ") for line in body.splitlines())
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for offset, raw in enumerate(body.splitlines()):
        number = first_line + offset
        if pending is not None:
            text = pending[1] + " " + raw.strip()
            if raw.rstrip().endswith("\\"):
                pending = (pending[0], text[: text.rstrip().rfind("\\")].rstrip())
                continue
            out.append((pending[0], text))
            pending = None
            continue
        line = raw.rstrip()
        if transcript:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        elif out and raw[:1] in (" ", "\t") and line.strip():
            # A synopsis wrapped onto indented lines, without backslashes.
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            pending = (number, line[:-1].rstrip())
            continue
        out.append((number, line.strip()))
    if pending is not None:
        out.append(pending)
    return out


def _looks_like_commands(lines: list[tuple[int, str]]) -> bool:
    firsts = [text.split()[0] for _, text in lines if text.split()]
    known = (PROGRAM, ".", "source", "pip", *EXTERNAL)
    return bool(firsts) and all(word in known or "=" in word for word in firsts)


def _is_synopsis(text: str) -> bool:
    """``[--fps 2]``, ``NAME``, ``...``: a form to fill in, not a command to run."""
    words = text.split()
    return (
        any(w.startswith("[") for w in words[1:])
        or "..." in text
        or any(re.fullmatch(r"[A-Z][A-Z_]+(=[A-Z_]+)?", w) for w in words[1:])
    )


def _line_mode(text: str, block_mode: str) -> tuple[str, str]:
    if block_mode != "run":
        return block_mode, ""
    if _is_synopsis(text.split(" #")[0]):
        return "options", "a synopsis"
    comment = re.search(r"\s#\s*(needs\b.*)$", text)
    if comment:
        return "parse", comment.group(1)
    return "run", ""


def _split_chain(text: str) -> list[str]:
    """``a && b; c`` as its commands (quotes respected; ``&`` keeps its command)."""
    parts, current, quote = [], "", None
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            current += c
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
            current += c
        elif text.startswith("&&", i) or c == ";":
            parts.append(current.strip())
            current = ""
            i += 2 if c == "&" else 1
            continue
        else:
            current += c
        i += 1
    parts.append(current.strip())
    return [p for p in parts if p]


def extract_blocks(doc: Path) -> list[DocBlock]:
    """Every command block of ``doc``, in order."""
    text = doc.read_text(encoding="utf-8")
    lines = text.splitlines()
    blocks: list[DocBlock] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^(\s*)```(\w*)\s*$", line)
        indented = (
            line.startswith("    ")
            and line.strip()
            and (i == 0 or not lines[i - 1].strip())
            and not _inside_list(lines, i)
        )
        if fence:
            lang = fence.group(2)
            end = i + 1
            while end < len(lines) and not re.match(r"^\s*```\s*$", lines[end]):
                end += 1
            body = "\n".join(lines[i + 1 : end])
            start, i_next = i + 2, end + 1
        elif indented:
            lang = ""
            end = i
            while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
                end += 1
            body = "\n".join(line[4:] for line in lines[i:end]).rstrip()
            start, i_next = i + 1, end
        else:
            i += 1
            continue
        marker = _marker_before(lines, i)
        logical = _logical_lines(body, start)
        if lang in SHELL_LANGS and _looks_like_commands(logical):
            mode, reason = marker if marker else ("run", "")
            block = DocBlock(doc, start - 1, mode, reason)
            if mode != "skip":
                for number, command_line in logical:
                    for part in _split_chain(command_line):
                        part_mode, part_reason = _line_mode(part, mode)
                        block.commands.append(
                            DocCommand(part, number, part_mode, part_reason or reason)
                        )
            blocks.append(block)
        i = i_next
    return blocks


def _inside_list(lines: list[str], i: int) -> bool:
    """An indented paragraph continuing a list item or a table, not a code block."""
    j = i - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    return j >= 0 and bool(re.match(r"^\s*([-*]|\d+\.)\s", lines[j]))


def _marker_before(lines: list[str], i: int) -> tuple[str, str] | None:
    j = i - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j < 0:
        return None
    match = MARKER.search(lines[j])
    if not match:
        return None
    mode = "parse" if match.group(1) == "parse-only" else "skip"
    return mode, match.group(2) or ""


def inline_commands(doc: Path) -> list[DocCommand]:
    """Every inline ``timelens-eval ...`` code span of ``doc``'s prose (a span may wrap
    onto the next line)."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    prose, in_fence = [], False
    for line in lines:
        if re.match(r"^\s*```", line):
            in_fence = not in_fence
            prose.append("")
        elif in_fence or (line.startswith("    ") and not line.lstrip().startswith(("-", "|"))):
            prose.append("")
        else:
            prose.append(line)
    text = "\n".join(prose)
    found = []
    for match in re.finditer(r"`(timelens-eval [^`]+)`", text):
        number = text.count("\n", 0, match.start()) + 1
        found.append(DocCommand(" ".join(match.group(1).split()), number, "options", "inline"))
    return found


def all_blocks() -> list[DocBlock]:
    """The command blocks of README.md and every docs/*.md."""
    return [block for doc in DOCS for block in extract_blocks(doc)]
