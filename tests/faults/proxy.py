"""A small HTTP proxy in front of a real MLflow server that injects faults: answers 503 for a
while, drops connections, forwards every write twice (as a retried POST would arrive), or holds
one request (a slow create) or sends it again later (a retry that commits after the answer)."""

from __future__ import annotations

import functools
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.mode = "forward"
        self.until = 0.0
        self.remaining = 0  # requests still to fail, for a fault counted in requests
        self.spare_health = False
        self.injected = 0
        self.duplicated = 0
        self.held: tuple[str, float, bool] | None = None  # (path part, seconds, late copy)
        self.arrived = threading.Event()  # the held request has come in
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                mode = proxy.mode if time.monotonic() < proxy.until else "forward"
                with proxy.lock:
                    if proxy.remaining > 0:
                        proxy.remaining -= 1
                        mode = "503"
                if proxy.spare_health and self.path.startswith("/health"):
                    mode = "forward"
                if mode == "503":
                    proxy.injected += 1
                    self._reply(503, b"injected: service unavailable", {})
                    return
                if mode == "drop":
                    proxy.injected += 1
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                with proxy.lock:
                    held = proxy.held if proxy.held and proxy.held[0] in self.path else None
                    if held:
                        proxy.held = None
                if held:
                    proxy.arrived.set()
                    _, seconds, late_copy = held
                    forward = functools.partial(
                        requests.request, self.command, proxy.upstream + self.path,
                        data=body, headers=headers, timeout=60,
                    )  # fmt: skip
                    if late_copy:  # answered now; the same request commits again later
                        threading.Timer(seconds, forward).start()
                    else:
                        time.sleep(seconds)
                times = 2 if mode == "twice" and self.command in ("POST", "PUT", "PATCH") else 1
                for _ in range(times):
                    response = requests.request(
                        self.command,
                        proxy.upstream + self.path,
                        data=body,
                        headers=headers,
                        timeout=60,
                    )
                proxy.duplicated += times - 1
                passed = {k: v for k, v in response.headers.items() if k.lower() not in HOP_HEADERS}
                self._reply(response.status_code, response.content, passed)

            def _reply(self, status: int, content: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() != "content-encoding":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def inject(self, mode: str, seconds: float, *, spare_health: bool = False) -> None:
        """Inject ``mode`` (503, drop, twice) for the next ``seconds`` (into every request but
        ``/health`` when ``spare_health``: then MLflow's API calls themselves meet the fault)."""
        self.mode, self.until = mode, time.monotonic() + seconds
        self.spare_health = spare_health

    def hold(self, path_part: str, seconds: float, *, late_copy: bool = False) -> None:
        """The next request whose path holds ``path_part``: forwarded after ``seconds`` (a
        slow request), or with ``late_copy`` forwarded at once and again after ``seconds``
        (a request the client retried, whose first attempt committed late)."""
        with self.lock:
            self.held = (path_part, seconds, late_copy)
            self.arrived.clear()

    def fail_next(self, count: int) -> None:
        """Answer 503 to the next ``count`` requests, whenever they come, then forward."""
        with self.lock:
            self.remaining = count

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
