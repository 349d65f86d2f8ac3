"""A scripted OpenAI-compatible chat-completions server on loopback, for tests and the demo.

`FakeLLM(script)` answers each `POST /v1/chat/completions` with the next item of `script`:
a string is the reply's content; a `Calls` answers with tool calls; an int is an HTTP
error status. Once the script is used up, or when none is given, `reply` answers: by
default a plan that touches the files the issue names, and a change that appends a line
to each planned file, as one JSON answer or, when the request offers tools, through them
(read the files, write them, finish). `no_tools=True` makes it refuse requests with
tools, as endpoints without function calling do. Requests are kept in `requests`.
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
            return item, {"error": {"message": f"scripted error {item}", "type": "server_error"}}
        answer = item if item is not None else self.reply(request["messages"], tools)
        message: dict[str, Any] = {"role": "assistant", "content": answer}
        if isinstance(answer, Calls):
            message = {"role": "assistant", "content": answer.content, "tool_calls": []}
            for name, arguments in answer.calls:
                self._calls += 1
                message["tool_calls"].append(
                    {
                        "id": f"call_{self._calls}",
                        "type": "function",
                        "function": {"name": name, "arguments": json.dumps(arguments)},
                    }
                )
        reason = "tool_calls" if message.get("tool_calls") else "stop"
        return 200, {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": reason}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
        }

    @property
    def url(self) -> str:
        return self.origin + "/v1"

    def respond(
        self, method: str, target: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "POST" and target.rstrip("/").endswith("/chat/completions"):
            status, reply = self.answer(json.loads(body))
            return status, reply, {}
        return 404, {"error": {"message": f"unknown route {method} {target}"}}, {}
