"""The MQTT edge of the ingest worker: receive, batch, commit, then acknowledge (SPEC §7).

paho's network thread only queues what arrives. The main thread takes batches from the queue,
stores each in one transaction, and acknowledges its messages after the commit, so a message
the broker delivered is acknowledged only once its reading is durable. While the database is
slow or locked nothing is acknowledged: the broker stops sending once its in-flight window
(the batch size, announced as Receive Maximum) is full and keeps the backlog in the session.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.credentials import INGEST_SECRET, INGEST_USER, mqtt_login
from core.models import RejectedReading
from core.silence import raise_silent
from core.wire import TOPIC_FILTER
from ingest import outbox
from ingest.metrics import Metrics
from ingest.store import Message, rejected_row, store_batch

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600  # the broker keeps the session (and its backlog) for a week
BATCH_WAIT_S = 0.05
OUTBOX_EVERY_S = 0.5
SUMMARY_EVERY_S = 10.0
SILENCE_EVERY_S = (1.0, 30.0)  # bounds of how often silent meters are looked for
INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message from the network thread, tagged with the connection it arrived on."""

    mid: int
    qos: int
    topic: str
    payload: bytes
    received_ms: int
    connection: int


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


class Worker:
    """Subscribes to the readings, stores them in batches and publishes alerts."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], metrics: Metrics | None = None):
        self.settings = settings
        self.sessions = sessions
        self.metrics = metrics or Metrics()
        self.stopping = threading.Event()
        self.inbox: queue.SimpleQueue[Incoming] = queue.SimpleQueue()
        self.acknowledged: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.connection = 0  # bumped on every connect; acks go only to the connection a message came on
        self.pending_alerts: dict[int, outbox.Lease] = {}
        self.listening_since: int | None = None  # since when the subscription is in place
        self.client = self._make_client()

    def topic(self) -> str:
        """The subscription: plain, or shared by a group of workers (MQTT v5)."""
        group = self.settings.ingest_share_group
        return f"$share/{group}/{TOPIC_FILTER}" if group else TOPIC_FILTER

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.settings.ingest_client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        username, password = mqtt_login(
            self.settings.mqtt_username, self.settings.mqtt_password, self.settings.data_dir,
            INGEST_USER, INGEST_SECRET,
        )
        if username:
            client.username_pw_set(username, password)
        if self.settings.mqtt_tls.enabled:
            ca_file = self.settings.mqtt_tls.ca_file
            client.tls_set(ca_certs=str(ca_file) if ca_file else None)
        client.reconnect_delay_set(min_delay=1, max_delay=2)
        client.max_inflight_messages_set(100)  # our own publishes (alerts)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    def start(self) -> None:
        """Connect in the background; paho retries until the broker answers."""
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        properties.ReceiveMaximum = self.settings.ingest_batch
        log.info(
            "ingest worker %s connecting to %s:%s%s, subscribing to %s",
            self.settings.ingest_client_id, self.settings.mqtt_host, self.settings.mqtt_port,
            " over TLS" if self.settings.mqtt_tls.enabled else "", self.topic(),
        )
        self.client.connect_async(
            self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30,
            clean_start=False, properties=properties,
        )
        self.client.loop_start()

    def run(self) -> None:
        """The batch loop, until `stop()`; then commit what is held, acknowledge, disconnect."""
        self.start()
        next_outbox = next_summary = next_silence = time.monotonic()
        while not self.stopping.is_set():
            batch = self._collect(block=True)
            self.metrics.queued = self.inbox.qsize()
            if batch:
                self._process(batch)
            moment = time.monotonic()
            if moment >= next_silence:
                self._check_silence()
                next_silence = moment + self.silence_every_s()
            if moment >= next_outbox:
                self._publish_alerts()
                next_outbox = moment + OUTBOX_EVERY_S
            if moment >= next_summary:
                log.info("%s", self.metrics.summary())
                next_summary = moment + SUMMARY_EVERY_S
        self._drain()
        self.client.disconnect()
        self.client.loop_stop()
        log.info("stopped: %s", self.metrics.summary())

    def stop(self) -> None:
        """Ask the loop to finish (safe from a signal handler)."""
        self.stopping.set()

    def _drain(self) -> None:
        """Store and acknowledge whatever arrived before the stop."""
        batch = self._collect(block=False)
        while batch:
            self._process(batch, give_up_after_s=3.0)
            batch = self._collect(block=False)

    def _collect(self, block: bool) -> list[Incoming]:
        """Up to one batch: wait briefly for a first message, then take what follows for 50 ms."""
        limit = self.settings.ingest_batch
        try:
            first = self.inbox.get(timeout=0.2) if block else self.inbox.get_nowait()
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + BATCH_WAIT_S
        while len(batch) < limit:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self.inbox.get(timeout=remaining) if remaining > 0 else self.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _process(self, batch: list[Incoming], give_up_after_s: float | None = None) -> None:
        """Store a batch until it commits (retrying while the database is busy), then acknowledge."""
        messages = [Message(item.topic, item.payload, item.received_ms) for item in batch]
        store = self._store
        started = time.monotonic()
        delay = 0.1
        while True:
            try:
                store(messages)
                break
            except OperationalError as error:  # locked, or the server went away: retry, never ack
                if self.stopping.is_set() and give_up_after_s is None:
                    give_up_after_s = 3.0
                if give_up_after_s is not None and time.monotonic() - started > give_up_after_s:
                    log.warning("leaving %d messages unacknowledged: the broker will redeliver them", len(batch))
                    return
                log.warning("database busy (%s); retrying in %.1f s", str(error).splitlines()[0], delay)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
            except Exception:  # a message this code cannot store must not stall every other meter
                log.exception("a batch of %d failed; storing its messages one by one", len(messages))
                store = self._store_each
        self._acknowledge(batch)

    def _store(self, messages: list[Message]) -> None:
        started = time.perf_counter()
        with self.sessions.begin() as session:
            outcome = store_batch(session, messages, self.settings, now_ms())
        self.metrics.record(outcome, time.perf_counter() - started, now_ms())

    def _store_each(self, messages: list[Message]) -> None:
        """Store messages one at a time; one that still fails is kept in the rejected store."""
        for message in messages:
            try:
                self._store([message])
            except OperationalError:
                raise
            except Exception as error:
                log.exception("could not store a message from %s; keeping it as rejected", message.topic)
                with self.sessions.begin() as session:
                    session.execute(insert(RejectedReading), [
                        rejected_row(message, INTERNAL_ERROR, f"{type(error).__name__}: {error}", None)
                    ])
                self.metrics.rejected[INTERNAL_ERROR] += 1

    def _acknowledge(self, batch: list[Incoming]) -> None:
        """Acknowledge, in arrival order, the messages that came on the current connection."""
        current = self.connection
        for item in batch:
            if item.connection == current and item.qos > 0:
                self.client.ack(item.mid, item.qos)

    def _publish_alerts(self) -> None:
        """Mark acknowledged alerts as published and publish the ones due."""
        done = []
        while True:
            try:
                done.append(self.pending_alerts.pop(self.acknowledged.get_nowait()))
            except queue.Empty:
                break
            except KeyError:
                continue
        if not self.client.is_connected() and not done:
            return
        try:
            with self.sessions.begin() as session:
                outbox.mark_published(session, done, now_ms())
                self.metrics.alerts_published += len(done)
                if self.client.is_connected():
                    claimed = outbox.claim_due(session, now_ms())
                    self.pending_alerts.update(outbox.publish_claimed(claimed, self.settings.zone, self._publish))
        except OperationalError as error:
            log.warning("alert outbox skipped this round: %s", str(error).splitlines()[0])

    def silence_every_s(self) -> float:
        """How often to look for silent meters: a quarter of the limit, within 1 to 30 s."""
        low, high = SILENCE_EVERY_S
        return min(max(float(self.settings.alerts.silence_minutes) * 60 / 4, low), high)

    def _check_silence(self) -> None:
        """Raise `silencio` for meters quiet past their limit while this worker was listening."""
        listening_since = self.listening_since
        if listening_since is None:
            return
        try:
            with self.sessions.begin() as session:
                raised = raise_silent(session, self.settings, now_ms(), listening_since)
        except OperationalError as error:
            log.warning("silent-meter check skipped this round: %s", str(error).splitlines()[0])
            return
        if raised:
            log.warning("%d meter(s) went silent", raised)

    def _publish(self, topic: str, payload: bytes) -> int | None:
        info = self.client.publish(topic, payload, qos=1)
        return info.mid if info.rc == mqtt.MQTT_ERR_SUCCESS else None

    # paho callbacks (network thread): keep them tiny and never let them raise.

    def _on_connect(self, client: mqtt.Client, _userdata, flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        self.connection += 1
        if self.connection > 1:
            self.metrics.reconnects += 1
        self.metrics.connected = True
        log.info("connected (session present: %s)", flags.session_present)
        client.subscribe(self.topic(), qos=1)

    def _on_subscribe(self, _client, _userdata, _mid, reason_codes, _properties) -> None:
        for code in reason_codes:
            if code.is_failure:
                log.error("subscription to %s refused: %s", self.topic(), code)
            else:
                self.listening_since = now_ms()
                log.info("subscribed to %s", self.topic())

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        self.metrics.connected = False
        self.listening_since = None
        if not self.stopping.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = message._topic.decode("utf-8", "replace")  # noqa: SLF001 - keep it, never drop it
        self.inbox.put(Incoming(message.mid, message.qos, topic, message.payload, now_ms(), self.connection))

    def _on_publish(self, _client, _userdata, mid: int, _reason_code, _properties) -> None:
        self.acknowledged.put(mid)

