"""The scripted Anthropic Messages API: its stream adds up to the message it stands for, as
the API's own clients put it together, and what it does not serve is a 404 on record."""

import json
from typing import Any

import httpx

from issuepilot.testing.fake_anthropic import Calls, FakeAnthropic, Usage

REQUEST = {"model": "claude-x", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


def post(fake: FakeAnthropic, body: dict[str, Any], path: str = "/v1/messages") -> httpx.Response:
    with httpx.Client(transport=fake.transport(), base_url=fake.url) as client:
        return client.post(path, json=body, headers={"x-api-key": "k"})


def events(stream: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each server-sent event."""
    found = []
    for chunk in stream.strip().split("\n\n"):
        name, data = chunk.split("\n")
        assert name.startswith("event: ") and data.startswith("data: ")
        found.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return found


def assemble(stream: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The message a client builds from the events, as the SDKs do."""
    message: dict[str, Any] = {}
    partial: dict[int, str] = {}
    for name, data in stream:
        assert name == data["type"]
        if name == "message_start":
            message = data["message"]
        elif name == "content_block_start":
            message["content"].append(data["content_block"])
        elif name == "content_block_delta":
            block, delta = message["content"][data["index"]], data["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            else:
                partial[data["index"]] = partial.get(data["index"], "") + delta["partial_json"]
        elif name == "content_block_stop" and data["index"] in partial:
            message["content"][data["index"]]["input"] = json.loads(partial[data["index"]])
        elif name == "message_delta":
            message.update(data["delta"])
            message["usage"].update(data["usage"])
    return message


def anonymous(message: dict[str, Any]) -> dict[str, Any]:
    """A message without the ids that tell one reply from the next."""
    content = [{k: v for k, v in block.items() if k != "id"} for block in message["content"]]
    return {**message, "id": "", "content": content}


def test_a_streamed_reply_adds_up_to_the_message_it_stands_for() -> None:
    calls = Calls([("Edit", {"file_path": "a.py", "old_string": "x", "new_string": "y"})], "On it.")
    fake = FakeAnthropic(script=[calls, calls], usage=Usage(10, 20, 30, 40))
    whole = post(fake, REQUEST).json()
    answer = post(fake, {**REQUEST, "stream": True})
    assert answer.headers["content-type"] == "text/event-stream"
    stream = events(answer.text)
    names = [name for name, _ in stream]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert "ping" in names
    assert stream[0][1]["message"]["usage"]["output_tokens"] == 1  # as the call starts
    streamed = assemble([(n, d) for n, d in stream if n != "ping"])
    assert anonymous(streamed) == anonymous(whole)
    assert whole["stop_reason"] == "tool_use"
    assert whole["content"] == [
        {"type": "text", "text": "On it."},
        {
            "type": "tool_use",
            "id": "toolu_00010001fake",
            "name": "Edit",
            "input": {"file_path": "a.py", "old_string": "x", "new_string": "y"},
        },
    ]
    assert whole["usage"] == {
        "input_tokens": 10,
        "cache_creation_input_tokens": 20,
        "cache_read_input_tokens": 30,
        "output_tokens": 40,
    }
    assert fake.usage.total == 100
    assert [r.headers["x-api-key"] for r in fake.requests] == ["k", "k"]


def test_text_ends_the_turn_and_an_exhausted_script_says_done() -> None:
    fake = FakeAnthropic(script=["Fixed.", lambda request: f"Asked of {request['model']}."])
    first, second, then = (post(fake, REQUEST).json() for _ in range(3))
    assert first["content"] == [{"type": "text", "text": "Fixed."}]
    assert second["content"] == [{"type": "text", "text": "Asked of claude-x."}]
    assert first["stop_reason"] == then["stop_reason"] == "end_turn"
    assert then["content"][0]["text"] == "Done."


def test_a_scripted_status_is_an_error_in_the_apis_shape() -> None:
    fake = FakeAnthropic(script=[529])
    answer = post(fake, REQUEST)
    assert answer.status_code == 529
    assert answer.json()["error"]["type"] == "overloaded_error"


def test_an_unknown_route_is_a_404_on_record() -> None:
    fake = FakeAnthropic()
    assert post(fake, REQUEST, "/v1/messages/count_tokens").status_code == 404
    assert fake.unknown == ["POST /v1/messages/count_tokens"] and not fake.requests


def test_it_serves_on_loopback_for_a_real_client() -> None:
    with FakeAnthropic(script=["Hello."]) as fake:
        answer = httpx.post(fake.url + "/v1/messages?beta=true", json=REQUEST)
    assert answer.json()["content"][0]["text"] == "Hello."
    assert fake.requests[0].path == "/v1/messages?beta=true"
