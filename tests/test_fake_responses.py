"""The scripted Responses API: the events it streams, in the real API's order and shape."""

import json
from typing import Any

import httpx

from issuepilot.testing.fake_llm import Calls
from issuepilot.testing.fake_responses import FakeResponses, Usage, tool_outputs

PATCH = "*** Begin Patch\n*** Add File: a.txt\n+a\n*** End Patch\n"


def events(body: str) -> list[dict[str, Any]]:
    """The server-sent events of a body: each `event:` line names its data's type."""
    found = []
    for block in body.strip().split("\n\n"):
        kind, data = block.split("\n")
        assert kind == f"event: {json.loads(data[len('data: ') :])['type']}"
        found.append(json.loads(data[len("data: ") :]))
    return found


def post(fake: FakeResponses, body: dict[str, Any]) -> httpx.Response:
    with httpx.Client(transport=fake.transport()) as client:
        return client.post(fake.url + "/responses", json=body)


def test_a_text_answer_streams_as_the_api_streams_it() -> None:
    fake = FakeResponses(script=["Hello there, this is a longer reply."])
    reply = post(fake, {"model": "m", "stream": True, "input": []})
    assert reply.headers["content-type"].startswith("text/event-stream")
    got = events(reply.text)
    kinds = [e["type"] for e in got]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert kinds[-2:] == ["response.output_item.done", "response.completed"]
    assert [e["sequence_number"] for e in got] == list(range(len(got)))
    text = "".join(e["delta"] for e in got if e["type"] == "response.output_text.delta")
    assert text == "Hello there, this is a longer reply."
    done = got[-1]["response"]
    assert done["output"][0]["content"][0]["text"] == text
    assert done["usage"] == {
        "input_tokens": 1200,
        "input_tokens_details": {"cached_tokens": 200},
        "output_tokens": 40,
        "output_tokens_details": {"reasoning_tokens": 10},
        "total_tokens": 1240,
    }


def test_tool_calls_are_function_calls_or_custom_tool_calls() -> None:
    fake = FakeResponses(
        script=[Calls([("exec_command", {"cmd": "ls"}), ("apply_patch", PATCH)])],
        usage=Usage(10, 0, 5, 0),
    )
    got = events(post(fake, {"model": "m", "stream": True, "input": []}).text)
    added = [e["item"] for e in got if e["type"] == "response.output_item.added"]
    assert [(i["type"], i["status"]) for i in added] == [
        ("function_call", "in_progress"),
        ("custom_tool_call", "in_progress"),
    ]
    function, custom = got[-1]["response"]["output"]
    assert json.loads(function["arguments"]) == {"cmd": "ls"} and function["name"] == "exec_command"
    assert custom["input"] == PATCH and custom["call_id"] != function["call_id"]
    streamed = "".join(e["delta"] for e in got if e["type"].endswith("_input.delta"))
    assert streamed == PATCH
    assert got[-1]["response"]["usage"]["total_tokens"] == 15


def test_without_stream_it_answers_one_json_response_then_its_reply() -> None:
    fake = FakeResponses(script=[500])
    assert post(fake, {"model": "m", "input": []}).status_code == 500
    reply = post(fake, {"model": "m", "input": []}).json()
    assert reply["object"] == "response" and reply["output"][0]["content"][0]["text"] == "Done."
    assert len(fake.requests) == 2


def test_unknown_routes_are_404_and_recorded() -> None:
    fake = FakeResponses()
    with httpx.Client(transport=fake.transport()) as client:
        assert client.get(fake.url + "/models").status_code == 404
    assert [(r.method, r.path) for r in fake.unknown] == [("GET", "/v1/models")]
    assert not fake.requests


def test_tool_outputs_are_read_back_by_call_id() -> None:
    items = [
        {"type": "function_call_output", "call_id": "a", "output": "listed"},
        {"type": "custom_tool_call_output", "call_id": "b", "output": [{"text": "patched"}]},
    ]
    assert tool_outputs(items) == {"a": "listed", "b": "patched"}
