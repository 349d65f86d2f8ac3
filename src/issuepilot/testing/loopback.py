"""A JSON-over-HTTP server on a free loopback port, served from a thread, or the same
answers in-process through httpx's mock transport: the base of the local fakes."""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import httpx

# The origin of a fake that was not started: only its in-process transport serves it.
IN_PROCESS_ORIGIN = "http://in-process.invalid"


class LostReply(Exception):
    """Raised by `respond`: close the connection without answering."""


class Quiet(ThreadingHTTPServer):
    """Says nothing of a client that went away mid-request (tests kill runs on purpose)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class JsonServer:
    def __init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self.bytes_in = self.bytes_out = 0

    def respond(
        self, method: str, target: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, body, extra headers) for one request; `headers` in lower case. The body
        is JSON, or bytes sent as they are (with their own `Content-Type` among the headers),
        or None for no body."""
        raise NotImplementedError

    @property
    def origin(self) -> str:
        if self._server is None:
            return IN_PROCESS_ORIGIN
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def serve(
        self, method: str, target: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes, dict[str, str]]:
        """One request answered as bytes, counted in `bytes_in` and `bytes_out`."""
        status, reply, extra = self.respond(method, target, body, headers)
        if status == 204 or reply is None:
            data = b""
        else:
            data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
        self.bytes_in += len(body)
        self.bytes_out += len(data)
        return status, data, {"Content-Type": "application/json; charset=utf-8", **extra}

    def transport(self) -> httpx.MockTransport:
        """The same answers in-process, for an httpx client, with no socket and no thread.
        A lost reply shows as the error a dropped connection gives."""

        def handle(request: httpx.Request) -> httpx.Response:
            target = request.url.raw_path.decode("ascii")
            headers = {name.lower(): value for name, value in request.headers.items()}
            try:
                status, data, extra = self.serve(request.method, target, request.content, headers)
            except LostReply:
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                ) from None
            return httpx.Response(status, content=data, headers=extra)

        return httpx.MockTransport(handle)

    def start(self) -> Self:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    status, data, extra = server.serve(self.command, self.path, raw, headers)
                except LostReply:
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client died (tests kill runs on purpose): its reply is lost

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        self._server = Quiet(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll: stopping the server waits for the loop to notice, at most this long.
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
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
