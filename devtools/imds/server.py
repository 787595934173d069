"""The HTTP plumbing of the IMDS simulator: threads, sockets, hanging and clean shutdown.

A thread per connection (``ThreadingHTTPServer``) so that a request left hanging on purpose
never blocks anyone else. The server tracks its open connections so that :meth:`ImdsServer.close`
can cut idle keep-alive and hanging ones, then joins every handler thread: nothing outlives it.
What to answer is decided elsewhere (:class:`Backend`); this module only carries it out.
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final, Protocol

from devtools.imds.protocol import Plan, Reply

logger = logging.getLogger(__name__)

MAX_BODY: Final = 1 << 20
HANG_POLL_S: Final = 0.02
"""How often a hanging request checks whether its client gave up or the server is stopping."""


class Backend(Protocol):
    """What the server asks for each request (implemented by the simulator)."""

    def imds(self, node: str, method: str, path: str, headers: dict[str, str], client: str) -> Plan:
        """The plan for one IMDS request; a 404 reply for an unknown node."""

    def control(self, method: str, path: str, body: bytes) -> tuple[int, object]:
        """Status and JSON document for one control API request (path after ``/_control``)."""


class ImdsServer(ThreadingHTTPServer):
    """Serves :class:`Backend` on 127.0.0.1; ``close()`` stops it and joins every thread."""

    daemon_threads = False
    block_on_close = True
    request_queue_size = 128

    def __init__(self, port: int, backend: Backend) -> None:
        self.backend = backend
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        super().__init__(("127.0.0.1", port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on a bad resolver.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.01}, name="imds-simulator"
        )
        self._thread.start()

    def close(self) -> None:
        """Stop accepting, cut every open connection, join all threads, close the socket."""
        self.stopping.set()
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: object
    ) -> None:
        assert isinstance(request, socket.socket)  # noqa: S101 -- a TCP server
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(
        self, _request: socket.socket | tuple[bytes, socket.socket], client_address: object
    ) -> None:
        # Clients that give up mid-answer are part of the game, not errors worth a traceback.
        logger.debug(
            "connection ended abruptly",
            extra={"client": str(client_address), "error": repr(sys.exc_info()[1])},
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: ImdsServer

    def version_string(self) -> str:
        return "EC2ws"  # what real IMDS calls itself

    def do_GET(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("request", extra={"line": format % args})

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            return
        path = self.path.split("?", 1)[0]
        parts = path.split("/", 3)  # "", "nodes", <node>, <rest>
        if path.startswith("/_control/") or path == "/_control":
            target = self.path[len("/_control") :] or "/"
            status, document = self.server.backend.control(self.command, target, body)
            self._send(Reply(status, json.dumps(document).encode(), "application/json"))
        elif len(parts) == 4 and parts[1] == "nodes" and parts[2]:
            headers = {name.lower(): value for name, value in self.headers.items()}
            plan = self.server.backend.imds(
                parts[2], self.command, "/" + parts[3], headers, self.client_address[0]
            )
            self._carry_out(plan)
        else:
            self._send(Reply(404, b"Not Found: use /nodes/<node>/latest/... or /_control/..."))

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self._send(Reply(411, b"Length Required"))
            return None
        length_text = self.headers.get("Content-Length", "0")
        length = int(length_text) if length_text.isascii() and length_text.isdigit() else -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            self._send(Reply(400, b"Bad Content-Length"))
            return None
        return self.rfile.read(length) if length else b""

    def _carry_out(self, plan: Plan) -> None:
        if plan.delay_s and self.server.stopping.wait(plan.delay_s):
            self.close_connection = True
            return
        if plan.reply is None:
            self._hang()
            return
        self._send(plan.reply)

    def _hang(self) -> None:
        """Keep the connection open, unanswered, until the client gives up or we stop."""
        self.close_connection = True
        while not self.server.stopping.wait(HANG_POLL_S):
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                continue
            try:
                if not self.connection.recv(1, socket.MSG_PEEK):
                    return  # the client closed its end
            except OSError:
                return

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
