"""The API key never shows up in logs, errors, descriptions or results."""

from __future__ import annotations

import logging

import pytest
from openai_fault_server import FaultServer, Reply, ground_once

from timelens_eval.adapters import AdapterError, build_adapter

pytestmark = pytest.mark.timeout(30)

KEY = "sk-proj-SECRET-abcdef0123456789"


@pytest.fixture
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("openai", "httpx", "httpx2", "httpcore", "timelens_eval"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_key_is_sent_but_never_logged(monkeypatch, debug_logs):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    script = [Reply(429, {"error": {}}, {"retry-after": "0.05"}), Reply()]
    with FaultServer(script) as server:
        adapter = build_adapter("openai", f"model=gpt-4o,base_url={server.base_url}")
        ground_once(adapter)
    assert server.attempts[0].headers["authorization"] == f"Bearer {KEY}"
    assert any("retry 1/4" in r.getMessage() for r in debug_logs.records)  # logging was on
    assert KEY not in debug_logs.text
    assert KEY not in repr(adapter) and KEY not in str(adapter.describe())
    assert KEY not in str(adapter.config)


@pytest.mark.parametrize("status", [401, 500])
def test_a_server_echoing_the_key_does_not_leak_it_into_errors(monkeypatch, debug_logs, status):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    echo = {"error": {"message": f"Incorrect API key provided: Bearer {KEY}."}}
    with FaultServer([Reply(status, echo)]) as server:
        adapter = build_adapter(
            "openai", f"model=gpt-4o,base_url={server.base_url},max_retries=1,backoff=0.01"
        )
        with pytest.raises(AdapterError) as info:
            ground_once(adapter)
    message = str(info.value)
    assert f"HTTP {status}" in message and "Incorrect API key provided" in message
    assert KEY not in message and "***" in message
    assert KEY not in debug_logs.text


def test_missing_key_error_names_the_variable_not_a_value(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OTHER_KEY", KEY)
    from timelens_eval.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        build_adapter("openai", "model=gpt-4o")
    assert KEY not in str(info.value)


def test_serve_does_not_pass_a_backing_adapters_key_to_clients(monkeypatch):
    import httpx

    from timelens_eval.serve import ServerThread, create_app

    monkeypatch.setenv("BACKING_KEY", KEY)
    careless = build_adapter(
        "mock", {"key_env": "BACKING_KEY", "echo_key": True, "fail_always": ["s"]}
    )
    body = {"messages": [{"role": "user", "content": "q"}], "timelens": {"sample_id": "s"}}
    with ServerThread(create_app(careless)) as server, httpx.Client() as http:
        response = http.post(server.base_url + "/chat/completions", json=body)
    assert response.status_code == 503
    assert "scripted persistent failure" in response.text and KEY not in response.text
