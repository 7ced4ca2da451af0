"""The ``timelens-eval`` command line.

Each command group lives in its own module with a ``register(app)`` function; heavy
imports happen inside the commands, so ``timelens-eval --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from timelens_eval.cli.errors import DEBUG_ENV, PROGRAM, debug_requested, report_failure
from timelens_eval.cli.help import use_plain_arguments

__all__ = ["build_app", "main"]

# Modules whose register(app) adds commands, in help order.
_COMMAND_MODULES = (
    "run",
    "score",
    "serve",
    "benchmarks",
    "data",
    "frames",
    "inputs",
    "synth",
    "compare",
    "leaderboard",
    "rlvr",
)


def _root(
    debug: bool = typer.Option(
        False,
        "--debug",
        help=f"Show the traceback of an error (also {DEBUG_ENV}=1); accepted after the "
        "command name too.",
    ),
) -> None:
    """Evaluate video temporal grounding models on original and TimeLens-refined
    benchmarks."""
    # ``--debug`` is taken out of the arguments by main() before parsing; it is declared
    # here so that ``timelens-eval --help`` lists it.


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="timelens-eval",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    app.callback()(_root)
    for name in _COMMAND_MODULES:
        module = importlib.import_module(f"timelens_eval.cli.{name}")
        module.register(app)
    use_plain_arguments(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Console entry point. Every failure ends in one ``error:`` line (and a ``hint:``
    where one helps) on stderr and a non-zero exit code; see :mod:`timelens_eval.cli.errors`."""
    debug, args = debug_requested(list(sys.argv[1:] if argv is None else argv))
    try:
        app = build_app()
        # Typer turns Ctrl-C into a returned exit code (130) in non-standalone mode.
        returned = app(args=args, prog_name=PROGRAM, standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # a library calling sys.exit(): keep its code
        return exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a group called without a command
            print(exc.format_message(), file=sys.stderr)  # type: ignore[attr-defined]
            return 2
        return report_failure(exc, debug=debug)
    return returned if isinstance(returned, int) and not isinstance(returned, bool) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
