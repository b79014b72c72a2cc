"""The worker's status server: `/metrics` (Prometheus text) and `/healthz` (JSON), on its own thread.

Off unless `INGEST_METRICS_PORT` is set. It only reads the shared `Metrics` and the worker's
health report, so a slow scraper never slows the batch loop. A port that cannot be bound is
logged and the worker goes on storing readings: monitoring must never stop ingestion.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.error import HTTPError, URLError
from urllib.request import urlopen

from ingest.metrics import PROMETHEUS_CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

HealthReport = Callable[[], dict[str, Any]]
HEALTHY = "ok"


class StatusServer(ThreadingHTTPServer):
    """An HTTP server holding what its handler shows."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], metrics: Metrics, health: HealthReport):
        super().__init__(address, _Handler)
        self.metrics = metrics
        self.health = health

    @property
    def port(self) -> int:
        """The port it listens on (useful when started on port 0)."""
        return self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    server: StatusServer
    server_version = "energy-ingest"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        """Answer /metrics and /healthz; anything else is a 404."""
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/metrics":
            self._answer(200, PROMETHEUS_CONTENT_TYPE, self.server.metrics.prometheus().encode())
        elif path == "/healthz":
            report = self.server.health()
            status = 200 if report.get("status") == HEALTHY else 503
            self._answer(status, "application/json", json.dumps(report).encode())
        else:
            self._answer(404, "application/json", b'{"erro": "use /metrics or /healthz"}')

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        log.debug("status server: " + format, *args)


def start(host: str, port: int, metrics: Metrics, health: HealthReport) -> StatusServer | None:
    """Serve /metrics and /healthz on a daemon thread; None when the port cannot be bound."""
    try:
        server = StatusServer((host, port), metrics, health)
    except OSError as error:
        log.error("cannot serve /metrics and /healthz on %s:%s (%s); the worker runs without them", host, port, error)
        return None
    threading.Thread(target=server.serve_forever, name="ingest-status", daemon=True).start()
    log.info("metrics on http://%s:%s/metrics, health on /healthz", host, server.port)
    return server


def check(host: str, port: int, timeout: float = 3.0) -> tuple[bool, str]:
    """Ask a running worker's /healthz: (healthy, what it said or why it did not answer)."""
    url = f"http://{host}:{port}/healthz"
    try:
        with urlopen(url, timeout=timeout) as answer:  # noqa: S310 - a local http URL we built
            return True, answer.read().decode()
    except HTTPError as error:
        return False, error.read().decode(errors="replace")
    except (URLError, OSError) as error:
        return False, f"no answer from {url}: {getattr(error, 'reason', error)}"
