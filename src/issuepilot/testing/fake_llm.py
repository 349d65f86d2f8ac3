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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

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


class FakeLLM:
    def __init__(
        self,
        script: list[str | int] | None = None,
        reply: Callable[[Messages], str] = default_reply,
    ) -> None:
        self.script = list(script or [])
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

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

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.rstrip("/").endswith("/chat/completions"):
                    status, body = fake.answer(json.loads(raw))
                else:
                    status, body = 404, {"error": {"message": f"unknown route {self.path}"}}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
