"""Serving the app: the socket bound first, then uvicorn, with bounds on what a client can hold.

``hipkb serve`` binds its socket before anything is printed, so it says the
address it really has (``--port 0`` takes a free port; a busy port is one
line and exit status 2, never "serving" then a failure), and hands the
socket to uvicorn with:

- a deadline for a request's headers (:data:`HEADER_SECONDS`), which uvicorn
  does not have: a connection that never finishes its headers is closed, so
  slow or half-open clients cannot hold every connection (or every file
  descriptor) for ever;
- uvicorn's deadline for an idle kept-alive connection
  (:data:`KEEP_ALIVE_SECONDS`) and its bound on connections and requests
  (:data:`MAX_CONNECTIONS`; past it, HTTP 503);
- uvicorn's messages on stderr only (stdout may be closed).

The app bounds the rest: bodies, requests in flight, the work off the event
loop (:mod:`hipkb.web.app`).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from hipkb.errors import HipkbError

HEADER_SECONDS = 5.0
KEEP_ALIVE_SECONDS = 5
MAX_CONNECTIONS = 200
BACKLOG = 128
SHUTDOWN_SECONDS = 5



class OneLine(logging.Formatter):
    """A log record on one line: the message and the exception's, never a traceback.

    asyncio logs a traceback each time ``accept`` finds no file descriptor
    free (every second while clients hold them all); a line says as much.
    """

    def format(self, record: logging.LogRecord) -> str:
        text = f"hipkb serve: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        return " ".join(text.split())


LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"()": OneLine}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stderr"}},
    "loggers": {
        # Errors only: uvicorn warns of every 503 and every malformed request,
        # which a client can make it print without end.
        "uvicorn": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "ERROR", "propagate": False},
        "asyncio": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
        "hipkb.web": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
    },
}


class HeaderDeadline(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers are not in after :attr:`header_seconds`.

    The deadline runs from the connection's start, and again from the end of
    each response while the connection is kept alive; bytes arriving slowly
    do not put it off (uvicorn's keep-alive timer restarts with every byte).
    """

    header_seconds = HEADER_SECONDS
    _header_timer: Any = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._await_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._stop_header_timer()  # the headers are in: the app bounds the body

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        self._stop_header_timer()
        self._header_timer = self.loop.call_later(self.header_seconds, self._headers_late)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        waiting = self.conn.their_state is h11.IDLE and (self.cycle is None or self.cycle.response_complete)
        if waiting and not self.transport.is_closing():
            self.transport.close()  # no request to answer: only a connection held open


def listen(host: str, port: int) -> socket.socket:
    """A socket listening at *host*:*port* (``--port 0``: a free one); one line when it cannot be had."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as error:
        raise HipkbError(where, "", f"cannot listen there ({getattr(error, 'strerror', None) or error})") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart reuses the port
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as error:
        sock.close()
        raise HipkbError(where, "", f"cannot listen there ({error.strerror or error})") from None
    return sock


def url_of(sock: socket.socket) -> str:
    """The address a bound socket really has, as a URL (``http://127.0.0.1:8123/``, ``http://[::1]:8123/``)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(app: Any, sock: socket.socket, *, header_seconds: float = HEADER_SECONDS,
          max_connections: int = MAX_CONNECTIONS, keep_alive_seconds: int = KEEP_ALIVE_SECONDS,
          started: Callable[[uvicorn.Server], None] | None = None) -> None:
    """Serve *app* on the listening socket *sock* until SIGINT or SIGTERM (or ``server.should_exit``).

    *started* is called with the uvicorn server before it runs (a caller in
    another thread sets ``should_exit`` on it to stop it).
    """
    protocol = type("HeaderDeadline", (HeaderDeadline,), {"header_seconds": header_seconds})
    config = uvicorn.Config(app, http=protocol, log_config=LOG_CONFIG, log_level="error", access_log=False,
                            server_header=False, lifespan="off", limit_concurrency=max_connections,
                            timeout_keep_alive=keep_alive_seconds, timeout_graceful_shutdown=SHUTDOWN_SECONDS)
    server = uvicorn.Server(config)
    if started is not None:
        started(server)
    server.run(sockets=[sock])


__all__ = ["HEADER_SECONDS", "KEEP_ALIVE_SECONDS", "MAX_CONNECTIONS", "HeaderDeadline", "listen", "serve", "url_of"]
