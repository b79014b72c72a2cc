"""One meter's MQTT connection: its own client id and login, a paho client driven from outside.

A `Link` does not run a network thread of its own: the publisher's loop reads and writes its
socket (`loop_read`, `loop_write`, `loop_misc`) and a small pool of connector threads opens it
(`reconnect`). See `meter.publisher` for why.

Readings taken while the link is down wait in a bounded backlog and are published in order once
the broker has accepted the connection; QoS 1 messages in flight when a connection drops are
sent again by paho. The oldest readings give way when the backlog is full: the register is
cumulative, so the newest reading still carries all the energy.

At most WINDOW readings are unacknowledged at once; the rest wait in the backlog. That keeps
paho's message ids (which wrap at 65,535) far from colliding and lets a history replay go only
as fast as the broker takes it (`Link.has_room`). An `offline` anomaly holds the link down on
purpose (`hold`, `release`): readings pile up in the backlog and arrive late, as from a meter
that lost its modem for a while.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from core.config import Settings
from core.credentials import METER_KEY, meter_password, stored_secret

log = logging.getLogger(__name__)

QOS = 1
QUEUE_LIMIT = 720  # readings held per meter while the broker is away: an hour at 5 s
WINDOW = 100  # readings published and not yet acknowledged, at most
KEEPALIVE_S = 30
CONNECT_TIMEOUT_S = 5.0
RETRY_MIN_S = 1.0
RETRY_MAX_S = 30.0


@dataclass(frozen=True)
class Login:
    """Broker address and the account one meter logs in with."""

    host: str
    port: int
    username: str
    password: str | None
    tls: bool = False
    tls_ca: str | None = None  # with tls, None trusts the system's CAs


def site_key(data_dir: Path) -> str | None:
    """The key simulated meters derive their passwords from, when the broker set-up made one."""
    key, _ = stored_secret(data_dir, METER_KEY, create=False)
    return key


def login_for(meter_id: int, settings: Settings, key: str | None) -> Login:
    """MQTT_USERNAME or the decimal id; MQTT_PASSWORD, else the password derived from the site key, else none."""
    username = settings.mqtt_username or str(meter_id)
    password = settings.mqtt_password or (meter_password(key, meter_id) if key else None)
    ca_file = settings.mqtt_tls.ca_file
    return Login(settings.mqtt_host, settings.mqtt_port, username, password,
                 settings.mqtt_tls.enabled, str(ca_file) if ca_file else None)


class Link:
    """A meter's connection to the broker; every method but `reconnect` runs on the publisher's thread."""

    def __init__(self, meter_id: int, login: Login, quiet: bool = False):
        self.meter_id = meter_id
        self.login = login
        self.level = logging.DEBUG if quiet else logging.INFO  # a neighbourhood logs a summary instead
        self.client = _client(meter_id, login)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.online = False  # the broker accepted the connection (CONNACK success)
        self.connecting = False  # a connector thread owns the client: hands off
        self.retry_at = 0.0  # monotonic time of the next connection attempt
        self.failures = 0
        self.backlog: deque[tuple[str, bytes]] = deque(maxlen=QUEUE_LIMIT)
        self.unacked: set[int] = set()
        self.dropped = 0
        self.held = False  # offline on purpose (an anomaly): no reconnection until released
        self._resumed = False  # connected, and paho has re-sent what was in flight

    def send(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 now, or keep the message, in order, until the link is up and has room."""
        if not self.online or self.backlog or not self.has_room():
            if len(self.backlog) == self.backlog.maxlen:
                self._drop(1)
            self.backlog.append((topic, payload))
            return
        self._publish(topic, payload)

    def has_room(self) -> bool:
        """Whether another reading may be published before the broker acknowledges more."""
        return len(self.unacked) < WINDOW

    def ready(self) -> bool:
        """Connected with nothing waiting and room in the window: a replay may take the next reading."""
        return self.online and self._resumed and not self.backlog and self.has_room()

    def flush(self) -> None:
        """Once connected, publish what waited in the backlog, oldest first, as the window allows."""
        while self._resumed and self.online and self.backlog and self.has_room():
            self._publish(*self.backlog.popleft())

    def hold(self) -> None:
        """Go offline on purpose: close the connection and keep readings until `release`."""
        self.held = True
        self.online = self._resumed = False
        self.close()

    def release(self) -> None:
        """Come back after `hold`: the publisher reconnects at once and the backlog follows."""
        self.held = False
        self.retry_at = 0.0
        self.failures = 0

    def reconnect(self) -> OSError | ValueError | None:
        """Open the connection (blocking; runs on a connector thread); the error, or None."""
        try:
            self.client.reconnect()
        except (OSError, ValueError) as error:
            return error
        return None

    def schedule_retry(self, now: float, error: BaseException | None = None) -> None:
        """The connection is down: try again after an exponential, jittered delay."""
        self.online = False
        self.failures += 1
        ceiling = min(RETRY_MAX_S, RETRY_MIN_S * 2 ** min(self.failures - 1, 10))
        delay = ceiling * random.uniform(0.5, 1.0)  # jitter: not every meter of a street at once
        self.retry_at = now + delay
        if error is not None:
            level = logging.WARNING if self.failures == 1 and self.level == logging.INFO else logging.DEBUG
            log.log(level, "meter %d: cannot reach %s:%d (%s); retrying in %.1f s",
                    self.meter_id, self.login.host, self.login.port, error, delay)

    def close(self) -> None:
        """Send DISCONNECT when connected (paho closes the socket once it is written)."""
        if self.client.socket() is not None:
            self.client.disconnect()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:  # said once; the retries that follow are logged at debug level
            log.log(logging.WARNING if self.failures == 0 else logging.DEBUG,
                    "meter %d: broker refused the connection as user %s: %s",
                    self.meter_id, self.login.username, reason_code)
            return
        if self.held:  # the connection was being opened when the meter went offline
            client.disconnect()
            return
        self.online = True
        self.failures = 0
        self._resumed = True  # flush() runs after this callback, once paho has re-sent what was in flight
        log.log(self.level, "meter %d: connected to %s:%d as user %s",
                self.meter_id, self.login.host, self.login.port, self.login.username)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was_online, self.online, self._resumed = self.online, False, False
        if was_online:
            log.log(self.level, "meter %d: disconnected: %s", self.meter_id, reason_code)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self.unacked.discard(mid)
        if reason_code.is_failure:
            log.warning("meter %d: broker did not accept a reading: %s", self.meter_id, reason_code)

    def _publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=QOS)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            self._drop(1)
        else:
            self.unacked.add(info.mid)

    def _drop(self, count: int) -> None:
        if self.dropped == 0:
            log.warning("meter %d: more than %d readings waiting for the broker; dropping some",
                        self.meter_id, QUEUE_LIMIT)
        self.dropped += count


def _client(meter_id: int, login: Login) -> mqtt.Client:
    """A paho client for one meter, set up but not connected."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"meter-{meter_id}", protocol=mqtt.MQTTv5)
    client.username_pw_set(login.username, login.password)
    if login.tls:
        client.tls_set(ca_certs=login.tls_ca)
    client.max_queued_messages_set(QUEUE_LIMIT)
    client.max_inflight_messages_set(WINDOW)
    client.connect_timeout = CONNECT_TIMEOUT_S
    client.connect_async(login.host, login.port, keepalive=KEEPALIVE_S)
    return client
