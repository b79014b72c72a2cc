"""Many meters publishing at once, and counting what the worker stored, for the fault tests.

Each meter logs in with its own account (the ACL lets it publish only on its own topic), so a
neighbourhood is many connections. `publish_all` runs them a few at a time on threads; each
waits for the broker's PUBACKs every `chunk` messages, so paho's 16-bit message ids never wrap
over messages still unacknowledged.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Mapping

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
    """Read-only questions to the worker's SQLite file while it runs (WAL: every commit is seen)."""

    def __init__(self, db_path: Path):
        self.db_path = Path(db_path)
        self._connection: sqlite3.Connection | None = None

    @property
    def connection(self) -> sqlite3.Connection:
        """Opened on first use: the worker creates the file."""
        if self._connection is None:
            self._connection = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30,
                                               check_same_thread=False)
        return self._connection

    def readings(self) -> int:
        """Rows in `readings`."""
        return self.connection.execute("SELECT count(*) FROM readings").fetchone()[0]

    def rejected(self) -> int:
        """Rows in the rejected store."""
        return self.connection.execute("SELECT count(*) FROM rejected_readings").fetchone()[0]

    def per_meter(self) -> dict[int, tuple[int, int, int, int, int]]:
        """meter -> (rows, first ts, last ts, first wh, last wh) of the stored readings."""
        rows = self.connection.execute(
            "SELECT meter_id, count(*), min(ts), max(ts) FROM readings GROUP BY meter_id"
        ).fetchall()
        result = {}
        for meter_id, count, first_ts, last_ts in rows:
            first_wh = self.connection.execute(
                "SELECT wh FROM readings WHERE meter_id = ? AND ts = ?", (meter_id, first_ts)).fetchone()[0]
            last_wh = self.connection.execute(
                "SELECT wh FROM readings WHERE meter_id = ? AND ts = ?", (meter_id, last_ts)).fetchone()[0]
            result[meter_id] = (count, first_ts, last_ts, first_wh, last_wh)
        return result

    def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
