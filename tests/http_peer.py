"""A real HTTP server on 127.0.0.1 for client-side tests: it records each request and answers from a table.

It stands in for a cluster where the test is about what the client sends or makes of an
answer (credentials on the wire, a 403 without a body), not about what OpenSearch does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    """One request as the peer received it."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased


class HttpPeer:
    """Answers ``(method, path)`` from ``answers`` (status, JSON body or ``None``); anything else 404."""

    def __init__(self, answers: dict[tuple[str, str], tuple[int, Any]]) -> None:
        self.answers = answers
        self.requests: list[Request] = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                peer.requests.append(Request(self.command, path, {k.lower(): v for k, v in self.headers.items()}))
                status, body = peer.answers.get((self.command, path), (404, None))
                data = b"" if body is None or self.command == "HEAD" else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _answer  # noqa: N815

            def log_message(self, *args: Any) -> None:  # no stderr noise
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def http_peer(answers: dict[tuple[str, str], tuple[int, Any]]) -> Iterator[HttpPeer]:
    """Run an ``HttpPeer`` for the duration of the block."""
    peer = HttpPeer(answers)
    thread = threading.Thread(target=peer.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        peer.server.shutdown()
        peer.server.server_close()
        thread.join()
