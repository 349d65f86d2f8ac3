"""A scripted Anthropic Messages API on loopback, for tests of the Claude Code preset.

`FakeAnthropic(script)` answers each `POST /v1/messages` with the next item of `script`: a
string is a text reply; a `Calls` (the fake model's vocabulary, `fake_llm.Calls`) is a reply
of `tool_use` blocks, its `content` a text block before them; an int is an HTTP error
status; a function makes the reply from the request's body. Once the script is used up it
answers "Done.". A request with `"stream": true` is
answered with server-sent events as the real API streams them (`message_start`,
`content_block_start`, `ping`, `content_block_delta` with `text_delta` or
`input_json_delta` fragments, `content_block_stop`, `message_delta` with the stop reason
and usage, `message_stop`); any other with the whole message as JSON.

Every answer reports the same `usage` (uncached, cache-written and cache-read input,
output), so a test can tell what a client should add up. Requests are kept in `requests`
(path, lower-case headers, JSON body); a request to any other route is answered 404 and
kept in `unknown`.

The format: https://docs.anthropic.com/en/docs/build-with-claude/streaming
"""

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .fake_llm import Answer, Calls
from .loopback import JsonServer

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


Step = Answer | int | Callable[[dict[str, Any]], Answer]


@dataclass(frozen=True)
class Usage:
    """One answer's token counts, as the API reports them: `input_tokens` leaves out the
    input read from or written to the prompt cache."""

    input_tokens: int = 1200
    cache_creation_input_tokens: int = 3000
    cache_read_input_tokens: int = 9000
    output_tokens: int = 150

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
            + self.output_tokens
        )

    def start(self) -> dict[str, int]:
        """As `message_start` gives it: the input, and the first output token."""
        return {**self.final(), "output_tokens": 1}

    def final(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "output_tokens": self.output_tokens,
        }


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeAnthropic(JsonServer):
    script: list[Step] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    requests: list[Request] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        JsonServer.__init__(self)
        self._lock = threading.Lock()
        self._ids = 0

    @property
    def url(self) -> str:
        """The base URL a client is given (it appends `/v1/messages`)."""
        return self.origin

    def respond(
        self, method: str, target: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        path = target.split("?", 1)[0]
        if method != "POST" or path.rstrip("/") != "/v1/messages":
            with self._lock:
                self.unknown.append(f"{method} {target}")
            return 404, error("not_found_error", f"unknown route {method} {target}"), {}
        request = json.loads(body)
        with self._lock:
            self.requests.append(Request(target, headers, request))
            item = self.script.pop(0) if self.script else "Done."
            self._ids += 1
            number = self._ids
        if isinstance(item, int):
            kind = ERROR_TYPES.get(item, "api_error")
            return item, error(kind, f"scripted error {item}"), {"request-id": f"req_{number}"}
        blocks = content_blocks(item(request) if callable(item) else item, number)
        model = str(request.get("model", "claude-fake"))
        extra = {"request-id": f"req_{number:024d}"}
        if request.get("stream"):
            events = self.events(blocks, model, number)
            return 200, sse(events), {**extra, "Content-Type": "text/event-stream"}
        return 200, self.message(blocks, model, number, self.usage.final()), extra

    def message(
        self, blocks: list[dict[str, Any]], model: str, number: int, usage: dict[str, int]
    ) -> dict[str, Any]:
        return {
            "id": f"msg_{number:024d}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": stop_reason(blocks),
            "stop_sequence": None,
            "usage": usage,
        }

    def events(self, blocks: list[dict[str, Any]], model: str, number: int) -> list[dict[str, Any]]:
        start = self.message([], model, number, self.usage.start())
        start["stop_reason"] = None
        events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
        for index, block in enumerate(blocks):
            events += block_events(index, block)
            if index == 0:
                events.append({"type": "ping"})
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason(blocks), "stop_sequence": None},
                "usage": self.usage.final(),
            }
        )
        events.append({"type": "message_stop"})
        return events


def content_blocks(answer: Answer, number: int) -> list[dict[str, Any]]:
    """The content of one reply: text, then one `tool_use` block per call."""
    if isinstance(answer, str):
        return [{"type": "text", "text": answer}]
    blocks: list[dict[str, Any]] = []
    if answer.content:
        blocks.append({"type": "text", "text": answer.content})
    for count, (name, arguments) in enumerate(answer.calls, 1):
        tool_id = f"toolu_{number:04d}{count:04d}fake"
        blocks.append({"type": "tool_use", "id": tool_id, "name": name, "input": arguments})
    return blocks


def block_events(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    """How one block streams: an empty start, the content in fragments, the stop."""
    if block["type"] == "text":
        empty: dict[str, Any] = {"type": "text", "text": ""}
        text = block["text"]
        deltas = [{"type": "text_delta", "text": part} for part in halves(text)]
    else:
        empty = {**block, "input": {}}
        encoded = json.dumps(block["input"])
        # The API opens a tool's input with an empty fragment, then splits it anywhere.
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in ["", *halves(encoded)]]
    return [
        {"type": "content_block_start", "index": index, "content_block": empty},
        *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def halves(text: str) -> list[str]:
    """A text in two fragments (one when it is too short to split)."""
    middle = len(text) // 2
    return [text[:middle], text[middle:]] if middle else [text]


def stop_reason(blocks: list[dict[str, Any]]) -> str:
    return "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"


def sse(events: list[dict[str, Any]]) -> bytes:
    """Server-sent events, each named after its type."""
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


__all__ = ["Calls", "FakeAnthropic", "Request", "Step", "Usage"]
