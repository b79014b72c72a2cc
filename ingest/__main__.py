"""`python -m ingest`: the ingest worker; `rejected`, `flagged`: what it refused or flagged; `health`;
`prune` and `backup`: the database's upkeep."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core import review
from core.config import ConfigError, Settings
from core.db import make_engine, make_sessionmaker, migrate
from core.periods import iso
from core.quality import JUMP, REPLACEMENT, RESET
from core.wire import decode
from ingest import maintenance, status
from ingest.worker import DB_LOCK_TIMEOUT_MS, Worker

FLAG_KINDS = (JUMP, RESET, REPLACEMENT)

log = logging.getLogger("ingest")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__)
    parser.add_argument("--host", help="broker host (default MQTT_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="broker port (default MQTT_PORT or 1883)")
    parser.add_argument("--client-id", help="MQTT client id (default INGEST_CLIENT_ID or energy-ingest)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every batch")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="run the worker (the default)")
    rejected = commands.add_parser("rejected", help="list rejected readings, newest first")
    rejected.add_argument("--limit", type=int, default=50)
    rejected.add_argument("--reason", help="only this reason (e.g. malformed, conflict)")
    rejected.add_argument("--meter", type=int, help="only this meter id")
    rejected.add_argument("--json", action="store_true", help="one JSON object per line")
    flagged = commands.add_parser("flagged", help="list register steps flagged for review, newest first")
    flagged.add_argument("--limit", type=int, default=50)
    flagged.add_argument("--kind", choices=FLAG_KINDS, help="only this kind")
    flagged.add_argument("--meter", type=int, help="only this meter id")
    flagged.add_argument("--json", action="store_true", help="one JSON object per line")
    health = commands.add_parser("health", help="exit 0 when the running worker says it is healthy, else 1")
    health.add_argument("--metrics-port", type=int, help="its INGEST_METRICS_PORT (default from the environment)")
    commands.add_parser("prune", help="remove now the raw readings past [retention] raw_days (the worker does it hourly)")
    backup = commands.add_parser("backup", help="write a consistent copy of the SQLite database while everything runs")
    backup.add_argument("file", type=Path, help="the new file (it must not exist)")
    commands.add_parser(
        "decode", help="turn `mosquitto_sub -F '%%t %%x'` lines on stdin into readable readings",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = _settings(args)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    if args.command == "rejected":
        return list_rejected(settings, args.limit, args.reason, args.meter, args.json)
    if args.command == "flagged":
        return list_flagged(settings, args.limit, args.kind, args.meter, args.json)
    if args.command == "health":
        return health_check(settings, args.metrics_port)
    if args.command == "prune":
        return maintenance.prune_now(settings)
    if args.command == "backup":
        return maintenance.backup(settings, args.file)
    if args.command == "decode":
        return decode_lines(sys.stdin, settings)
    return run(settings)


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    overrides = {
        "mqtt_host": args.host, "mqtt_port": args.port, "ingest_client_id": args.client_id,
    }
    return settings.with_overrides(**{key: value for key, value in overrides.items() if value is not None})


def run(settings: Settings) -> int:
    """Run the worker until SIGTERM or SIGINT."""
    migrating = make_engine(settings.db_url, immediate=True)  # the default lock wait: others may be migrating
    migrate(migrating)
    migrating.dispose()
    engine = make_engine(settings.db_url, immediate=True, lock_timeout_ms=DB_LOCK_TIMEOUT_MS)
    worker = Worker(settings, make_sessionmaker(engine))
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: worker.stop())
    server = None
    if settings.ingest_metrics_port:
        server = status.start(settings.ingest_metrics_host, settings.ingest_metrics_port, worker.metrics, worker.health)
    worker.run()
    if server is not None:
        server.server_close()  # its thread is a daemon: no need to wait for it
    engine.dispose()
    return 0


def list_rejected(settings: Settings, limit: int, reason: str | None, meter_id: int | None, as_json: bool) -> int:
    """Print the newest rejected readings."""
    with _session(settings) as session:
        listing = review.rejected(session, settings.zone, reason=reason, meter_id=meter_id, limit=limit)
    for document in listing.items:
        if as_json:
            print(json.dumps(document, ensure_ascii=False))
        else:
            print(f"{document['recebido_em']}  {document['motivo']:<22} {document['topico']}  {document['detalhe']}")
    return 0


def list_flagged(settings: Settings, limit: int, kind: str | None, meter_id: int | None, as_json: bool) -> int:
    """Print the newest flagged register steps."""
    with _session(settings) as session:
        listing = review.flagged(session, settings.zone, kind=kind, meter_id=meter_id, limit=limit)
    for document in listing.items:
        if as_json:
            print(json.dumps(document, ensure_ascii=False, default=review.as_number))
        else:
            before = document["anterior"]
            print(f"{document['ts']}  meter {document['medidor']:<6} {document['tipo']:<12} "
                  f"{before['kwh']} -> {document['kwh']} kWh since {before['ts']}, "
                  f"{document['potencia_kw']} kW, counted {document['consumo_contado_kwh']} kWh")
    return 0


def health_check(settings: Settings, port: int | None) -> int:
    """Ask the running worker's /healthz; 0 when it answers ok."""
    port = port or settings.ingest_metrics_port
    if not port:
        print("the worker serves /healthz only with INGEST_METRICS_PORT set; set it here too", file=sys.stderr)
        return 1
    host = "127.0.0.1" if settings.ingest_metrics_host in ("", "0.0.0.0", "::") else settings.ingest_metrics_host
    healthy, text = status.check(host, port)
    print(text)
    return 0 if healthy else 1


@contextlib.contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    """A read session on the migrated database, for the listing commands."""
    engine = make_engine(settings.db_url)
    try:
        migrate(engine)
        with make_sessionmaker(engine)() as session:
            yield session
    finally:
        engine.dispose()


def decode_lines(lines: Iterable[str], settings: Settings) -> int:
    """Print each `<topic> <payload as hex>` line as a reading a person can read."""
    for line in lines:
        print(describe(line, settings.zone), flush=True)
    return 0


def describe(line: str, zone: ZoneInfo) -> str:
    """One line of `mosquitto_sub -F '%t %x'` output as time, meter and register."""
    parts = line.split()
    if len(parts) < 2:
        return f"? {line.strip()}"
    topic, payload = parts[-2], parts[-1]
    try:
        reading = decode(topic, bytes.fromhex(payload))
    except ValueError as error:
        return f"{topic}  not a reading: {error}"
    return f"{iso(reading.ts_ms, zone)}  meter {reading.meter_id:<6} {reading.wh / 1000:>14.3f} kWh"


if __name__ == "__main__":
    sys.exit(main())
