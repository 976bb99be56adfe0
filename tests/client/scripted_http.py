"""A tiny real HTTP server answering a script of replies, for exact transport scenarios."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    """One scripted answer; ``drop`` closes the connection without any response."""

    status: int = 200
    body: bytes = b"{}"
    headers: Mapping[str, str] = field(default_factory=dict)
    drop: bool = False


@dataclass(frozen=True)
class Received:
    """One request as the scripted server saw it."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    at: float


class ScriptedServer:
    """A real HTTP server on 127.0.0.1 answering queued :class:`Reply` objects in order.

    When the script runs out it answers ``default``.
    """

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self.script: deque[Reply] = deque()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = self._read_chunked()
                else:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = self.rfile.read(length) if length else b""
                with server._lock:
                    server.received.append(
                        Received(
                            self.command, self.path, dict(self.headers), body, time.monotonic()
                        )
                    )
                    reply = server.script.popleft() if server.script else server.default
                if reply.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(reply.body)

            def _read_chunked(self) -> bytes:
                parts = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()  # the CRLF after each chunk
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output quiet

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def then(self, *replies: Reply) -> ScriptedServer:
        """Queue replies."""
        self.script.extend(replies)
        return self
