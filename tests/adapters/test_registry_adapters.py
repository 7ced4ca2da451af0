"""Adapter registry: entry-point discovery, did-you-mean, argument parsing and validation."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from timelens_eval.adapters import (
    ADAPTERS,
    BUILTIN_ADAPTERS,
    Adapter,
    adapter_source,
    build_adapter,
    discover_adapters,
    get_adapter_class,
    split_adapter_args,
)
from timelens_eval.errors import ConfigError, UnknownNameError

PLUGIN = """
from typing import ClassVar
from timelens_eval.adapters import Adapter, GroundingOutput

class EchoAdapter(Adapter):
    name: ClassVar[str] = "echo"
    needs_frames: ClassVar[bool] = False
    reads_video: ClassVar[bool] = False  # it runs on annotations without videos

    def __init__(self, start: float = 1.0, length: float = 2.0, tag: str = "x") -> None:
        super().__init__(start=start, length=length, tag=tag)

    async def ground(self, request):
        s = self.args["start"]
        return GroundingOutput(text=f"{s} - {s + self.args['length']}")
"""


@pytest.fixture
def plugin_dist(tmp_path, monkeypatch):
    """A separately 'installed' distribution announcing adapter ``echo-test``."""
    (tmp_path / "echo_plugin_pkg.py").write_text(PLUGIN)
    info = tmp_path / "echo_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[timelens_eval.adapters]\necho-test = echo_plugin_pkg:EchoAdapter\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("echo_plugin_pkg", None)
    ADAPTERS._entries.pop("echo-test", None)  # keep other tests independent


def test_entry_point_adapters_are_discovered_lazily(plugin_dist):
    assert "echo-test" not in ADAPTERS
    found = discover_adapters()
    assert found["echo-test"] == "echo-plugin"
    assert ADAPTERS.target("echo-test") == "echo_plugin_pkg:EchoAdapter"
    assert "echo_plugin_pkg" not in sys.modules  # registered, not imported
    adapter = build_adapter("echo-test", "start=3,length=4.5")
    assert adapter.args == {"start": 3.0, "length": 4.5, "tag": "x"}
    assert adapter_source("echo-test") == "echo-plugin"


def test_build_adapter_discovers_entry_points_on_demand(plugin_dist):
    adapter = build_adapter("echo-test")
    assert type(adapter).__name__ == "EchoAdapter"


def test_entry_point_adapter_runs_through_the_cli(plugin_dist, tmp_path):
    from test_runner_kill import _annotations

    ann = _annotations(tmp_path / "ann.jsonl")
    env_path = f"{plugin_dist}:{':'.join(sys.path)}"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "timelens_eval",
            "run",
            "--adapter",
            "echo-test",
            "--adapter-args",
            "start=0,length=10",
            "--benchmark",
            "qvhighlights",
            "--annotations",
            str(ann),
            "--output",
            str(tmp_path / "o.json"),
            "--no-progress",
            "--bootstrap",
            "0",
        ],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    listing = subprocess.run(
        [sys.executable, "-m", "timelens_eval", "adapters", "list"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
        timeout=120,
    )
    assert listing.returncode == 0, listing.stderr
    assert "echo-test" in listing.stdout and "echo-plugin" in listing.stdout


def test_builtins_are_registered_lazily_and_listed():
    for name, target in BUILTIN_ADAPTERS.items():
        assert ADAPTERS.target(name) == target
    code = "import sys, timelens_eval.adapters; print('timelens_eval.adapters.mock' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_adapter_suggests_close_names():
    with pytest.raises(UnknownNameError, match="did you mean 'uniform'"):
        get_adapter_class("unifrom")
    with pytest.raises(UnknownNameError, match="known:"):
        build_adapter("zzzzzz")


def test_args_are_split_with_json_values():
    args = split_adapter_args('a=1, b={"x": "1, ]2"},c=[1,2] ,d=it\'s,e="q,r",f=\'g\'')
    assert args == {
        "a": "1",
        "b": '{"x": "1, ]2"}',
        "c": "[1,2]",
        "d": "it's",
        "e": '"q,r"',
        "f": "'g'",
    }
    assert split_adapter_args("") == {} and split_adapter_args(None) == {}
    for bad in ("novalue", "=3", "a=1,a=2", "1x=3"):
        with pytest.raises(ConfigError):
            split_adapter_args(bad)


def test_values_are_coerced_to_the_constructor_types():
    adapter = build_adapter(
        "mock", 'latency=0.5,frames=true,fail_times={"s": 2},fail_always=["a","b"],rule=center'
    )
    assert adapter.args["latency"] == 0.5 and adapter.args["frames"] is True
    assert adapter.args["fail_times"] == {"s": 2} and adapter.args["fail_always"] == ["a", "b"]
    assert build_adapter("random", "seed=7").args["seed"] == 7
    assert build_adapter("mock", "retry_after=none").args["retry_after"] is None
    assert build_adapter("mock", 'model="a, b"').args["model"] == "a, b"
    assert build_adapter("mock", "model=2024").args["model"] == "2024"


def test_open_keyword_adapters_get_literal_values_and_quoted_strings():
    ADAPTERS.register("open-test", _Open)
    try:
        args = build_adapter("open-test", 'n=3,f=0.5,b=true,l=[1,2],s=hello,q="7",z=none').args
        assert args == {"n": 3, "f": 0.5, "b": True, "l": [1, 2], "s": "hello", "q": "7", "z": None}
    finally:
        ADAPTERS._entries.pop("open-test", None)


class _Open(Adapter):
    name = "open"

    async def ground(self, request):  # pragma: no cover
        raise NotImplementedError


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("latncy=1", "did you mean 'latency'"),
        ("latency=fast", "bad value latency='fast'"),
        ("rule=sideways", "rule"),
        ("latency=-1", "latency"),
        ("seed=1", "has no argument 'seed'"),
    ],
)
def test_bad_arguments_fail_at_build_time(args, message):
    with pytest.raises(ConfigError, match=message):
        build_adapter("mock", args)


class _Keyed(Adapter):
    name = "keyed"

    def __init__(self, api_key: str, retries: int = 1) -> None:
        if not api_key.startswith("sk-"):
            raise ValueError(f"malformed key {api_key!r}")
        super().__init__(api_key=api_key, retries=retries)

    async def ground(self, request):  # pragma: no cover
        raise NotImplementedError


def test_secret_values_are_not_echoed_in_argument_errors():
    ADAPTERS.register("keyed-test", _Keyed)
    try:
        with pytest.raises(ConfigError) as info:
            build_adapter("keyed-test", "api_key=XYZ-secret-value")
        assert "XYZ-secret-value" not in str(info.value) and "***" in str(info.value)
        with pytest.raises(ConfigError) as info:
            build_adapter("keyed-test", "api_key=sk-secret-value,retries=many")
        assert "sk-secret-value" not in str(info.value)
        with pytest.raises(ConfigError, match="needs argument"):
            build_adapter("keyed-test", "retries=2")
        adapter = build_adapter("keyed-test", "api_key=sk-secret-value")
        assert adapter.describe() == {"retries": 1}
    finally:
        ADAPTERS._entries.pop("keyed-test", None)


def test_cli_reports_bad_adapters_in_one_line(tmp_path):
    for argv, expected in (
        (["run", "--adapter", "mokc"], "did you mean 'mock'"),
        (["run", "--adapter", "mock", "--adapter-args", "latency=x"], "bad value latency"),
        (["run", "--adapter-args", "a=1"], "--adapter-args needs --adapter"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "timelens_eval", *argv],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0]
        assert not (tmp_path / "runs").exists()  # failed before the run started


def test_an_adapter_module_that_cannot_import_is_a_clear_error(tmp_path, monkeypatch):
    ADAPTERS.register("broken-test", "no_such_module_xyz:Thing")
    try:
        with pytest.raises(ConfigError, match="could not be imported"):
            build_adapter("broken-test")
    finally:
        ADAPTERS._entries.pop("broken-test", None)
    (tmp_path / "notadapter_mod.py").write_text(textwrap.dedent("class Thing:\n    pass\n"))
    monkeypatch.syspath_prepend(str(tmp_path))
    ADAPTERS.register("thing-test", "notadapter_mod:Thing")
    try:
        with pytest.raises(ConfigError, match="not an Adapter subclass"):
            build_adapter("thing-test")
    finally:
        ADAPTERS._entries.pop("thing-test", None)


CONFIGURED_PLUGIN = """
from typing import ClassVar
from pydantic import BaseModel, ConfigDict, Field
from timelens_eval.adapters import Adapter, GroundingOutput

class WindowConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: float = Field(0.0, ge=0)
    sizes: list[float] = Field(default_factory=lambda: [1.0])
    label: str

class WindowAdapter(Adapter):
    name: ClassVar[str] = "window"
    config_model = WindowConfig
    needs_frames: ClassVar[bool] = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.config = WindowConfig.model_validate(kwargs)

    async def ground(self, request):
        c = self.config
        return GroundingOutput(text=f"{c.start} - {c.start + c.sizes[0]}")
"""


def test_an_installed_adapter_declares_its_arguments_in_a_config_model(tmp_path, monkeypatch):
    (tmp_path / "window_plugin_pkg.py").write_text(CONFIGURED_PLUGIN)
    info = tmp_path / "window_plugin-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: window-plugin\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text(
        "[timelens_eval.adapters]\nwindow-test = window_plugin_pkg:WindowAdapter\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert discover_adapters()["window-test"] == "window-plugin"
        adapter = build_adapter("window-test", 'start=2,sizes=[3, 4],label="7"')
        assert adapter.config.sizes == [3.0, 4.0] and adapter.config.label == "7"
        assert adapter.args == {"start": 2.0, "sizes": [3.0, 4.0], "label": "7"}
        for args, message in (
            ("label=x,strat=1", "did you mean 'start'"),
            ("label=x,start=soon", "bad value start='soon'"),
            ("start=1", "needs argument"),
        ):
            with pytest.raises(ConfigError, match=message):
                build_adapter("window-test", args)
    finally:
        sys.modules.pop("window_plugin_pkg", None)
        ADAPTERS._entries.pop("window-test", None)
