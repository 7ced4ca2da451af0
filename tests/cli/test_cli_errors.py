"""Every way a command fails ends in one ``error:`` line (and a hint), never a traceback.

The mistyped commands run as a new user runs them: the ``timelens-eval`` of a default
install (``pip install -e .``, no extras) in its own venv, as subprocesses.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from default_install import build_default_install, has_module, run_command

from timelens_eval.cli import main
from timelens_eval.cli.errors import debug_requested

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="session")
def default_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a venv holding a default install of the project."""
    return build_default_install(tmp_path_factory.mktemp("default-install") / "venv")


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def assert_one_error(
    stderr: str, code: int, *, says: str, hint: str | None = None, exit_code: int | None = None
) -> None:
    """One ``error:`` line saying ``says`` (and at most one ``hint:`` line), no traceback."""
    lines = _lines(stderr)
    assert code != 0
    if exit_code is not None:
        assert code == exit_code, stderr
    assert "Traceback" not in stderr, stderr
    assert lines and lines[0].startswith("error: "), stderr
    assert says in lines[0], stderr
    assert all(not line.startswith("error:") for line in lines[1:]), stderr
    assert len(lines) <= 2 and all(line.startswith("hint: ") for line in lines[1:]), stderr
    if hint is not None:
        assert len(lines) == 2 and hint in lines[1], stderr


MISTYPED = [
    (["run", "--fsp", "3"], "no such option --fsp", "did you mean --fps"),
    (["score"], "missing argument PREDICTIONS", "timelens-eval score --help"),
    (["leaderboard", "biuld"], "no such command 'biuld'", "did you mean build"),
    (["frames"], "missing argument VIDEO", "timelens-eval frames --help"),
    (["run", "--limit", "0"], "--limit", None),
    (["benchmarks", "info", "no-such-bench"], "unknown benchmark 'no-such-bench'", None),
]


@pytest.mark.slow
def test_mistyped_commands_on_a_default_install_print_one_error_line(default_bin, tmp_path):
    for args, says, hint in MISTYPED:
        done = run_command(default_bin, args, tmp_path)
        assert_one_error(done.stderr, done.returncode, says=says, hint=hint, exit_code=2)
        assert done.stdout == "", args


@pytest.mark.slow
def test_an_unwritable_output_on_a_default_install_is_one_error_line(default_bin, tmp_path):
    (tmp_path / "a-file").write_text("not a folder\n")
    run = ["run", "--adapter", "mock", "--benchmark", "synthetic-refined", "--limit", "2"]
    for output in ("a-file/out.json", "a-file/folder"):
        done = run_command(default_bin, [*run, "-o", output], tmp_path)
        assert_one_error(done.stderr, done.returncode, says=f"cannot write {output}", exit_code=2)
    # Past the early check: procfs refuses new files, so the run's first write fails.
    done = run_command(default_bin, [*run, "-o", "/proc/timelens-eval-test.json"], tmp_path)
    assert_one_error(
        done.stderr, done.returncode, says="cannot write /proc/timelens-eval-test.json"
    )


@pytest.mark.slow
def test_debug_shows_the_traceback_on_a_default_install(default_bin, tmp_path):
    for env in ({"TIMELENS_EVAL_DEBUG": "1"}, {}):
        args = ["leaderboard", "biuld"] if env else ["leaderboard", "biuld", "--debug"]
        done = run_command(default_bin, args, tmp_path, **env)
        assert done.returncode == 2
        assert "Traceback (most recent call last)" in done.stderr
        assert done.stderr.rstrip().splitlines()[-2].startswith("error: ")


@pytest.mark.slow
def test_the_default_install_is_one_without_the_extras(default_bin):
    # What the commands above ran on: no torch, no test stack (httpx, pytest).
    assert has_module(default_bin, "typer") and has_module(default_bin, "av")
    assert not has_module(default_bin, "torch")
    assert not has_module(default_bin, "httpx") and not has_module(default_bin, "pytest")


def test_an_os_error_during_a_run_is_one_line_and_debug_shows_the_traceback(
    tmp_path, capsys, monkeypatch
):
    import timelens_eval.runner.engine as runner

    def disk_full(spec, path):  # noqa: ANN001, ANN202
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(runner, "write_spec", disk_full)
    argv = ["run", "-a", "mock", "-b", "synthetic-refined", "--limit", "2", "--bootstrap", "0"]
    argv += ["-o", str(tmp_path / "r.json"), "--no-progress"]
    code = main(argv)
    err = capsys.readouterr().err
    assert_one_error(err, code, says="No space left on device", exit_code=1)
    assert "r.json.spec" in err
    monkeypatch.setenv("TIMELENS_EVAL_DEBUG", "1")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert (
        "Traceback" in err
        and "disk_full" in err
        and err.rstrip().splitlines()[-1].startswith("error: ")
    )


def test_an_unexpected_exception_is_one_line_with_a_hint(tmp_path, capsys, monkeypatch):
    import timelens_eval.runner.engine as runner

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("something inside broke\nsecond line")

    monkeypatch.delenv("TIMELENS_EVAL_DEBUG", raising=False)
    monkeypatch.setattr(runner, "select_samples", broken)
    argv = ["run", "-a", "mock", "-b", "synthetic-refined", "--limit", "2", "--no-progress"]
    code = main([*argv, "-o", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert_one_error(
        err, code, says="unexpected RuntimeError: something inside broke", hint="--debug"
    )
    assert code == 1 and "second line" not in err


def test_debug_flag_is_taken_out_anywhere_before_a_double_dash():
    assert debug_requested(["run", "--debug", "-a", "x"], {}) == (True, ["run", "-a", "x"])
    assert debug_requested(["--debug", "score", "f"], {}) == (True, ["score", "f"])
    assert debug_requested(["run", "--", "--debug"], {}) == (False, ["run", "--", "--debug"])
    assert debug_requested(["run"], {"TIMELENS_EVAL_DEBUG": "yes"})[0] is True
    assert debug_requested(["run"], {"TIMELENS_EVAL_DEBUG": "0"})[0] is False


def test_a_group_without_its_command_prints_its_help(capsys):
    assert main(["leaderboard"]) == 2
    captured = capsys.readouterr()
    assert "build" in captured.err and "validate" in captured.err
    assert "error:" not in captured.err and "Traceback" not in captured.err
