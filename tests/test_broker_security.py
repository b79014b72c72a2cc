"""Who can reach the ingest worker through the broker: the real Mosquitto, the real
`python -m ingest`, and its database as the witness (SPEC §7, issue 6).

Mosquitto acknowledges a publish it refuses (MQTT 3 has no way to say no), so "refused" is
proven by what the worker stored: nothing for the forged topic, not even a rejected row.
"""

from __future__ import annotations

import signal
import time

import pytest
from sqlalchemy import select

from core.models import MeterState, Reading, RejectedReading
from core.wire import Reading as Wire
from core.wire import encode, encode_json, topic_for
from tests.support.broker import RunningBroker
from tests.support.mqtt import ACCEPTED, NOT_AUTHORIZED, connack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

INGEST_ID = "energy-ingest"
SESSION = {"clean_start": False, "session_expiry": 3600}


def reading(meter_id: int, n: int, wh: int | None = None) -> bytes:
    """A reading taken n seconds after a minute ago (the worker refuses the future and the far past)."""
    start = (time.time_ns() // 1_000_000 // 1000) * 1000 - 60_000
    return encode(Wire(meter_id, start + n * 1000, 1_000 + n if wh is None else wh))


def stored(db, meter_id: int) -> list[int]:
    """The registers (Wh) the worker stored for a meter, in time order."""
    with db() as session:
        return list(session.scalars(select(Reading.wh).where(Reading.meter_id == meter_id).order_by(Reading.ts)))


def rejected(db) -> list[tuple[str, str]]:
    with db() as session:
        return [(row.topic, row.reason) for row in session.scalars(select(RejectedReading))]


def start_worker(procs, broker: RunningBroker, **env: object):
    worker = procs(["ingest"], broker.env(**env), name="ingest")
    worker.wait_for_log(r"subscribed to (\$share/\w+/)?meters/\+/reading", timeout=20)
    return worker


def wait_stored(db, meter_id: int, count: int, timeout: float = 15) -> list[int]:
    return wait_until(lambda: len(found := stored(db, meter_id)) >= count and found, timeout,
                      lambda: f"{count} readings of meter {meter_id} (have {stored(db, meter_id)})")


# --- publishing for another meter -------------------------------------------------------------

def test_meter_7_publishing_as_meter_8_reaches_nobody(broker, procs, db):
    start_worker(procs, broker)
    watcher = broker.client("watcher")
    watcher.subscribe("meters/#")
    meter = broker.client(7)

    forged = [
        (topic_for(8), reading(8, 1, 8_888_888)),  # a well-formed reading of meter 8
        (topic_for(8), reading(7, 2, 8_888_889)),  # meter 7's own id on 8's topic
        (topic_for(8), encode_json(Wire(8, time.time_ns() // 1_000_000 - 30_000, 8_888_890))),
        ("meters/08/reading", reading(8, 3, 8_888_891)),
        ("meters/7/reading/x", reading(7, 4, 7_000)),
        ("alerts/8", b'{"tipo": "excesso"}'),
    ]
    for topic, payload in forged:
        assert meter.publish(topic, payload) == NOT_AUTHORIZED, topic
    assert meter.publish(topic_for(7), reading(7, 10, 7_777)) == ACCEPTED  # after the forgeries

    assert wait_stored(db, 7, 1) == [7_777]
    assert stored(db, 8) == []
    with db() as session:
        assert session.get(MeterState, 8) is None
    assert rejected(db) == []  # not even refused by the worker: it never got them
    assert [message.topic for message in watcher.wait_for_messages(1)] == [topic_for(7)]
    assert len(watcher.messages) == 1


def test_meter_7_reads_nothing_it_subscribes_to(broker):
    meter = broker.client(7)
    for topic in ("meters/#", "#", "meters/+/reading", "alerts/#", "$SYS/#", "$share/g/meters/+/reading"):
        meter.subscribe(topic)
    assert broker.client(8).publish(topic_for(8), reading(8, 1)) == ACCEPTED
    assert broker.client("ingest").publish("alerts/8", b'{"tipo": "excesso"}') == ACCEPTED
    assert meter.publish(topic_for(7), reading(7, 1)) == ACCEPTED  # a round trip on its own connection
    assert meter.messages == []


# --- session take-over ------------------------------------------------------------------------

def test_no_other_account_can_take_over_the_ingest_session(broker, procs, db):
    worker = start_worker(procs, broker)
    for account in (7, "watcher"):
        for clean_start in (True, False):
            code = connack(broker.host, broker.port, *broker.credentials(account), client_id=INGEST_ID,
                           clean_start=clean_start, session_expiry=3600)
            assert code == NOT_AUTHORIZED, (account, clean_start)
    assert broker.client(8).publish(topic_for(8), reading(8, 1, 81)) == ACCEPTED
    assert wait_stored(db, 8, 1) == [81]
    assert "disconnected" not in worker.log_text() and "took its session" not in worker.log_text()
    assert "session guard: refused 7 as client id energy-ingest" in broker.log_text()

    # The backlog of a stopped worker survives an attempt to take its session with a clean start.
    assert worker.stop(signal.SIGTERM) == 0
    backlog = [(topic_for(8), reading(8, 10 + n, 100 + n)) for n in range(50)]
    assert set(broker.client(8).publish_many(backlog)) == {ACCEPTED}
    assert not broker.accepts(7, client_id=INGEST_ID, clean_start=True)
    start_worker(procs, broker)
    assert wait_stored(db, 8, 51) == [81, *range(100, 150)]


def test_without_the_guard_a_meter_wipes_the_workers_backlog(tmp_path, procs, db):
    """Why the guard exists: stock Mosquitto gives the session to whoever presents the client id."""
    with RunningBroker(tmp_path / "plain", data_dir=tmp_path / "data", guard=False) as broker:
        worker = start_worker(procs, broker)
        assert broker.accepts(7, client_id=INGEST_ID, **SESSION)  # meter 7's own password suffices
        worker.wait_for_log("disconnected from the broker")  # the running worker was thrown out
        assert worker.stop(signal.SIGTERM) == 0
        assert set(broker.client(8).publish_many([(topic_for(8), reading(8, n, 100 + n)) for n in range(20)])) == {ACCEPTED}
        assert broker.accepts(7, client_id=INGEST_ID, clean_start=True)
        start_worker(procs, broker)
        assert broker.client(8).publish(topic_for(8), reading(8, 30, 999)) == ACCEPTED
        assert wait_stored(db, 8, 1) == [999]  # the 20 queued readings are gone


def test_a_workers_own_client_id_is_claimed_and_kept_across_restarts(broker, procs, db):
    workers = [start_worker(procs, broker, INGEST_CLIENT_ID=name, INGEST_SHARE_GROUP="ingest")
               for name in ("worker-a", "worker-b")]  # one account, two client ids
    for client_id in ("worker-a", "worker-b"):
        assert not broker.accepts(7, client_id=client_id), client_id
    broker.restart()
    assert not broker.accepts(7, client_id="worker-a")  # the claim outlives the restart
    for worker in workers:
        worker.wait_for_log(r"connected \(session present: True\)", timeout=20)
    assert broker.client(7).publish_many([(topic_for(7), reading(7, n, 70 + n)) for n in range(10)]) == [ACCEPTED] * 10
    assert wait_stored(db, 7, 10) == list(range(70, 80))  # both workers came back and share the load


def test_meters_connect_with_any_free_client_id_but_not_another_meters(broker):
    for client_id in ("meter-7", "", "mosq-Xy12ab", "7", "paho-123"):
        assert broker.accepts(7, client_id=client_id), client_id
    assert not broker.accepts(7, client_id="meter-8")
    assert not broker.accepts("ingest", client_id="meter-8")
    assert broker.accepts(8, client_id="meter-8")


# --- provisioning while connected ---------------------------------------------------------------

def test_a_removed_meter_is_disconnected_at_the_reload_and_cannot_come_back(broker, procs, db):
    start_worker(procs, broker)
    meter = broker.client(9, client_id="meter-9")
    assert meter.publish(topic_for(9), reading(9, 1, 91)) == ACCEPTED
    assert wait_stored(db, 9, 1) == [91]

    broker.remove_meter(9)  # rewrites the password file and sends SIGHUP
    assert meter.disconnected.wait(5), "Mosquitto kept the removed meter's connection"
    assert not broker.accepts(9, client_id="meter-9")
    assert broker.client(7).publish(topic_for(7), reading(7, 2, 72)) == ACCEPTED
    assert wait_stored(db, 7, 1) == [72]
    assert stored(db, 9) == [91]
