"""The scripted Gemini API: answers and streamed chunks in the real API's shape."""

import json
from typing import Any

import httpx
import pytest

from issuepilot.testing.fake_gemini import FakeGemini, Usage, function_names, function_responses
from issuepilot.testing.fake_llm import Calls

MODELS = "/v1beta/models/gemini-2.5-pro"


def post(fake: FakeGemini, path: str, body: dict[str, Any]) -> httpx.Response:
    with httpx.Client(transport=fake.transport()) as client:
        return client.post(fake.url + path, json=body)


def chunks(body: str) -> list[dict[str, Any]]:
    blocks = [b for b in body.split("\r\n\r\n") if b]
    assert all(b.startswith("data: ") for b in blocks)
    return [json.loads(b[len("data: ") :]) for b in blocks]


def test_a_streamed_answer_comes_in_chunks_the_last_with_the_usage() -> None:
    fake = FakeGemini(script=["Hello there, this is a longer reply."])
    reply = post(fake, f"{MODELS}:streamGenerateContent?alt=sse", {"contents": []})
    assert reply.headers["content-type"] == "text/event-stream"
    got = chunks(reply.text)
    text = "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in got)
    assert text == "Hello there, this is a longer reply." and len(got) > 1
    assert "finishReason" not in got[0]["candidates"][0] and "usageMetadata" not in got[0]
    assert got[-1]["candidates"][0]["finishReason"] == "STOP"
    assert got[-1]["usageMetadata"] == {
        "promptTokenCount": 1500,
        "cachedContentTokenCount": 300,
        "candidatesTokenCount": 60,
        "thoughtsTokenCount": 20,
        "totalTokenCount": 1580,
    }
    assert got[-1]["modelVersion"] == "gemini-2.5-pro"


def test_function_calls_come_whole_and_one_answer_holds_every_part() -> None:
    fake = FakeGemini(
        script=[Calls([("read_file", {"file_path": "a.py"})], "Reading it.")],
        usage=Usage(10, 0, 5, 0),
    )
    answer = post(fake, f"{MODELS}:generateContent", {"contents": []}).json()
    parts = answer["candidates"][0]["content"]["parts"]
    assert parts == [
        {"text": "Reading it."},
        {"functionCall": {"name": "read_file", "args": {"file_path": "a.py"}}},
    ]
    assert answer["usageMetadata"]["totalTokenCount"] == 15


def test_freeform_tool_input_is_not_gemini_s() -> None:
    with pytest.raises(TypeError, match="no freeform tools"):
        post(
            FakeGemini(script=[Calls([("apply_patch", "*** Begin Patch")])]),
            f"{MODELS}:generateContent",
            {},
        )


def test_errors_carry_the_api_s_status_and_the_reply_answers_after_the_script() -> None:
    fake = FakeGemini(script=[429])
    refused = post(fake, f"{MODELS}:generateContent", {"contents": []})
    assert refused.status_code == 429
    assert refused.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    answer = post(fake, f"{MODELS}:generateContent", {"contents": []}).json()
    assert answer["candidates"][0]["content"]["parts"] == [{"text": "Done."}]
    assert len(fake.requests) == 2


def test_unknown_routes_are_404_and_recorded() -> None:
    fake = FakeGemini()
    assert post(fake, f"{MODELS}:countTokens", {}).status_code == 404
    assert [(r.method, r.path) for r in fake.unknown] == [("POST", f"{MODELS}:countTokens")]


def test_what_a_request_declares_and_what_the_cli_answered_are_read_back() -> None:
    request = {"tools": [{"functionDeclarations": [{"name": "read_file"}, {"name": "glob"}]}]}
    assert function_names(request) == ["read_file", "glob"]
    contents = [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "glob", "response": {"a": 1}}}]},
    ]
    assert function_responses(contents) == [{"name": "glob", "response": {"a": 1}}]
