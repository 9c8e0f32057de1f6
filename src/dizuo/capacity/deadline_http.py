"""HTTP requests that end by one deadline, however slowly the answer comes.

urllib's ``timeout`` bounds each socket operation, not the request: a server (or a proxy in front of it) that
sends one byte a second never trips it, and the caller waits for ever. Here every read of the answer, its status
line and headers as well as its body, first sets the socket's timeout to what is left until a deadline fixed when
the request starts; a read that would pass it raises ``TimeoutError``. The standard library has no such limit, nor
do urllib3 or httpx (their timeouts are per read as well).
"""

from __future__ import annotations

import http.client
import io
import math
import socket
import time
import urllib.request
from typing import Any


class _DeadlineReader(io.RawIOBase):
    """A socket's reads, each given only the time left until ``deadline`` (monotonic s)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        # The socket's own reader: it holds the socket open until this reader is closed, as makefile() does.
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's deadline passed")
        self._sock.settimeout(left)
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineSocket:
    """A connected socket whose binary reader (what http.client reads an answer through) keeps the deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        if mode != "rb":  # http.client reads answers, and nothing else, through makefile("rb")
            raise ValueError(f"a reader with a deadline reads bytes only, not mode {mode!r}")
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _DeadlineHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, *, deadline: float = math.inf, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._deadline = deadline

    def connect(self) -> None:
        super().connect()  # with HTTPS (below, first in its order): TCP, then TLS
        self.sock = _DeadlineSocket(self.sock, self._deadline)


class _DeadlineHTTPSConnection(_DeadlineHTTPConnection, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: float) -> None:
        super().__init__()
        self._deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_DeadlineHTTPConnection, req, deadline=self._deadline)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: float) -> None:
        super().__init__()
        self._deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_DeadlineHTTPSConnection, req, deadline=self._deadline)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: urllib would resend a POST as a GET without its body (301, 302, 303), and the
    answer is then the redirect's own ``HTTPError`` (its ``Location`` in its headers)."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


def open_by(request: urllib.request.Request, timeout: float) -> http.client.HTTPResponse:
    """``urllib.request.urlopen(request)``, with every read of the answer done within ``timeout`` seconds from now;
    a read that would take longer raises ``TimeoutError`` (connecting and sending, wrapped in
    ``urllib.error.URLError`` as urllib does). A redirect is not followed: it raises ``urllib.error.HTTPError``."""
    deadline = time.monotonic() + timeout
    opener = urllib.request.build_opener(_HTTPHandler(deadline), _HTTPSHandler(deadline), _NoRedirect())
    response: http.client.HTTPResponse = opener.open(request, timeout=timeout)
    return response
