"""``--help`` of every command: plain value names, a description for every option and
argument, the choices where there is a fixed set; and tables that keep names whole."""

from __future__ import annotations

import re

import pytest
import typer.main

from timelens_eval.cli import build_app, main


def _commands(command, path=()):  # noqa: ANN001, ANN202
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for name, sub in subcommands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield path, command


COMMANDS = [path for path, _ in _commands(typer.main.get_command(build_app()))]


def test_every_command_is_listed():
    assert ("run",) in COMMANDS and ("leaderboard", "build") in COMMANDS
    assert ("rlvr", "estimate-difficulty") in COMMANDS and ("adapters", "list") in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_names_values_plainly_and_describes_every_parameter(path, capsys):
    assert main([*path, "--help"]) == 0
    text = capsys.readouterr().out
    usage = text.splitlines()[0]
    assert usage.startswith(f"Usage: timelens-eval {' '.join(path)} ")
    # No type names (<str>, <int range>, <list[Path]>) and no {argument} placeholders
    # (default values, such as frames' query text "<query>", are what they are).
    shown = re.sub(r"\[default: [^\]]*\]", "", " ".join(text.split()))
    assert not re.search(r"<[a-z][a-zA-Z\[\], ]*>|\{[a-z_]+\}|list\[", shown), text
    command = dict(_commands(typer.main.get_command(build_app())))[path]
    for param in command.params:
        assert param.help, f"{' '.join(path)}: {param.opts} has no description"
        if not getattr(param, "is_flag", False):
            assert param.metavar, f"{' '.join(path)}: {param.opts} has no value name"
            assert param.metavar in text


def test_run_lists_the_template_and_encoding_choices(capsys):
    from timelens_eval.prompts import TEMPLATES
    from timelens_eval.video.encodings import ENCODINGS

    assert main(["run", "--help"]) == 0
    # Undo the wrapping (a line may break after a hyphen: "frame-index- list").
    text = " ".join(capsys.readouterr().out.split()).replace("- ", "-")
    assert f"Timestamp encoding: {', '.join(ENCODINGS.names())}." in text
    assert f"Prompt template: {', '.join(TEMPLATES.names())}." in text


def test_benchmarks_list_keeps_names_whole_on_an_80_column_terminal(capsys):
    import json

    from rich.console import Console

    from timelens_eval.cli.benchmarks import benchmarks_table

    assert main(["benchmarks", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    console = Console(width=80, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(benchmarks_table(rows))
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    for row in rows:
        assert f"│ {row['name']} " in text
        if row["pair"]:
            assert f" {row['pair']} " in text
    assert "…" not in text
    assert main(["benchmarks", "list"]) == 0  # not a terminal: one line a benchmark
    out = capsys.readouterr().out
    for row in rows:
        assert re.search(rf"│ {re.escape(row['name'])} +│ ", out)
