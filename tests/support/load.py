"""Many meters publishing at once, and counting what the worker stored, for the fault tests.

Each meter logs in with its own account (the ACL lets it publish only on its own topic), so a
neighbourhood is many connections. `publish_all` runs them a few at a time on threads; each
waits for the broker's PUBACKs every `chunk` messages, so paho's 16-bit message ids never wrap
over messages still unacknowledged.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable, Mapping

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from core.wire import Reading, encode, topic_for
from tests.support.broker import RunningBroker
from tests.support.mqtt import ACCEPTED

MS_PER_SECOND = 1000
MAX_STEP_WH = 50  # at most 36 kW over 5 s: never a jump


def register_series(meter_id: int, count: int, first_ts: int, interval_ms: int = 5 * MS_PER_SECOND,
                    seed: int | None = None) -> list[Reading]:
    """`count` readings of one meter, `interval_ms` apart, with a register that only grows."""
    chance = random.Random(meter_id if seed is None else seed)
    wh = chance.randrange(1_000_000)
    readings = []
    for index in range(count):
        readings.append(Reading(meter_id, first_ts + index * interval_ms, wh))
        wh += chance.randrange(MAX_STEP_WH + 1)
    return readings


def publish_all(broker: RunningBroker, plan: Mapping[int, Iterable[Reading]], connections: int = 8,
                chunk: int = 250, timeout: float = 120.0) -> int:
    """Publish every meter's readings at QoS 1, `connections` meters at a time; returns how many
    the broker accepted (raises if it refused any)."""
    accepted = 0
    lock = threading.Lock()

    def one_meter(meter_id: int, readings: list[Reading]) -> None:
        nonlocal accepted
        client = broker.client(meter_id, timeout=timeout)
        try:
            for start in range(0, len(readings), chunk):
                part = readings[start:start + chunk]
                codes = client.publish_many([(topic_for(meter_id), encode(r)) for r in part])
                refused = [code for code in codes if code != ACCEPTED]
                if refused:
                    raise AssertionError(f"the broker refused readings of meter {meter_id}: {refused[:5]}")
                with lock:
                    accepted += len(part)
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=connections) as pool:
        futures = [pool.submit(one_meter, meter_id, list(readings)) for meter_id, readings in plan.items()]
        for future in futures:
            future.result()
    return accepted


class Ledger:
    """Read-only questions to the worker's database while it runs, on either engine.

    Each question sees every commit made before it: PostgreSQL's connection is in autocommit,
    and a SQLite file in WAL mode is opened read-only (so a Ledger never creates the file).
    """

    def __init__(self, db_url: str):
        url = make_url(db_url)
        if url.get_backend_name() == "sqlite":
            url = url.set(database=f"file:{url.database}", query={"mode": "ro", "uri": "true"})
            self._engine = create_engine(url, poolclass=NullPool, connect_args={"check_same_thread": False, "timeout": 30})
        else:
            self._engine = create_engine(url, poolclass=NullPool)
        self._connection: Connection | None = None

    @property
    def connection(self) -> Connection:
        """Opened on first use: the worker creates the file."""
        if self._connection is None:
            self._connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._connection

    def scalar(self, query: str, **params: object) -> Any:
        """The first column of the first row of a query with named parameters (None when no row)."""
        return self.connection.execute(text(query), params).scalar()

    def readings(self) -> int:
        """Rows in `readings`."""
        return self.scalar("SELECT count(*) FROM readings")

    def rejected(self) -> int:
        """Rows in the rejected store."""
        return self.scalar("SELECT count(*) FROM rejected_readings")

    def stored(self, meter_id: int, ts_ms: int) -> bool:
        """Whether the reading of that meter and timestamp is stored."""
        return self.scalar("SELECT 1 FROM readings WHERE meter_id = :meter AND ts = :ts", meter=meter_id, ts=ts_ms) == 1

    def rejected_reasons(self, topic: str, payload: bytes) -> list[str]:
        """The reasons a payload (cut as the store cuts it) is in the rejected store for."""
        return list(self.connection.execute(
            text("SELECT reason FROM rejected_readings WHERE topic = :topic AND payload = :payload"),
            {"topic": topic, "payload": bytes(payload[:1024])}).scalars())

    def per_meter(self) -> dict[int, tuple[int, int, int, int, int]]:
        """meter -> (rows, first ts, last ts, first wh, last wh) of the stored readings."""
        rows = self.connection.execute(
            text("SELECT meter_id, count(*), min(ts), max(ts) FROM readings GROUP BY meter_id")).all()
        result = {}
        for meter_id, count, first_ts, last_ts in rows:
            first_wh = self.scalar("SELECT wh FROM readings WHERE meter_id = :meter AND ts = :ts", meter=meter_id, ts=first_ts)
            last_wh = self.scalar("SELECT wh FROM readings WHERE meter_id = :meter AND ts = :ts", meter=meter_id, ts=last_ts)
            result[meter_id] = (count, first_ts, last_ts, first_wh, last_wh)
        return result

    def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._engine.dispose()
