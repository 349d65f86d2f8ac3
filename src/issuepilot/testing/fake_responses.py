"""A scripted OpenAI Responses API server on loopback, for tests of agent CLIs that speak it
(Codex).

`FakeResponses(script)` answers each `POST /v1/responses` with the next item of `script`,
streamed as server-sent events in the order the real API sends them (`response.created`,
`response.output_item.added`, the text or argument deltas, `response.output_item.done`,
`response.completed` with `usage`), or as one JSON response when the request does not ask to
stream. A string is an assistant message; a `Calls` answers with tool calls: arguments given
as a dict make a function call (`function_call`), given as a string the input of a custom,
freeform tool (`custom_tool_call`, as Codex's `apply_patch`); an int is an HTTP error status.
Once the script is used up, `reply` answers (by default: "Done.").

Every response reports `usage` (input tokens with their cached part, output tokens with
their reasoning part), the same figures each time, so a test can total what a run used.
Requests are kept in `requests` (body and lower-case headers); any other route is answered
404 and kept in `unknown`, for tests to assert that the CLI called nothing else.
"""

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .fake_llm import Answer, Calls
from .loopback import JsonServer

Items = list[dict[str, Any]]
Reply = Callable[[Items, list[str]], Answer]  # (the request's input items, tools offered)
SSE = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}


@dataclass(frozen=True)
class Usage:
    """What one response reports it used."""

    input_tokens: int = 1200
    cached_tokens: int = 200  # part of `input_tokens`, read from the prompt cache
    output_tokens: int = 40
    reasoning_tokens: int = 10  # part of `output_tokens`

    def body(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": self.cached_tokens},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.input_tokens + self.output_tokens,
        }


@dataclass(frozen=True)
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def done(items: Items, tools: list[str]) -> Answer:
    return "Done."


def tool_names(request: dict[str, Any]) -> list[str]:
    """The names of the tools a request offers (hosted tools by their type)."""
    return [t.get("name") or t.get("type", "") for t in request.get("tools") or []]


def tool_outputs(items: Items) -> dict[str, str]:
    """What the CLI answered to each tool call so far, by the call's id."""
    found = {}
    for item in items:
        if item.get("type") in ("function_call_output", "custom_tool_call_output"):
            output = item.get("output")
            if isinstance(output, list):  # content items
                output = "".join(part.get("text", "") for part in output)
            found[item["call_id"]] = str(output)
    return found


@dataclass
class FakeResponses(JsonServer):
    script: list[Answer | int] = field(default_factory=list)
    reply: Reply = done
    usage: Usage = field(default_factory=Usage)
    requests: list[Recorded] = field(default_factory=list)
    unknown: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        JsonServer.__init__(self)
        self._lock = threading.Lock()
        self._ids = 0

    @property
    def url(self) -> str:
        """The base URL a client is given (it appends `/responses`)."""
        return self.origin + "/v1"

    def respond(
        self, method: str, target: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        path = target.split("?", 1)[0].rstrip("/")
        try:
            request = json.loads(body) if body else {}
        except ValueError:
            request = {"unparsed": body.decode(errors="replace")}
        recorded = Recorded(method, path, headers, request if isinstance(request, dict) else {})
        if method != "POST" or not path.endswith("/responses"):
            with self._lock:
                self.unknown.append(recorded)
            return 404, {"error": {"message": f"unknown route {method} {path}"}}, {}
        with self._lock:
            self.requests.append(recorded)
            item = self.script.pop(0) if self.script else None
        if isinstance(item, int):
            error = {"message": f"scripted error {item}", "type": "server_error", "code": None}
            return item, {"error": error}, {}
        answer = (
            item
            if item is not None
            else self.reply(request.get("input") or [], tool_names(request))
        )
        response = self._response(request.get("model", "fake"), answer)
        if not request.get("stream"):
            return 200, response, {}
        return 200, self._stream(response), SSE

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._ids += 1
            return f"{prefix}_{self._ids:04d}"

    def _response(self, model: str, answer: Answer) -> dict[str, Any]:
        output: Items = []
        text = answer.content if isinstance(answer, Calls) else answer
        if text:
            output.append(
                {
                    "id": self._next_id("msg"),
                    "type": "message",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            )
        for name, arguments in answer.calls if isinstance(answer, Calls) else []:
            call = {"call_id": self._next_id("call"), "name": name, "status": "completed"}
            if isinstance(arguments, str):
                output.append(
                    {
                        "id": self._next_id("ctc"),
                        "type": "custom_tool_call",
                        **call,
                        "input": arguments,
                    }
                )
            else:
                output.append(
                    {
                        "id": self._next_id("fc"),
                        "type": "function_call",
                        **call,
                        "arguments": json.dumps(arguments),
                    }
                )
        return {
            "id": self._next_id("resp"),
            "object": "response",
            "created_at": 1_700_000_000,
            "status": "completed",
            "model": model,
            "output": output,
            "parallel_tool_calls": True,
            "usage": self.usage.body(),
        }

    def _stream(self, response: dict[str, Any]) -> bytes:
        """The events the real API streams for `response`, as server-sent events."""
        events: Items = [
            {
                "type": "response.created",
                "response": {**response, "status": "in_progress", "output": [], "usage": None},
            },
            {
                "type": "response.in_progress",
                "response": {**response, "status": "in_progress", "output": [], "usage": None},
            },
        ]
        for index, item in enumerate(response["output"]):
            events += _item_events(index, item)
        events.append({"type": "response.completed", "response": response})
        numbered = ({**event, "sequence_number": n} for n, event in enumerate(events))
        return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in numbered)


def _item_events(index: int, item: dict[str, Any]) -> Items:
    """An output item: added (empty, in progress), its content in deltas, done."""
    at = {"output_index": index, "item_id": item["id"]}
    if item["type"] == "message":
        text = item["content"][0]["text"]
        part = {"type": "output_text", "text": "", "annotations": []}
        middle: Items = [
            {"type": "response.content_part.added", **at, "content_index": 0, "part": part},
            *(
                {"type": "response.output_text.delta", **at, "content_index": 0, "delta": chunk}
                for chunk in _chunks(text)
            ),
            {"type": "response.output_text.done", **at, "content_index": 0, "text": text},
            {
                "type": "response.content_part.done",
                **at,
                "content_index": 0,
                "part": item["content"][0],
            },
        ]
        empty = {**item, "status": "in_progress", "content": []}
    elif item["type"] == "function_call":
        middle = [
            *(
                {"type": "response.function_call_arguments.delta", **at, "delta": c}
                for c in _chunks(item["arguments"])
            ),
            {"type": "response.function_call_arguments.done", **at, "arguments": item["arguments"]},
        ]
        empty = {**item, "status": "in_progress", "arguments": ""}
    else:
        middle = [
            *(
                {"type": "response.custom_tool_call_input.delta", **at, "delta": c}
                for c in _chunks(item["input"])
            ),
            {"type": "response.custom_tool_call_input.done", **at, "input": item["input"]},
        ]
        empty = {**item, "status": "in_progress", "input": ""}
    return [
        {"type": "response.output_item.added", "output_index": index, "item": empty},
        *middle,
        {"type": "response.output_item.done", "output_index": index, "item": item},
    ]


def _chunks(text: str, size: int = 24) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
