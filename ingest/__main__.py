"""`python -m ingest`: the ingest worker; `python -m ingest rejected`: what it refused."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from typing import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.config import ConfigError, Settings
from core.db import make_engine, make_sessionmaker, migrate
from core.models import RejectedReading
from core.periods import iso
from core.wire import decode
from ingest.worker import Worker

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
    rejected.add_argument("--json", action="store_true", help="one JSON object per line")
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
        return list_rejected(settings, args.limit, args.reason, args.json)
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
    engine = make_engine(settings.db_url, immediate=True)
    migrate(engine)
    worker = Worker(settings, make_sessionmaker(engine))
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: worker.stop())
    worker.run()
    engine.dispose()
    return 0


def list_rejected(settings: Settings, limit: int, reason: str | None, as_json: bool) -> int:
    """Print the newest rejected readings."""
    engine = make_engine(settings.db_url)
    migrate(engine)
    query = select(RejectedReading).order_by(RejectedReading.id.desc()).limit(limit)
    if reason:
        query = query.where(RejectedReading.reason == reason)
    with make_sessionmaker(engine)() as session:
        for row in session.scalars(query):
            document = {
                "id": row.id, "recebido_em": iso(row.received_at, settings.zone), "topico": row.topic,
                "motivo": row.reason, "detalhe": row.detail, "medidor": row.meter_id,
                "payload_hex": row.payload.hex(),
            }
            if as_json:
                print(json.dumps(document, ensure_ascii=False))
            else:
                print(f"{document['recebido_em']}  {row.reason:<22} {row.topic}  {row.detail}")
    return 0


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
