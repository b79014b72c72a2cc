"""Synthetic meter series, stored the way the ingest worker stores them (`ingest.store.store_batch`).

A register counts whole watt-hours, as a real one does: `register(...)` rounds the energy down,
so a steady 8.5 kW read every 5 s steps by 11 or 12 Wh, never 11.8.
"""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.customers import register
from core.models import Alert
from core.periods import to_ms
from core.wire import Reading as Wire
from core.wire import encode, topic_for
from ingest.store import Message, Outcome, store_batch

SECOND, MINUTE, HOUR, DAY = 1_000, 60_000, 3_600_000, 86_400_000

Pair = tuple[int, int]  # (ts ms, register Wh)


def utc(*parts: int) -> int:
    """An instant given as UTC calendar fields."""
    return to_ms(datetime(*parts, tzinfo=timezone.utc))


def steady(start_ts: int, start_wh: int, power_w: float, every_ms: int, count: int) -> list[Pair]:
    """`count` readings after `start_ts` (excluded), every `every_ms`, of a constant load."""
    return [(start_ts + every_ms * n, start_wh + int(power_w * every_ms * n // HOUR)) for n in range(1, count + 1)]


def profile(start_ts: int, start_wh: int, every_ms: int, segments: Sequence[tuple[float, int]]) -> list[Pair]:
    """A first reading at `start_ts`, then `(power_w, duration_ms)` segments read every `every_ms`."""
    readings = [(start_ts, start_wh)]
    for power_w, duration in segments:
        ts, wh = readings[-1]
        readings += steady(ts, wh, power_w, every_ms, duration // every_ms)
    return readings


def enrol(db: sessionmaker[Session], settings: Settings, meter: int = 7, now_ms: int | None = None) -> None:
    """Register the customer that owns `meter`."""
    with db.begin() as session:
        register(session, meter, "Ana", "Rua A, 1", settings, now_ms or utc(2024, 1, 1))


def deliver(db: sessionmaker[Session], settings: Settings, readings: Iterable[Pair], meter: int = 7,
            received_ms: int | None = None) -> Outcome:
    """Store readings as one batch, received a second after the newest of them (or at `received_ms`)."""
    readings = list(readings)
    received = received_ms or max(ts for ts, _ in readings) + SECOND
    batch = [Message(topic_for(meter), encode(Wire(meter, ts, wh)), received) for ts, wh in readings]
    with db.begin() as session:
        return store_batch(session, batch, settings, received)


def deliver_each(db: sessionmaker[Session], settings: Settings, readings: Iterable[Pair], meter: int = 7) -> None:
    """Store readings one batch each, as a meter sending live would."""
    for reading in readings:
        deliver(db, settings, [reading], meter)


def shuffled_chunks(readings: Sequence[Pair], seed: int, largest: int = 12) -> list[list[Pair]]:
    """The readings in a random order, cut into batches of random sizes (out-of-order arrival)."""
    rng = random.Random(seed)
    order = list(readings)
    rng.shuffle(order)
    chunks = []
    while order:
        size = rng.randint(1, largest)
        chunks.append(order[:size])
        order = order[size:]
    return chunks


def alerts(db: sessionmaker[Session], tipo: str | None = None, meter: int = 7) -> list[Alert]:
    """A customer's alerts (of one kind), oldest first."""
    query = select(Alert).where(Alert.customer_id == meter)
    if tipo is not None:
        query = query.where(Alert.tipo == tipo)
    with db() as session:
        return list(session.scalars(query.order_by(Alert.id)))
