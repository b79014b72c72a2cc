"""Customers and readings written straight into a test database, the way production writes them.

Readings go through `ingest.store.store_batch`, as the worker stores them, so bills close and
alerts are raised as in production; customers through `core.customers.register`.
"""

from __future__ import annotations

from typing import Iterable

from core.config import Settings
from core.customers import register
from core.db import make_engine, make_sessionmaker, migrate
from core.wire import Reading, encode, topic_for
from ingest.store import Message, store_batch

BATCH = 500


def register_customer(settings: Settings, customer_id: int, nome: str, endereco: str, now_ms: int) -> str:
    """Register a customer; returns its token."""
    engine = make_engine(settings.db_url, immediate=True)
    migrate(engine)
    try:
        with make_sessionmaker(engine).begin() as session:
            _, token = register(session, customer_id, nome, endereco, settings, now_ms)
    finally:
        engine.dispose()
    return token


def store_readings(settings: Settings, meter_id: int, readings: Iterable[tuple[int, int]], received_ms: int) -> None:
    """Store `(ts, wh)` readings of a meter in batches, all received at `received_ms`."""
    store_payloads(settings, [(topic_for(meter_id), encode(Reading(meter_id, ts, wh))) for ts, wh in readings], received_ms)


def store_payloads(settings: Settings, messages: list[tuple[str, bytes]], received_ms: int) -> None:
    """Store raw `(topic, payload)` messages as the worker would (bad ones land in the rejected store)."""
    engine = make_engine(settings.db_url, immediate=True)
    migrate(engine)
    sessions = make_sessionmaker(engine)
    try:
        for index in range(0, len(messages), BATCH):
            batch = [Message(topic, payload, received_ms) for topic, payload in messages[index:index + BATCH]]
            with sessions.begin() as session:
                store_batch(session, batch, settings, received_ms)
    finally:
        engine.dispose()
