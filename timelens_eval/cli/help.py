"""How ``--help`` shows a command's arguments: ``PATH...``, never ``{path}`` or ``<list[Path]>``.

Options name their value with an explicit ``metavar`` where they are declared. Positional
arguments are drawn here, the same way on every typer release: the usage line reads
``[OPTIONS] PREDICTIONS`` (``[NAME]`` when optional, ``...`` when repeated) and the
``Arguments`` section lists each one with its help.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand

__all__ = ["Command", "argument_label", "use_plain_arguments"]


def argument_label(param: Any) -> str:
    """``NAME`` of a positional argument: its metavar, else its name in capitals;
    ``NAME...`` when it takes several values."""
    name = param.metavar or param.name.upper()
    if param.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name


class Command(TyperCommand):
    """A typer command whose help draws positional arguments as ``NAME``."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name != "argument":
                pieces.extend(param.get_usage_pieces(ctx))
                continue
            label = argument_label(param)
            pieces.append(label if param.required else f"[{label}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                if getattr(param, "hidden", False):
                    continue
                text = getattr(param, "help", None) or ""
                if param.required:
                    text = f"{text}  [required]" if text else "[required]"
                arguments.append((argument_label(param), text))
                continue
            record = param.get_help_record(ctx)
            if record is not None:
                options.append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


def use_plain_arguments(app: typer.Typer) -> None:
    """Give every command of ``app`` (command groups included) the :class:`Command` class,
    unless it names its own."""
    for info in app.registered_commands:
        if info.cls is None or info.cls is TyperCommand:
            info.cls = Command
    for group in app.registered_groups:
        if group.typer_instance is not None:
            use_plain_arguments(group.typer_instance)
