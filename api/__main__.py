"""`python -m api --host H --port P`: the HTTP API and web pages on gunicorn (SPEC §3)."""

from __future__ import annotations

import argparse
import logging
import sys

from api.server import serve
from core.config import ConfigError, Settings
from core.credentials import ADMIN_TOKEN, secrets_dir
from core.db import make_engine, migrate
from core.tokens import admin_token

log = logging.getLogger("api")

# A request is CPU work under the GIL, so a worker process per core, and threads only so that one
# waiting on the database or a slow client does not stall the rest. More threads than that queue
# for the same GIL and lengthen the tail: on the 2-core machine, 32 clients (bench/api.py) saw a
# p99 of 44-53 ms with 2 threads a worker against 68-86 ms with 8, for 5-8% fewer requests/s.
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 2


def parse_args(argv: list[str] | None, settings: Settings) -> argparse.Namespace:
    """Command-line flags; host and port default to ENERGY_API_HOST and ENERGY_API_PORT."""
    parser = argparse.ArgumentParser(prog="python -m api", description="API HTTP e páginas web do medidor de energia")
    parser.add_argument("--host", default=settings.api_host, help="endereço de escuta (padrão: %(default)s)")
    parser.add_argument("--port", type=_port, default=settings.api_port, help="porta TCP (padrão: %(default)s)")
    parser.add_argument("--workers", type=_positive, default=DEFAULT_WORKERS, help="processos (padrão: %(default)s)")
    parser.add_argument("--threads", type=_positive, default=DEFAULT_THREADS, help="threads por processo (padrão: %(default)s)")
    return parser.parse_args(argv)


def prepare(settings: Settings) -> None:
    """Migrate the schema once, and show the admin token if it was generated just now."""
    engine = make_engine(settings.db_url, immediate=True)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    token, created = admin_token(settings.admin_token, settings.data_dir)
    stored = secrets_dir(settings.data_dir) / ADMIN_TOKEN
    if created:
        print(f"Token de administrador: {token}", flush=True)
        print(f"(gerado agora e guardado em {stored}, modo 0600)", flush=True)
    elif settings.admin_token is None:
        log.info("token de administrador guardado em %s", stored)


def main(argv: list[str] | None = None) -> int:
    """Run the API until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"configuração inválida: {error}", file=sys.stderr)
        return 2
    args = parse_args(argv, settings)
    settings = settings.with_overrides(api_host=args.host, api_port=args.port)
    prepare(settings)
    serve(settings, args.workers, args.threads)
    return 0


def _port(text: str) -> int:
    """A TCP port number (0 lets the system choose)."""
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"porta inválida: {text!r} (use 0 a 65535)")
    return int(text)


def _positive(text: str) -> int:
    """A whole number of 1 or more."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"use um inteiro positivo, não {text!r}")
    return int(text)


if __name__ == "__main__":
    sys.exit(main())
