"""``serve`` answers only for the model it serves, under an id that is never a local path."""

from __future__ import annotations

import httpx
import openai
import pytest

from timelens_eval.adapters import build_adapter
from timelens_eval.serve import ServerThread, create_app, served_model_id

pytestmark = pytest.mark.timeout(60)


def test_a_local_checkpoint_is_served_under_its_folder_name(tmp_path):
    checkpoint = tmp_path / "checkpoints" / "my-model"
    checkpoint.mkdir(parents=True)
    assert served_model_id(str(checkpoint)) == "my-model"
    assert served_model_id(str(checkpoint) + "/") == "my-model"
    assert served_model_id("Qwen/Qwen2.5-VL-7B-Instruct") == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert served_model_id("gpt-4o") == "gpt-4o"


def test_a_request_for_another_model_is_refused():
    mock = build_adapter("mock", "rule=center,model=mock-center")
    with ServerThread(create_app(mock)) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
        message = [{"role": "user", "content": "Find 'x'."}]
        ok = client.chat.completions.create(model="mock-center", messages=message)
        assert ok.choices[0].message.content
        with pytest.raises(openai.NotFoundError) as info:
            client.chat.completions.create(model="gpt-4o", messages=message)
        assert info.value.code == "model_not_found"
        assert "'gpt-4o' does not exist" in info.value.message
        assert "'mock-center'" in info.value.message
        client.close()
        body = {"messages": message}  # no model named: the served one is meant
        assert httpx.post(server.base_url + "/chat/completions", json=body).status_code == 200


def test_model_name_sets_the_id_clients_must_use():
    mock = build_adapter("mock", "model=/not/a/real/path")
    with ServerThread(create_app(mock, model_name="public-name")) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
        assert [m.id for m in client.models.list()] == ["public-name"]
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(
                model="/not/a/real/path", messages=[{"role": "user", "content": "q"}]
            )
        client.close()
