"""A scripted OpenAI-compatible chat-completions server on loopback, for tests and the demo.

`FakeLLM(script)` answers each `POST /v1/chat/completions` with the next item of `script`:
a string is the reply's content; a `Calls` answers with tool calls; an int is an HTTP
error status. Once the script is used up, or when none is given, `reply` answers: by
default a plan that touches the files the issue names, and a change that appends a line
to each planned file, as one JSON answer or, when the request offers tools, through them
(read the files, write them, finish). `no_tools=True` makes it refuse requests with
tools, as endpoints without function calling do.

A request with `"stream": true` is answered as the API streams: server-sent
`chat.completion.chunk` events (text and tool calls in pieces), the usage in a last chunk
when `stream_options.include_usage` asks for it, then `data: [DONE]`. Each answer's usage
is counted from the request and the answer (about four characters a token; the part of the
prompt an earlier request already sent shows as cached), and kept in `usages`. Requests are
kept in `requests`, their headers in `headers`; any other route is answered 404 and kept
in `unknown`.
"""

import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .loopback import JsonServer

Messages = list[dict[str, Any]]
FILE_BLOCK = re.compile(r"^=== FILE (\S+) ===\n(.*?)\n=== END FILE ===$", re.DOTALL | re.MULTILINE)
PATH_IN_TEXT = re.compile(r"`([\w./-]+\.\w+)`")
NUMBERED = re.compile(r"^ *\d+  (.*)$")
APPENDED = "\n\nUpdated by IssuePilot.\n"
SSE = "text/event-stream; charset=utf-8"


@dataclass
class Calls:
    """An answer made of tool calls: (name, arguments) pairs, and optional text. Arguments
    given as a string are the input of a freeform (custom) tool, where the API has them."""

    calls: Sequence[tuple[str, dict[str, Any] | str]]
    content: str = ""


Answer = str | Calls
Reply = Callable[[Messages, list[str]], Answer]  # (messages, names of the tools offered)


def default_plan(messages: Messages) -> dict[str, Any]:
    """Modify the files the issue names in backticks."""
    user = next(m["content"] for m in messages if m["role"] == "user")
    paths = sorted(set(PATH_IN_TEXT.findall(user))) or ["NOTES.md"]
    return {
        "summary": "Make the change the issue asks for.",
        "steps": [f"Edit {p}" for p in paths],
        "files": [{"path": p, "action": "modify", "why": "named in the issue"} for p in paths],
        "risks": [],
    }


def planned_paths(messages: Messages) -> list[str]:
    """The approved plan's paths, from the executor's first user message."""
    user = next(m["content"] for m in messages if m["role"] == "user")
    plan_json = user.split("Approved plan:\n", 1)[1].split("\n\n")[0]
    return [f["path"] for f in json.loads(plan_json)["files"]]


def tool_results(messages: Messages) -> dict[str, str]:
    """What the tools answered so far, by the id of the call."""
    return {m["tool_call_id"]: m["content"] for m in messages if m["role"] == "tool"}


def calls_made(messages: Messages) -> list[tuple[str, str, dict[str, Any]]]:
    """Every tool call the model made so far: (id, name, arguments)."""
    return [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
        for m in messages
        if m["role"] == "assistant"
        for c in m.get("tool_calls") or []
    ]


def default_reply(messages: Messages, tools: list[str]) -> Answer:
    system, user = messages[0]["content"], messages[-1]["content"]
    planner = "planner" in system.lower()
    if planner and "submit_plan" in tools:
        return Calls([("submit_plan", default_plan(messages))])
    if planner:
        return json.dumps(default_plan(messages))
    if not tools:
        files = [
            {"path": path, "content": content.rstrip("\n") + APPENDED}
            for path, content in FILE_BLOCK.findall(user)
        ]
        return json.dumps({"files": files, "message": "Apply the approved plan"})
    return _append_a_line(messages)


def _append_a_line(messages: Messages) -> Answer:
    """The default change through tools: read every planned file, write it back with a
    line appended, finish."""
    made, answers = calls_made(messages), tool_results(messages)
    read = {args["path"]: answers.get(i, "") for i, name, args in made if name == "read_file"}
    if not read:
        return Calls([("read_file", {"path": p}) for p in planned_paths(messages)])
    if not any(name == "write_file" for _, name, _ in made):
        writes = []
        for path, shown in read.items():
            found = [NUMBERED.match(line) for line in shown.splitlines()]
            text = "\n".join(m.group(1) for m in found if m)
            writes.append(("write_file", {"path": path, "content": text.rstrip("\n") + APPENDED}))
        return Calls(writes)
    return Calls([("finish", {"message": "Apply the approved plan"})])


@dataclass
class FakeLLM(JsonServer):
    script: list[Answer | int] = field(default_factory=list)
    reply: Reply = default_reply
    no_tools: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    usages: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        JsonServer.__init__(self)
        self._lock = threading.Lock()
        self._calls = 0

    def answer(self, request: dict[str, Any]) -> tuple[int, Any]:
        tools = [t["function"]["name"] for t in request.get("tools") or []]
        with self._lock:
            self.requests.append(request)
            if tools and self.no_tools:
                return 400, {"error": {"message": "tools are not supported by this model"}}
            item = self.script.pop(0) if self.script else None
        if isinstance(item, int):
            # As real endpoints do, the error names a page about it (here, on the fake).
            text = f"scripted error {item}: see {self.origin}/docs/errors"
            return item, {"error": {"message": text, "type": "server_error"}}
        answer = item if item is not None else self.reply(request["messages"], tools)
        message: dict[str, Any] = {"role": "assistant", "content": answer}
        if isinstance(answer, Calls):
            message = {"role": "assistant", "content": answer.content, "tool_calls": []}
            for name, arguments in answer.calls:
                with self._lock:
                    self._calls += 1
                    number = self._calls
                message["tool_calls"].append(
                    {
                        "id": f"call_{number}",
                        "type": "function",
                        "function": {"name": name, "arguments": json.dumps(arguments)},
                    }
                )
        reason = "tool_calls" if message.get("tool_calls") else "stop"
        with self._lock:
            usage = self._usage(request, message)
            self.usages.append(usage)
            number = len(self.requests)
        return 200, {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": reason}],
            "usage": usage,
        }

    def _usage(self, request: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
        """Tokens as a real endpoint counts them, about four characters each. The prompt an
        earlier request began the same conversation with is a cache hit."""
        prompt = tokens(json.dumps([request.get("messages"), request.get("tools")]))
        completion = tokens(json.dumps(message))
        cached = 0  # the longest conversation this one continues
        for earlier in self.requests:
            before = earlier.get("messages") or []
            if earlier is not request and before == request["messages"][: len(before)]:
                cached = max(cached, tokens(json.dumps([before, earlier.get("tools")])))
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": min(cached, prompt)},
        }

    @property
    def url(self) -> str:
        return self.origin + "/v1"

    def respond(
        self, method: str, target: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.headers.append(headers)
        if method == "POST" and target.split("?")[0] == "/v1/chat/completions":
            request = json.loads(body)
            status, reply = self.answer(request)
            if status == 200 and request.get("stream"):
                include_usage = (request.get("stream_options") or {}).get("include_usage")
                return status, sse(reply, bool(include_usage)), {"Content-Type": SSE}
            return status, reply, {}
        with self._lock:
            self.unknown.append((method, target))
        return 404, {"error": {"message": f"unknown route {method} {target}"}}, {}


def tokens(text: str) -> int:
    return max(1, len(text) // 4)


def sse(completion: dict[str, Any], include_usage: bool) -> bytes:
    """A completion as the API streams it: the role, the text and each tool call's
    arguments in small pieces, the finish reason, the usage last if asked for."""
    [choice] = completion["choices"]
    message = choice["message"]
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": piece} for piece in pieces(message.get("content") or "")]
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call["function"]
        head = {"index": index, "id": call["id"], "type": "function"}
        deltas.append({"tool_calls": [{**head, "function": {"name": function["name"]}}]})
        for piece in pieces(function["arguments"]):
            deltas.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    head = {k: completion[k] for k in ("id", "created", "model")}
    head["object"] = "chat.completion.chunk"
    extra = {"usage": None} if include_usage else {}
    chunks = [
        {**head, "choices": [{"index": 0, "delta": d, "finish_reason": None}], **extra}
        for d in deltas
    ]
    last = {"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}
    chunks.append({**head, "choices": [last], **extra})
    if include_usage:
        chunks.append({**head, "choices": [], "usage": completion["usage"]})
    events = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks] + ["data: [DONE]\n\n"]
    return "".join(events).encode()


def pieces(text: str, size: int = 24) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]
