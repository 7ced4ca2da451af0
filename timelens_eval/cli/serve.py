"""CLI command: ``timelens-eval serve``, an OpenAI-compatible endpoint in front of an adapter."""

from __future__ import annotations

import os

import typer


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""

    @app.command("serve")
    def serve(
        adapter: str = typer.Option(
            ..., "--adapter", help="Registered adapter name.", metavar="NAME"
        ),
        adapter_args: str = typer.Option(
            "",
            "--adapter-args",
            help="Adapter arguments, k=v,k2=v2 (values may be JSON).",
            metavar="K=V,...",
        ),
        host: str = typer.Option(
            "127.0.0.1", "--host", help="Interface to listen on.", metavar="HOST"
        ),
        port: int = typer.Option(8000, "--port", help="TCP port.", metavar="PORT"),
        model_name: str = typer.Option(
            None,
            "--model-name",
            help="Model id clients must name (default: the adapter's model; for a local "
            "checkpoint, its folder's name).",
            metavar="ID",
        ),
        fps: float = typer.Option(
            2.0,
            "--fps",
            help="Frame rate assumed when a request carries no timestamps.",
            metavar="FPS",
        ),
        api_key_env: str = typer.Option(
            None,
            "--api-key-env",
            help="Require clients to send the key held in this environment variable.",
            metavar="VAR",
        ),
    ) -> None:
        """Serve an adapter at /v1/chat/completions for OpenAI-style clients."""
        from timelens_eval.adapters import build_adapter
        from timelens_eval.errors import ConfigError
        from timelens_eval.serve import create_app, run_server, served_model_id

        if fps <= 0:
            raise ConfigError("--fps must be > 0")
        key = None
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise ConfigError(f"--api-key-env: environment variable {api_key_env} is not set")
        built = build_adapter(adapter, adapter_args)
        app_ = create_app(built, model_name=model_name, api_key=key, fps=fps)
        served = model_name or served_model_id(built.model)
        typer.echo(
            f"serving adapter {adapter!r} as model {served!r} at http://{host}:{port}/v1",
            err=True,
        )
        run_server(app_, host=host, port=port)
