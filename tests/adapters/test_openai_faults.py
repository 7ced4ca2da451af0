"""Fault tests: the openai adapter against a scripted HTTP server on 127.0.0.1.

Every test uses the real ``openai`` client library over loopback HTTP and checks the
number of attempts and the waits between them against the retry policy documented in
``adapters/openai_chat.py``.
"""

from __future__ import annotations

import pytest
from openai_fault_server import ANSWER, Drop, FaultServer, Reply, ground_once

from timelens_eval.adapters import AdapterError

pytestmark = pytest.mark.timeout(30)

FAST = {"backoff": 0.05, "max_backoff": 1.0, "timeout": 2.0}


def ground(server: FaultServer, monkeypatch: pytest.MonkeyPatch, **args: object):
    from timelens_eval.adapters.openai_chat import OpenAIAdapter

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-fault")
    adapter = OpenAIAdapter(model="gpt-4o", base_url=server.base_url, **{**FAST, **args})
    return ground_once(adapter)


def test_429_waits_exactly_the_retry_after(monkeypatch):
    with FaultServer(
        [Reply(429, {"error": {"message": "slow down"}}, {"retry-after": "0.6"}), Reply()]
    ) as server:
        out = ground(server, monkeypatch)
    assert out.text == ANSWER
    assert len(server.attempts) == 2
    # Retry-After wins over the (much shorter) backoff, and is not exceeded by much.
    assert 0.6 <= server.gaps()[0] < 1.2
    assert out.raw["attempts"] == 2


def test_retry_after_ms_header_is_honoured(monkeypatch):
    with FaultServer([Reply(429, {"error": {}}, {"retry-after-ms": "400"}), Reply()]) as server:
        ground(server, monkeypatch)
    assert len(server.attempts) == 2
    assert 0.4 <= server.gaps()[0] < 1.0


def test_5xx_are_retried_with_doubling_backoff(monkeypatch):
    script = [
        Reply(500, {"error": {}}),
        Reply(502, {"error": {}}),
        Reply(503, {"error": {}}),
        Reply(),
    ]
    with FaultServer(script) as server:
        out = ground(server, monkeypatch, backoff=0.1)
    assert out.text == ANSWER
    assert len(server.attempts) == 4
    gaps = server.gaps()
    for k, gap in enumerate(gaps):
        assert gap >= 0.1 * 2**k  # backoff * 2**k, jitter only adds
    assert gaps[2] > gaps[0]


def test_timeout_is_retried(monkeypatch):
    with FaultServer([Reply(delay=2.0), Reply()]) as server:
        out = ground(server, monkeypatch, timeout=0.3)
    assert out.text == ANSWER
    assert len(server.attempts) == 2
    assert 0.3 <= server.gaps()[0] < 1.5  # gave up after the timeout, not after 2 s


@pytest.mark.parametrize(
    "bad",
    [b'{"id": "chatcmpl-x", "choi', b"<html>502 Bad Gateway</html>", b'{"id": "x", "choices": []}'],
    ids=["truncated-json", "html", "no-choices"],
)
def test_malformed_responses_are_retried(monkeypatch, bad):
    with FaultServer([Reply(200, bad), Reply()]) as server:
        out = ground(server, monkeypatch)
    assert out.text == ANSWER
    assert len(server.attempts) == 2


def test_dropped_connection_is_retried(monkeypatch):
    with FaultServer([Drop(), Drop(), Reply()]) as server:
        out = ground(server, monkeypatch)
    assert out.text == ANSWER
    assert len(server.attempts) == 3


def test_persistent_failure_becomes_a_final_adapter_error(monkeypatch):
    with FaultServer([Reply(500, {"error": {"message": "engine down"}})]) as server:
        with pytest.raises(AdapterError) as info:
            ground(server, monkeypatch, max_retries=2)
    assert len(server.attempts) == 3
    error = info.value
    assert error.retryable is False  # the adapter spent its budget: the runner records it
    assert "after 3 attempts" in str(error) and "HTTP 500" in str(error)
    assert "engine down" in str(error)


def test_client_errors_are_not_retried(monkeypatch):
    with FaultServer([Reply(400, {"error": {"message": "bad image"}})]) as server:
        with pytest.raises(AdapterError) as info:
            ground(server, monkeypatch)
    assert len(server.attempts) == 1
    assert info.value.retryable is False
    assert "HTTP 400" in str(info.value)


def test_x_should_retry_false_stops_retries(monkeypatch):
    script = [Reply(500, {"error": {}}, {"x-should-retry": "false"})]
    with FaultServer(script) as server:
        with pytest.raises(AdapterError):
            ground(server, monkeypatch)
    assert len(server.attempts) == 1


def test_without_retries_the_runner_gets_a_retryable_error(monkeypatch):
    with FaultServer([Reply(429, {"error": {}}, {"retry-after": "3"})]) as server:
        with pytest.raises(AdapterError) as info:
            ground(server, monkeypatch, max_retries=0)
    assert len(server.attempts) == 1
    assert info.value.retryable is True
    assert info.value.retry_after == pytest.approx(3.0)


def test_a_retry_after_beyond_the_cap_is_handed_on(monkeypatch):
    with FaultServer([Reply(429, {"error": {}}, {"retry-after": "30"})]) as server:
        with pytest.raises(AdapterError) as info:
            ground(server, monkeypatch, max_retry_after=1.0)
    assert len(server.attempts) == 1  # not waited out here
    assert info.value.retryable is True and info.value.retry_after == pytest.approx(30.0)
