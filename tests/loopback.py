"""HTTP servers on loopback for tests: a handler served on a free 127.0.0.1 port in a thread, stopped after."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager


@contextmanager
def serving_http(handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` answering HTTP on a free 127.0.0.1 port: its base URL, ``http://127.0.0.1:<port>``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler answering GET and POST alike through ``respond`` (a subclass's), with one call to ``answer``;
    it logs nothing (no line per request in the test's output)."""

    def respond(self) -> None:
        """Answer the request (``self.path``, ``self.headers``, a POST's body in ``self.rfile``)."""
        self.answer(501)

    def do_GET(self) -> None:
        self.respond()

    def do_POST(self) -> None:
        self.respond()

    def answer(self, code: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> None:
        """Answer with ``code``, ``headers`` and ``body``, its length said."""
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass
