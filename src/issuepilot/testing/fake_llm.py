"""A scripted OpenAI-compatible chat-completions server on loopback, for tests and the demo.

`FakeLLM(script)` answers each `POST /v1/chat/completions` with the next item of `script`
(a string is the reply's content; an int is an HTTP error status), or, once the script
is used up or when none is given, with `default_reply`: a plan that touches the files
the issue names, or the planned files with a line appended. Requests are kept in
`requests` for tests to inspect.
"""

import json
import re
import threading
from collections.abc import Callable
from typing import Any

from .loopback import JsonServer

Messages = list[dict[str, str]]
FILE_BLOCK = re.compile(r"^=== FILE (\S+) ===\n(.*?)\n=== END FILE ===$", re.DOTALL | re.MULTILINE)
PATH_IN_TEXT = re.compile(r"`([\w./-]+\.\w+)`")


def default_reply(messages: Messages) -> str:
    system, user = messages[0]["content"], messages[-1]["content"]
    if "planner" in system.lower():
        paths = sorted(set(PATH_IN_TEXT.findall(user))) or ["NOTES.md"]
        return json.dumps(
            {
                "summary": "Make the change the issue asks for.",
                "steps": [f"Edit {p}" for p in paths],
                "files": [
                    {"path": p, "action": "modify", "why": "named in the issue"} for p in paths
                ],
                "risks": [],
            }
        )
    files = [
        {"path": path, "content": content.rstrip("\n") + "\n\nUpdated by IssuePilot.\n"}
        for path, content in FILE_BLOCK.findall(user)
    ]
    return json.dumps({"files": files, "message": "Apply the approved plan"})


class FakeLLM(JsonServer):
    def __init__(
        self,
        script: list[str | int] | None = None,
        reply: Callable[[Messages], str] = default_reply,
    ) -> None:
        super().__init__()
        self.script = list(script or [])
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def answer(self, request: dict[str, Any]) -> tuple[int, Any]:
        with self._lock:
            self.requests.append(request)
            item = self.script.pop(0) if self.script else None
        if isinstance(item, int):
            return item, {"error": {"message": f"scripted error {item}", "type": "server_error"}}
        content = item if item is not None else self.reply(request["messages"])
        return 200, {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
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
