"""The scripted chat-completions server as the official SDK reads it: whole answers and
streamed ones (text, tool calls, usage), the usage it counts, what it records."""

import json
from collections.abc import Iterator

import httpx
import pytest
from openai import OpenAI

from issuepilot.testing.fake_llm import Calls, FakeLLM


@pytest.fixture
def model() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


def client(model: FakeLLM) -> OpenAI:
    return OpenAI(base_url=model.url, api_key="sk-test", max_retries=0)


def test_a_streamed_answer_carries_the_text_and_the_usage_last(model: FakeLLM) -> None:
    text = "A reply long enough to be sent in several pieces, as a real stream is."
    model.script = [text]
    stream = client(model).chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices]
    assert "".join(p or "" for p in pieces) == text
    assert len([p for p in pieces if p]) > 1
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.model_dump(exclude_none=True) == model.usages[0]
    assert all(c.usage is None for c in chunks[:-1])


def test_a_stream_without_include_usage_has_no_usage(model: FakeLLM) -> None:
    model.script = ["ok"]
    messages = [{"role": "user", "content": "hi"}]
    chunks = list(client(model).chat.completions.create(model="m", messages=messages, stream=True))
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


def test_streamed_tool_calls_are_put_together_by_index(model: FakeLLM) -> None:
    edit = {"path": "src/app.py", "search": "Hello " * 10, "replace": "Hi"}
    model.script = [Calls([("read_file", {"path": "a.py"}), ("edit_file", edit)], "Editing.")]
    stream = client(model).chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "go"}],
        tools=[
            {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
            for n in ("read_file", "edit_file")
        ],
        stream=True,
    )
    calls: dict[int, dict[str, str]] = {}
    text, finish = "", None
    for chunk in stream:
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        text += choice.delta.content or ""
        for call in choice.delta.tool_calls or []:
            found = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            found["id"] += call.id or ""
            if call.function:
                found["name"] += call.function.name or ""
                found["arguments"] += call.function.arguments or ""
    assert finish == "tool_calls" and text == "Editing."
    assert [(c["name"], c["arguments"]) for c in calls.values()] == [
        ("read_file", '{"path": "a.py"}'),
        ("edit_file", json.dumps(edit)),
    ]
    assert calls[0]["id"] != calls[1]["id"]


def test_usage_grows_with_the_prompt_and_a_continued_conversation_hits_the_cache(
    model: FakeLLM,
) -> None:
    model.script = ["first answer", "second answer"]
    ai = client(model)
    first = [{"role": "user", "content": "x" * 400}]
    ai.chat.completions.create(model="m", messages=first)
    second = [*first, {"role": "assistant", "content": "first answer"}]
    second.append({"role": "user", "content": "and then?"})
    reply = ai.chat.completions.create(model="m", messages=second)
    one, two = model.usages
    assert one["prompt_tokens"] > 100 and one["prompt_tokens_details"]["cached_tokens"] == 0
    assert two["prompt_tokens"] > one["prompt_tokens"]
    assert two["prompt_tokens_details"]["cached_tokens"] == one["prompt_tokens"]
    assert reply.usage is not None and reply.usage.total_tokens == two["total_tokens"]


def test_headers_are_recorded_and_unknown_routes_answered_404(model: FakeLLM) -> None:
    model.script = ["ok"]
    client(model).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert model.headers[0]["authorization"] == "Bearer sk-test"
    assert httpx.get(model.url + "/models").status_code == 404
    assert model.unknown == [("GET", "/v1/models")]
