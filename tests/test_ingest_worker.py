"""The worker's rules that need no broker: which connection a message may be acknowledged on,
what a resumed session makes redundant, and the bounded inbox.

paho's callbacks are driven by hand here, in the order paho calls them (on_disconnect before it
opens the next socket, on_connect once the broker accepted it); the client is a recorder of the
PUBACKs the worker would send. The same rules are checked on real traffic in test_delivery.py.
"""

from __future__ import annotations

import struct

import sqlite3
import threading
import time
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from core.config import Settings
from core.db import is_transient
from core.models import RejectedReading
from core.wire import Reading, encode
from ingest.inbox import Inbox, Incoming
from ingest.worker import Worker

ACCEPTED = SimpleNamespace(is_failure=False, value=0)


class RecordingClient:
    """Stands in for paho's client: records acknowledgements and subscriptions."""

    def __init__(self) -> None:
        self.acks: list[int] = []
        self.subscriptions = 0

    def ack(self, mid: int, qos: int) -> None:
        self.acks.append(mid)

    def _packet_queue(self, command: int, packet: bytes, mid: int, qos: int) -> None:
        """What `ingest.acks` queues: a batch's PUBACKs packed into one write."""
        assert command == 0x40 and len(packet) % 4 == 0
        self.acks += [struct.unpack_from("!BBH", packet, offset)[2] for offset in range(0, len(packet), 4)]

    def subscribe(self, *_args, **_kwargs) -> tuple[int, int]:
        self.subscriptions += 1
        return 0, self.subscriptions


def worker(tmp_path) -> tuple[Worker, RecordingClient]:
    settings = Settings.from_env({"ENERGY_DATA_DIR": str(tmp_path), "INGEST_BATCH_SIZE": "10"})
    made = Worker(settings, sessions=None)  # type: ignore[arg-type] - nothing here touches the database
    client = RecordingClient()
    made.client = client  # type: ignore[assignment]
    return made, client


def connect(made: Worker, session_present: bool) -> None:
    made._on_connect(made.client, None, SimpleNamespace(session_present=session_present), ACCEPTED, None)


def disconnect(made: Worker) -> None:
    made._on_disconnect(made.client, None, None, ACCEPTED, None)


def receive(made: Worker, mid: int, payload: bytes = b"x") -> None:
    message = SimpleNamespace(topic="meters/1/reading", mid=mid, qos=1, payload=payload)  # what on_message reads
    made._on_message(made.client, None, message)


def test_a_message_of_a_closed_connection_is_never_acknowledged_on_the_next(tmp_path):
    made, client = worker(tmp_path)
    connect(made, session_present=False)
    receive(made, 7, b"first")
    batch = made.inbox.take(10, 0, 0)  # the batch loop took it and is storing it...
    disconnect(made)  # ...when the line fails
    connect(made, session_present=True)
    receive(made, 7, b"other")  # the broker may give id 7 to another message on the new connection
    made._acknowledge(batch)  # the first commit ends: its PUBACK must not reach the new connection
    assert client.acks == []
    made._acknowledge(made.inbox.take(10, 0, 0))
    assert client.acks == [7]  # acknowledged once, for the message of this connection


def test_an_acknowledgement_after_the_line_failed_but_before_the_reconnect_is_not_sent(tmp_path):
    made, client = worker(tmp_path)
    connect(made, session_present=False)
    receive(made, 3)
    batch = made.inbox.take(10, 0, 0)
    disconnect(made)  # paho reported the loss; the next socket is not open yet
    made._acknowledge(batch)
    assert client.acks == []
    assert made.metrics.snapshot()["unacknowledged"] == 1


def test_a_resumed_session_makes_the_copies_of_the_closed_connection_redundant(tmp_path):
    made, _ = worker(tmp_path)
    connect(made, session_present=False)
    for mid in (1, 2, 3):
        receive(made, mid)
    disconnect(made)
    connect(made, session_present=True)  # the broker resends 1, 2 and 3 on this connection
    assert len(made.inbox) == 0
    assert made.metrics.snapshot()["redundant_dropped"] == 3


def test_without_a_session_the_copies_are_kept_and_stored(tmp_path):
    made, _ = worker(tmp_path)
    connect(made, session_present=False)
    receive(made, 1)
    disconnect(made)
    connect(made, session_present=False)  # the broker lost the session: these are the only copies
    assert [item.mid for item in made.inbox.take(10, 0, 0)] == [1]


def item(mid: int, connection: int = 1) -> Incoming:
    return Incoming(mid, 1, "meters/1/reading", b"", 0, connection)


def test_the_inbox_gives_batches_in_arrival_order_up_to_the_limit():
    inbox = Inbox(capacity=10)
    never = threading.Event()
    for mid in range(7):
        inbox.put(item(mid), never)
    assert [i.mid for i in inbox.take(5, 0, 0)] == [0, 1, 2, 3, 4]
    assert [i.mid for i in inbox.take(5, 0, 0)] == [5, 6]
    assert inbox.take(5, 0.01, 0) == []


def test_a_batch_closes_soon_after_its_first_message():
    inbox = Inbox(capacity=100)
    never = threading.Event()
    inbox.put(item(1), never)
    started = time.monotonic()
    assert len(inbox.take(100, 1.0, 0.05)) == 1
    assert time.monotonic() - started < 0.5


def test_a_full_inbox_holds_the_network_thread_until_the_batch_loop_takes_a_batch():
    inbox = Inbox(capacity=3)
    never = threading.Event()
    for mid in range(3):
        inbox.put(item(mid), never)
    fourth = threading.Thread(target=inbox.put, args=(item(3), never), daemon=True)
    fourth.start()
    fourth.join(0.3)
    assert fourth.is_alive() and len(inbox) == 3 and inbox.waits == 1
    assert [i.mid for i in inbox.take(2, 0, 0)] == [0, 1]
    fourth.join(2)
    assert not fourth.is_alive()
    assert [i.mid for i in inbox.take(10, 0, 0)] == [2, 3]


def test_a_stopping_worker_never_blocks_the_network_thread():
    inbox = Inbox(capacity=1)
    stopping = threading.Event()
    inbox.put(item(0), stopping)
    stopping.set()
    inbox.put(item(1), stopping)  # returns at once
    assert len(inbox) == 2


def test_dropping_older_connections_keeps_the_current_ones():
    inbox = Inbox(capacity=10)
    never = threading.Event()
    for mid, connection in ((1, 1), (2, 1), (3, 3)):
        inbox.put(item(mid, connection), never)
    assert inbox.drop_older_than(3) == 2
    assert [i.mid for i in inbox.take(10, 0, 0)] == [3]


def test_a_reading_the_store_refuses_late_is_set_aside_and_the_rest_stored_and_acknowledged(db, settings):
    made = Worker(settings, db)
    client = RecordingClient()
    made.client = client  # type: ignore[assignment]
    connect(made, session_present=False)
    high, t0 = 2**62 + 2**61, 1_700_000_000_000
    first = [(t0, high), (t0 + 5_000, 0), (t0 + 10_000, high), (t0 + 15_000, high + 1)]
    for mid, (ts, wh) in enumerate(first, start=1):
        receive(made, mid, encode(Reading(1, ts, wh)))
    made._process(made.inbox.take(10, 0, 0))
    receive(made, 5, encode(Reading(1, t0 + 12_500, 0)))  # its drop would need 2^63 Wh of corrections
    receive(made, 6, encode(Reading(1, t0 + 20_000, high + 2)))
    made._process(made.inbox.take(10, 0, 0))
    assert client.acks == [1, 2, 3, 4, 5, 6]
    snapshot = made.metrics.snapshot()
    assert (snapshot["received"], snapshot["stored"], snapshot["rejected"]) == (6, 5, {"register_overflow": 1})
    with db() as session:
        assert session.scalars(select(RejectedReading.meter_id)).all() == [1]


def test_only_locks_and_lost_connections_are_worth_retrying():
    locked = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    overflow = OperationalError("INSERT", {}, sqlite3.OperationalError("integer overflow"))
    assert is_transient(locked) and not is_transient(overflow)
