"""The ``timelens-eval`` command line.

Each command group lives in its own module with a ``register(app)`` function; heavy
imports happen inside the commands, so ``timelens-eval --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from timelens_eval.errors import TimelensError

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


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="timelens-eval",
        help="Evaluate video temporal grounding models on original and TimeLens-refined "
        "benchmarks.",
        no_args_is_help=False,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    for name in _COMMAND_MODULES:
        module = importlib.import_module(f"timelens_eval.cli.{name}")
        module.register(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Console entry point: library errors become one line on stderr and exit code 2."""
    app = build_app()
    try:
        # Typer turns Ctrl-C into a returned exit code (130) in non-standalone mode.
        returned = app(args=argv, standalone_mode=False)
    except TimelensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # click usage errors (typer may vendor its own click)
        import click

        click_errors: tuple[type[BaseException], ...] = (click.ClickException,)
        try:
            from typer._click.exceptions import ClickException as VendoredClickException

            click_errors += (VendoredClickException,)
        except ImportError:
            pass
        if isinstance(exc, click_errors):
            exc.show()  # type: ignore[attr-defined]
            return exc.exit_code  # type: ignore[attr-defined]
        raise
    return returned if isinstance(returned, int) and not isinstance(returned, bool) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
