"""The API on gunicorn, embedded: gthread workers, each building its own app after the fork.

The master migrates the schema once before forking; workers build their engines themselves,
so no database connection is ever shared across a fork. Request lines are not limited by
gunicorn (its cap is 8190 bytes, less than an 8 KiB query string plus the path): the app's
own middleware answers a query string over 8 KiB with a JSON 414 (SPEC §5).

Headers keep gunicorn's limits (at most 100 fields of at most 8190 bytes each). What gunicorn
refuses before the app sees it (headers too large: 431; a malformed request: 400) is answered
with the API's JSON error instead of gunicorn's HTML page: see `json_refusal`.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication

from api import create_app
from api.middleware import error_document
from core.config import Settings

log = logging.getLogger(__name__)

GRACEFUL_TIMEOUT_S = 3  # SIGTERM: in-flight requests get this long, so the server is gone within 5 s
HEADER_FIELDS = 100  # gunicorn's defaults, set explicitly so the refusal message can name them
HEADER_FIELD_BYTES = 8190
MAX_ECHO = 120  # characters of gunicorn's own description quoted back in a refusal


class Server(BaseApplication):
    """gunicorn with options from code instead of its command line."""

    def __init__(self, settings: Settings, options: dict[str, Any]):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Apply the options; nothing is read from gunicorn's own command line or files."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """Build the app in the worker; the master has already migrated."""
        return create_app(self.settings, {"MIGRATE": False})


def bind_address(host: str, port: int) -> str:
    """`host:port`, with brackets around an IPv6 address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def server_options(settings: Settings, workers: int, threads: int) -> dict[str, Any]:
    """gunicorn settings of the API."""
    return {
        "bind": [bind_address(settings.api_host, settings.api_port)],
        "worker_class": "gthread",
        "workers": workers,
        "threads": threads,
        "limit_request_line": 0,  # unlimited: the app answers long query strings itself
        "limit_request_fields": HEADER_FIELDS,
        "limit_request_field_size": HEADER_FIELD_BYTES,
        "graceful_timeout": GRACEFUL_TIMEOUT_S,
        "timeout": 60,
        "keepalive": 5,
        "control_socket_disable": True,  # one fixed socket path would clash between instances
        "proc_name": "energia-api",
        "when_ready": _announce,
    }


def _announce(server: Any) -> None:
    """Log where the API listens, once the sockets are bound."""
    for listener in server.LISTENERS:
        log.info("API em %s/ (descrição em %s/openapi.json)", listener, listener)


def refusal_message(status: int, detail: str) -> str:
    """What to tell a client whose request gunicorn refused before the app saw it."""
    if status == 431:
        return (f"os cabeçalhos da requisição passam do limite ({HEADER_FIELDS} cabeçalhos de até "
                f"{HEADER_FIELD_BYTES} bytes cada); envie menos cabeçalhos ou cabeçalhos menores")
    if status == 414:
        return "a linha da requisição é longa demais; envie uma URL menor"
    if 400 <= status < 500:
        return f"requisição HTTP malformada ({detail[:MAX_ECHO]}); confira a linha da requisição e os cabeçalhos"
    return "erro interno do servidor; o problema foi registrado no log"


def json_refusal(sock: Any, status: int, reason: str, detail: str) -> None:
    """gunicorn's `util.write_error`, answering the API's JSON error instead of an HTML page."""
    body, headers = error_document(status, refusal_message(status, detail))
    head = "".join([f"HTTP/1.1 {status} {reason}\r\n", "Connection: close\r\n",
                    *(f"{name}: {value}\r\n" for name, value in headers), "\r\n"])
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)


def serve(settings: Settings, workers: int, threads: int) -> None:
    """Run until SIGTERM or SIGINT."""
    # gunicorn has no hook for the answer to a request it refuses itself; its workers call
    # `gunicorn.util.write_error` by attribute, so replacing it here (before the fork) is enough.
    gunicorn_util.write_error = json_refusal
    Server(settings, server_options(settings, workers, threads)).run()
