"""A scripted Gemini API server on loopback, for tests of agent CLIs that speak it (Gemini
CLI, through the `@google/genai` SDK with its base URL set).

`FakeGemini(script)` answers each `POST /v1beta/models/<model>:generateContent` with the next
item of `script`, and each `:streamGenerateContent?alt=sse` the same way as server-sent
events in the chunks the real API sends (the text in pieces, each function call whole, the
last chunk with `finishReason` and `usageMetadata`). A string is the model's text; a
`Calls` answers with function calls (`functionCall` parts, the arguments a dict); an int is
an HTTP error status, with the API's error body. Once the script is used up, `reply`
answers (by default: "Done.").

Every answer reports `usageMetadata` (prompt tokens with their cached part, answer tokens,
thinking tokens), the same figures each time, so a test can total what a run used.
Requests are kept in `requests` (body and lower-case headers); any other route is answered
404 and kept in `unknown`, for tests to assert that the CLI called nothing else.
"""

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .fake_llm import Answer, Calls
from .fake_responses import Recorded
from .loopback import JsonServer

Contents = list[dict[str, Any]]
Reply = Callable[[Contents, list[str]], Answer]  # (the request's contents, functions offered)
ROUTE = re.compile(r"^/v1(?:beta|alpha)?/models/([^/:]+):(generateContent|streamGenerateContent)$")
SSE = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}
STATUS |= {404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


@dataclass(frozen=True)
class Usage:
    """What one answer reports it used."""

    prompt_tokens: int = 1500
    cached_tokens: int = 300  # part of `prompt_tokens`, read from the cache
    answer_tokens: int = 60
    thinking_tokens: int = 20  # on top of `answer_tokens`

    def body(self) -> dict[str, Any]:
        return {
            "promptTokenCount": self.prompt_tokens,
            "cachedContentTokenCount": self.cached_tokens,
            "candidatesTokenCount": self.answer_tokens,
            "thoughtsTokenCount": self.thinking_tokens,
            "totalTokenCount": self.prompt_tokens + self.answer_tokens + self.thinking_tokens,
        }


def done(contents: Contents, functions: list[str]) -> Answer:
    return "Done."


def function_names(request: dict[str, Any]) -> list[str]:
    """The names of the functions a request declares."""
    return [
        declared["name"]
        for tool in request.get("tools") or []
        for declared in tool.get("functionDeclarations") or []
    ]


def function_responses(contents: Contents) -> list[dict[str, Any]]:
    """The CLI's answers to the model's function calls so far: `{"name", "response"}`."""
    return [
        part["functionResponse"]
        for content in contents
        for part in content.get("parts") or []
        if "functionResponse" in part
    ]


@dataclass
class FakeGemini(JsonServer):
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
        """The base URL a client is given (it appends `/v1beta/models/...`)."""
        return self.origin

    def respond(
        self, method: str, target: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        path, _, query = target.partition("?")
        try:
            request = json.loads(body) if body else {}
        except ValueError:
            request = {"unparsed": body.decode(errors="replace")}
        recorded = Recorded(method, path, headers, request if isinstance(request, dict) else {})
        found = ROUTE.match(path)
        if method != "POST" or found is None:
            with self._lock:
                self.unknown.append(recorded)
            return 404, _error(404, f"unknown route {method} {path}"), {}
        with self._lock:
            self.requests.append(recorded)
            item = self.script.pop(0) if self.script else None
            self._ids += 1
        if isinstance(item, int):
            return item, _error(item, f"scripted error {item}"), {}
        contents = request.get("contents") or []
        answer = item if item is not None else self.reply(contents, function_names(request))
        chunks = self._chunks(found.group(1), answer)
        if found.group(2) == "generateContent":
            return 200, _merged(chunks), {}
        events = "".join(f"data: {json.dumps(chunk)}\r\n\r\n" for chunk in chunks)
        return 200, events.encode(), SSE

    def _chunks(self, model: str, answer: Answer) -> list[dict[str, Any]]:
        """The answer as the streaming API sends it: text in pieces, then each call, the
        last chunk finishing with the usage."""
        text = answer.content if isinstance(answer, Calls) else answer
        parts: list[dict[str, Any]] = [{"text": piece} for piece in _pieces(text)]
        for name, arguments in answer.calls if isinstance(answer, Calls) else []:
            if not isinstance(arguments, dict):
                raise TypeError(f"Gemini has no freeform tools: {name} needs a dict")
            parts.append({"functionCall": {"name": name, "args": arguments}})
        parts = parts or [{"text": ""}]
        chunks = []
        for n, part in enumerate(parts):
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": [part]}, "index": 0}
            chunk: dict[str, Any] = {"candidates": [candidate], "modelVersion": model}
            chunk["responseId"] = f"resp-{self._ids:04d}"
            if n == len(parts) - 1:
                candidate["finishReason"] = "STOP"
                chunk["usageMetadata"] = self.usage.body()
            chunks.append(chunk)
        return chunks


def _merged(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """One `generateContent` answer: the chunks' parts in one candidate."""
    last = chunks[-1]
    parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    candidate = {**last["candidates"][0], "content": {"role": "model", "parts": parts}}
    return {**last, "candidates": [candidate]}


def _pieces(text: str, size: int = 24) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _error(code: int, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": STATUS.get(code, "UNKNOWN")}}
