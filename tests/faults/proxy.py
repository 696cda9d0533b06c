"""A small HTTP proxy in front of a real MLflow server that injects faults: answers 503 for a
while, drops connections, or forwards every write twice (as a retried POST would arrive)."""

from __future__ import annotations

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

    def fail_next(self, count: int) -> None:
        """Answer 503 to the next ``count`` requests, whenever they come, then forward."""
        with self.lock:
            self.remaining = count

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
