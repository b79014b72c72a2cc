"""The MQTT edge of the ingest worker: receive, batch, commit, then acknowledge (SPEC §7).

paho's network thread only queues what arrives. The main thread takes batches from the queue,
stores each in one transaction, and acknowledges its messages after the commit, so a message
the broker delivered is acknowledged only once its reading is durable. While the database is
slow or locked nothing is acknowledged, the inbox fills up, the network thread stops reading,
and the backlog waits in the broker's session (see `ingest.inbox` for why the broker's in-flight
window, announced as Receive Maximum, is not enough with Mosquitto 2.0.11).

Packet ids are per connection: after a reconnect the broker may give an id that was in use on
the closed connection to another message. So a message is acknowledged only on the connection
it arrived on. The connection number changes, under `_link`, as soon as paho reports the loss
(on_disconnect runs before paho opens the next socket and clears its queue of unsent packets),
and `_acknowledge` checks it and queues the PUBACKs under the same lock: an acknowledgement of
a closed connection is either sent on it or discarded with it, never sent on the next one.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.credentials import INGEST_SECRET, INGEST_USER, mqtt_login
from core import quality, retention
from core.db import is_transient
from core.models import RejectedReading
from core.silence import raise_silent
from core.wire import SYS_DROPPED_TOPIC, SYS_STORED_TOPIC, TOPIC_FILTER, Rejected
from ingest import acks, outbox
from ingest.inbox import Inbox, Incoming
from ingest.metrics import Metrics
from ingest.store import Message, rejected_row, store_batch, topic_meter

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600  # the broker keeps the session (and its backlog) for a week
BATCH_WAIT_S = 0.05  # a batch closes this long after its first message (or when full)
IDLE_WAIT_S = 0.2
OUTBOX_EVERY_S = 0.5
SUMMARY_EVERY_S = 10.0
SILENCE_EVERY_S = (1.0, 30.0)  # bounds of how often silent meters are looked for
RETRY_FIRST_S, RETRY_MAX_S = 0.1, 2.0
PRUNE_SLICE_EVERY_S = 1.0  # while retention has work, one slice (tens of ms) per second between batches
# SPEC §7: SIGTERM ends the worker within 5 s. A signal is handled between two attempts to
# commit (at most DB_LOCK_TIMEOUT_MS late), the worker keeps trying for DRAIN_S more, and its last
# attempt may wait DB_LOCK_TIMEOUT_MS again: 0.5 + 2 + 0.5 s, then a disconnect of milliseconds.
DRAIN_S = 2.0
DB_LOCK_TIMEOUT_MS = 500
HEALTHY_LOOP_S = 30.0  # the batch loop must have turned within this long for /healthz to say ok

SYS_TOPICS = {SYS_DROPPED_TOPIC: "broker_dropped", SYS_STORED_TOPIC: "broker_stored"}  # $SYS topic: metric


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


class Worker:
    """Subscribes to the readings, stores them in batches and publishes alerts."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], metrics: Metrics | None = None):
        self.settings = settings
        self.sessions = sessions
        self.metrics = metrics or Metrics()
        self.metrics.update(window=settings.ingest_batch)
        self.stopping = threading.Event()
        self.stop_requested: float | None = None
        self.heartbeat = time.monotonic()
        self.inbox = Inbox(capacity=settings.ingest_batch)
        self.acknowledged: list[int] = []  # alert publishes the broker acknowledged (network thread appends)
        self._link = threading.Lock()  # guards `connection` against acknowledgements in flight
        self.connection = 0  # changes on every connect and every disconnect
        self._subscription_mid: int | None = None
        self.pending_alerts: dict[int, outbox.Lease] = {}  # message id: the alert's lease
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
        next_prune = next_outbox + self.settings.prune_every_s
        while not self.stopping.is_set():
            self.heartbeat = time.monotonic()
            batch = self.inbox.take(self.settings.ingest_batch, IDLE_WAIT_S, BATCH_WAIT_S)
            if batch:
                self._process(batch)
            self.metrics.update(held=len(self.inbox), inbox_full=self.inbox.waits)
            if self.stopping.is_set():
                break
            moment = time.monotonic()
            if moment >= next_silence:
                self._check_silence()
                next_silence = moment + self.silence_every_s()
            if moment >= next_outbox:
                self._publish_alerts()
                next_outbox = moment + OUTBOX_EVERY_S
            if moment >= next_prune:
                next_prune = moment + self._prune_slice()
            if moment >= next_summary:
                log.info("%s", self.metrics.summary())
                next_summary = moment + SUMMARY_EVERY_S
        self._drain()
        self.client.disconnect()  # a normal disconnect: the session and its backlog stay on the broker
        self.client.loop_stop()
        log.info("stopped: %s", self.metrics.summary())

    def stop(self) -> None:
        """Ask the loop to finish (safe from a signal handler)."""
        if self.stop_requested is None:
            self.stop_requested = time.monotonic()
        self.stopping.set()

    def health(self) -> dict[str, Any]:
        """What /healthz answers: ok while connected, subscribed, and the batch loop turns."""
        snap = self.metrics.snapshot()
        loop_age = time.monotonic() - self.heartbeat
        healthy = snap["connected"] and snap["subscribed"] and loop_age < HEALTHY_LOOP_S and not self.stopping.is_set()
        return {
            "status": "ok" if healthy else "unhealthy",
            "connected": snap["connected"],
            "subscribed": snap["subscribed"],
            "loop_age_seconds": round(loop_age, 3),
            "database": "ok" if snap["database_ok"] else "unavailable",
            "held_messages": snap["held"],
            "stored_total": snap["stored"],
        }

    def _drain(self) -> None:
        """Store and acknowledge whatever arrived before the stop, for at most DRAIN_S."""
        batch = self.inbox.take(self.settings.ingest_batch, 0, 0)
        while batch and not self._drain_over():
            self._process(batch)
            batch = self.inbox.take(self.settings.ingest_batch, 0, 0)
        if batch or len(self.inbox):
            log.warning("stopping with %d messages unacknowledged: the broker will send them again",
                        len(batch) + len(self.inbox))

    def _drain_over(self) -> bool:
        return self.stop_requested is not None and time.monotonic() - self.stop_requested > DRAIN_S

    def _process(self, batch: list[Incoming]) -> None:
        """Store a batch until it commits (retrying while the database is busy), then acknowledge."""
        self.metrics.update(held=len(self.inbox) + len(batch))
        messages = [Message(item.topic, item.payload, item.received_ms) for item in batch]
        store = self._store
        delay = RETRY_FIRST_S
        while True:
            try:
                store(messages)
                break
            except OperationalError as error:  # locked, or the server went away: retry, never ack
                if not is_transient(error):
                    log.exception("a batch of %d failed for good; storing its messages one by one", len(messages))
                    store = self._store_each
                    continue
                self.metrics.update(database_ok=False, held=len(self.inbox) + len(batch))
                self.metrics.add(database_retries=1)
                self.heartbeat = time.monotonic()
                if self._drain_over():
                    log.warning("leaving %d messages unacknowledged: the broker will send them again", len(batch))
                    return
                log.warning("database busy (%s); retrying in %.1f s", str(error).splitlines()[0], delay)
                self._pause(delay)
                delay = min(delay * 2, RETRY_MAX_S)
            except Rejected as refusal:  # one message the store found unusable late: set it aside
                log.warning("a batch of %d was refused (%s); storing its messages one by one", len(messages), refusal)
                store = self._store_each
            except Exception:  # a message this code cannot store must not stall every other meter
                log.exception("a batch of %d failed; storing its messages one by one", len(messages))
                store = self._store_each
        self._acknowledge(batch)

    def _pause(self, seconds: float) -> None:
        """Wait before a retry; once stopping, only briefly, so the drain deadline is kept."""
        if self.stopping.is_set():
            time.sleep(min(seconds, 0.2))
        else:
            self.stopping.wait(seconds)

    def _store(self, messages: list[Message]) -> None:
        started = time.perf_counter()
        with self.sessions.begin() as session:
            outcome = store_batch(session, messages, self.settings, now_ms())
        oldest_received = min(message.received_ms for message in messages)
        self.metrics.record(outcome, time.perf_counter() - started, now_ms(), oldest_received)

    def _store_each(self, messages: list[Message]) -> None:
        """Store messages one at a time; one that still fails is kept in the rejected store.

        A refusal the store raises (`wire.Rejected`) keeps its reason; anything else is a bug,
        kept as `internal_error` so that one message never stalls every other meter.
        """
        for message in messages:
            try:
                self._store([message])
            except OperationalError as error:
                if is_transient(error):
                    raise
                self._set_aside(message, error)
            except Exception as error:
                self._set_aside(message, error)

    def _set_aside(self, message: Message, error: Exception) -> None:
        if isinstance(error, Rejected):
            reason, detail = error.reason, error.detail
            log.warning("rejected a message from %s: %s", message.topic, detail)
        else:
            reason, detail = quality.INTERNAL_ERROR, f"{type(error).__name__}: {error}"
            log.error("could not store a message from %s; keeping it as rejected", message.topic, exc_info=error)
        with self.sessions.begin() as session:
            session.execute(insert(RejectedReading), [rejected_row(message, reason, detail, topic_meter(message.topic))])
        self.metrics.count_rejected(reason)
        self.metrics.add(received=1)

    def _acknowledge(self, batch: list[Incoming]) -> None:
        """Acknowledge, in arrival order, the messages that came on the still-open connection."""
        with self._link:
            current = self.connection
            # The subscription is QoS 1, so the broker delivers at QoS 1 at most: PUBACK fits all.
            ours = [item for item in batch if item.connection == current and item.qos > 0]
            acks.acknowledge(self.client, [item.mid for item in ours])
        self.metrics.add(acknowledged=len(ours), unacknowledged=len(batch) - len(ours))

    def _publish_alerts(self) -> None:
        """Mark acknowledged alerts as published and publish the ones due."""
        done = []
        while self.acknowledged:
            lease = self.pending_alerts.pop(self.acknowledged.pop(0), None)
            if lease is not None:
                done.append(lease)
        if not self.client.is_connected() and not done:
            return
        try:
            with self.sessions.begin() as session:
                outbox.mark_published(session, done, now_ms())
                if self.client.is_connected():
                    claimed = outbox.claim_due(session, now_ms())
                    self.pending_alerts.update(outbox.publish_claimed(claimed, self.settings.zone, self._publish))
            self.metrics.add(alerts_published=len(done))
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

    def _prune_slice(self) -> float:
        """One short transaction of retention (`core.retention`); returns when to run the next."""
        limit = retention.cutoff(now_ms(), self.settings.raw_days)
        if limit is None:
            return self.settings.prune_every_s
        try:
            with self.sessions.begin() as session:
                progress = retention.prune_slice(session, limit)
        except OperationalError as error:
            log.warning("retention postponed: %s", str(error).splitlines()[0])
            return PRUNE_SLICE_EVERY_S if is_transient(error) else self.settings.prune_every_s
        except Exception:  # retention must never stop the readings from being stored
            log.exception("retention failed; trying again in %d s", self.settings.prune_every_s)
            return self.settings.prune_every_s
        if progress.removed:
            self.metrics.add(pruned=progress.removed)
            log.info("retention: removed %d raw readings of %d meters", progress.removed, progress.meters)
        return self.settings.prune_every_s if progress.done else PRUNE_SLICE_EVERY_S

    def _publish(self, topic: str, payload: bytes) -> int | None:
        info = self.client.publish(topic, payload, qos=1)
        return info.mid if info.rc == mqtt.MQTT_ERR_SUCCESS else None

    # paho callbacks (network thread): keep them tiny and never let them raise.

    def _on_connect(self, client: mqtt.Client, _userdata, flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        with self._link:
            self.connection += 1
            current = self.connection
        if flags.session_present:
            # The broker resends every unacknowledged message of the session on this connection.
            dropped = self.inbox.drop_older_than(current)
            if dropped:
                self.metrics.add(redundant_dropped=dropped)
        self.metrics.update(connected=True, subscribed=False)
        if current > 1:
            self.metrics.add(reconnects=1)
        log.info("connected (session present: %s)", flags.session_present)
        _, self._subscription_mid = client.subscribe(self.topic(), qos=1)
        client.subscribe([(topic, 0) for topic in SYS_TOPICS])  # broker counters; refused on old ACLs

    def _on_subscribe(self, _client, _userdata, mid, reason_codes, _properties) -> None:
        if mid != self._subscription_mid:
            if any(code.is_failure for code in reason_codes):
                log.warning("no access to the broker's $SYS counters (drops are not reported): %s", reason_codes)
            return
        for code in reason_codes:
            if code.is_failure:
                log.error("subscription to %s refused: %s", self.topic(), code)
            else:
                self.listening_since = now_ms()
                self.metrics.update(subscribed=True)
                log.info("subscribed to %s", self.topic())

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        with self._link:
            self.connection += 1  # from now on, nothing of the closed connection is acknowledged
        self.listening_since = None
        self.metrics.update(connected=False, subscribed=False)
        if not self.stopping.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = message._topic.decode("utf-8", "replace")  # noqa: SLF001 - keep it, never drop it
        if topic in SYS_TOPICS:
            self._broker_counter(SYS_TOPICS[topic], message.payload)
            return
        self.inbox.put(Incoming(message.mid, message.qos, topic, message.payload, now_ms(), self.connection), self.stopping)

    def _broker_counter(self, name: str, payload: bytes) -> None:
        try:
            self.metrics.update(**{name: int(payload)})
        except ValueError:
            log.debug("unexpected %s payload %r", name, payload[:40])

    def _on_publish(self, _client, _userdata, mid: int, _reason_code, _properties) -> None:
        self.acknowledged.append(mid)
