"""The API on gunicorn, embedded: gthread workers, each building its own app after the fork.

The master migrates the schema once before forking; workers build their engines themselves,
so no database connection is ever shared across a fork. Request lines are not limited by
gunicorn (its cap is 8190 bytes, less than an 8 KiB query string plus the path): the app's
own middleware answers a query string over 8 KiB with a JSON 414 (SPEC §5).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from api import create_app
from core.config import Settings

log = logging.getLogger(__name__)

GRACEFUL_TIMEOUT_S = 3  # SIGTERM: in-flight requests get this long, so the server is gone within 5 s


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


def serve(settings: Settings, workers: int, threads: int) -> None:
    """Run until SIGTERM or SIGINT."""
    Server(settings, server_options(settings, workers, threads)).run()
