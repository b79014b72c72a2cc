"""A small MQTT v5 client for tests: it waits for the broker's answers and keeps what it receives.

paho-mqtt is asynchronous; tests want "publish and tell me whether the broker accepted it" and
"wait until 2,000 messages have arrived". Every wait has a timeout that raises TimeoutError.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

ACCEPTED = 0
FIRST_FAILURE = 0x80  # MQTT v5 reason codes below this are successes
NOT_AUTHORIZED = 135  # MQTT v5 reason code of a refused login, publish or subscription
BAD_CREDENTIALS = 134


class ConnectionRefused(ConnectionError):
    """The broker answered CONNACK with a failure reason code (`.reason`)."""

    def __init__(self, reason: int):
        super().__init__(f"the broker refused the connection (reason code {reason})")
        self.reason = reason


@dataclass(frozen=True)
class Message:
    """One message received: topic, payload bytes, QoS and retain flag, and when it arrived (Unix seconds)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    arrived: float = 0.0


class MqttClient:
    """A connected paho-mqtt v5 client with blocking publish/subscribe and a list of messages."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        client_id: str = "",
        clean_start: bool = True,
        session_expiry: int | None = None,
        timeout: float = 5.0,
        tls_ca: str | None = None,
    ):
        self.host, self.port, self.timeout = host, port, timeout
        self.clean_start, self.session_expiry = clean_start, session_expiry
        self.messages: list[Message] = []
        self.connack: int | None = None
        self.session_present = False
        self.disconnected = threading.Event()
        self._changed = threading.Condition()
        self._acks: dict[int, int] = {}
        self._subacks: dict[int, list[int]] = {}
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        if tls_ca is not None:  # TLS, trusting this CA file
            self._client.tls_set(ca_certs=tls_ca)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def connect(self) -> "MqttClient":
        """Connect and wait for CONNACK; ConnectionRefused when the broker says no."""
        properties = None
        if self.session_expiry is not None:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.session_expiry
        self._client.connect(self.host, self.port, keepalive=30, clean_start=self.clean_start,
                             properties=properties)
        self._client.loop_start()
        self._wait(lambda: self.connack is not None or self.disconnected.is_set(), "CONNACK")
        if self.connack != ACCEPTED:
            self.close()
            raise ConnectionRefused(self.connack if self.connack is not None else -1)
        return self

    def subscribe(self, topic: str, qos: int = 1) -> int:
        """Subscribe and return the SUBACK code: the granted QoS, or 128 and up when refused."""
        _, mid = self._client.subscribe(topic, qos=qos)
        codes = self._wait(lambda: self._subacks.get(mid), f"SUBACK of {topic}")
        return codes[0]

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> int:
        """Publish and wait for the broker's acknowledgement: ACCEPTED (0), or the refusal's code.

        Every success code counts as ACCEPTED, 16 ("no matching subscribers") included.
        """
        return self.publish_many([(topic, payload)], qos)[0]

    def publish_many(self, messages: list[tuple[str, bytes | str]], qos: int = 1) -> list[int]:
        """Publish in order, then wait for every acknowledgement; returns the reason codes."""
        mids = [self._client.publish(topic, payload, qos=qos).mid for topic, payload in messages]
        if qos == 0:
            return [ACCEPTED] * len(mids)
        self._wait(lambda: all(mid in self._acks for mid in mids), f"{len(mids)} acknowledgements",
                   timeout=max(self.timeout, len(mids) / 200))
        return [ACCEPTED if self._acks[mid] < FIRST_FAILURE else self._acks[mid] for mid in mids]

    def wait_for_messages(self, count: int, timeout: float | None = None) -> list[Message]:
        """Block until at least `count` messages have arrived; returns all received so far."""
        self._wait(lambda: len(self.messages) >= count,
                   lambda: f"{count} messages (have {len(self.messages)})", timeout)
        return list(self.messages)

    def close(self) -> None:
        """Disconnect cleanly (a persistent session stays on the broker) and stop the network thread."""
        if self.connack == ACCEPTED and not self.disconnected.is_set():
            self._client.disconnect()
            self.disconnected.wait(self.timeout)
        self._client.loop_stop()

    def __enter__(self) -> "MqttClient":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _wait(self, ready: Callable[[], Any], what: str | Callable[[], str],
              timeout: float | None = None) -> Any:
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._changed:
            while not (result := ready()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"timed out waiting for {what() if callable(what) else what}")
                self._changed.wait(min(remaining, 0.1))
            return result

    def _notify(self, change: Callable[[], None]) -> None:
        with self._changed:
            change()
            self._changed.notify_all()

    def _on_connect(self, _client, _userdata, flags, reason_code, _properties) -> None:
        def record() -> None:
            self.session_present = bool(flags.session_present)
            self.connack = reason_code.value
        self._notify(record)

    def _on_disconnect(self, _client, _userdata, _flags, _reason_code, _properties) -> None:
        self._notify(self.disconnected.set)

    def _on_publish(self, _client, _userdata, mid, reason_code, _properties) -> None:
        self._notify(lambda: self._acks.__setitem__(mid, reason_code.value))

    def _on_subscribe(self, _client, _userdata, mid, reason_codes, _properties) -> None:
        self._notify(lambda: self._subacks.__setitem__(mid, [code.value for code in reason_codes]))

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        received = Message(message.topic, bytes(message.payload), message.qos, bool(message.retain), time.time())
        self._notify(lambda: self.messages.append(received))


def connack(host: str, port: int, username: str | None = None, password: str | None = None,
            timeout: float = 5.0, **options: object) -> int:
    """The broker's answer to a login with these credentials (and MqttClient `options`, such as
    client_id): 0 when accepted, else its reason code."""
    client = MqttClient(host, port, username, password, timeout=timeout, **options)  # type: ignore[arg-type]
    try:
        client.connect()
    except ConnectionRefused as refused:
        return refused.reason
    client.close()
    return ACCEPTED
