"""A TCP proxy between one MQTT client and the broker, that can cut the line and audits acks.

Tests put it between the ingest worker and Mosquitto. `cut()` closes every live connection at
once, both ways, as a failing network would; the client reconnects through the proxy.

It also reads the MQTT packets it forwards. For each connection it keeps the QoS 1 PUBLISH
packets the broker sent and the client has not acknowledged yet, by packet id, and checks every
PUBACK the client sends, before forwarding it. (Mosquitto 2.0.11 may have more than 65,535
messages out at once, eclipse-mosquitto/mosquitto#2301, and then gives an id still in use to
another message; like Mosquitto, which deletes the oldest message with the acknowledged id, the
proxy matches a PUBACK to the oldest outstanding message with that id, and counts the reuses.)
- a PUBACK for an id that is not outstanding on *that* connection is a stray acknowledgement
  (for instance one meant for a closed connection, whose id the broker gave to another message);
- the message a PUBACK acknowledges must already be committed: `committed(messages)` answers,
  for the acknowledged `(topic, payload)` pairs, which are not in the database yet.
Both kinds of failure are recorded in `audit`, with the largest number of messages outstanding
at once (the broker's in-flight window, as the client announced it).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator

log = logging.getLogger(__name__)

CONNECT, PUBLISH, PUBACK = 1, 3, 4
MQTT_V5 = 5

Committed = Callable[[list[tuple[str, bytes]]], list[tuple[str, bytes]]]  # -> those not committed


@dataclass
class Audit:
    """What the proxy saw, over every connection."""

    connections: int = 0
    cuts: int = 0
    publishes: int = 0
    redelivered: int = 0  # PUBLISH packets with the DUP flag: resent after a reconnect
    acks: int = 0
    max_outstanding: int = 0
    reused_ids: int = 0  # PUBLISH packets whose id was still outstanding on their connection
    stray_acks: list[tuple[int, int]] = field(default_factory=list)  # (connection, packet id)
    early_acks: list[tuple[str, bytes]] = field(default_factory=list)  # acknowledged before commit

    @property
    def clean(self) -> bool:
        """No stray and no early acknowledgement."""
        return not self.stray_acks and not self.early_acks


def packets(buffer: bytearray) -> Iterator[tuple[int, int, bytes]]:
    """Take complete MQTT packets `(type, flags, body)` off the front of `buffer`."""
    while len(buffer) >= 2:
        length, multiplier, index = 0, 1, 1
        while True:
            if index >= len(buffer):
                return
            byte = buffer[index]
            length += (byte & 0x7F) * multiplier
            multiplier *= 128
            index += 1
            if not byte & 0x80:
                break
            if index > 4:
                raise ValueError("malformed remaining length")
        if len(buffer) < index + length:
            return
        header = buffer[0]
        body = bytes(buffer[index:index + length])
        del buffer[:index + length]
        yield header >> 4, header & 0x0F, body


def varint(data: bytes, position: int) -> tuple[int, int]:
    """An MQTT variable byte integer at `position`: (value, position after it)."""
    value, multiplier = 0, 1
    while True:
        byte = data[position]
        position += 1
        value += (byte & 0x7F) * multiplier
        multiplier *= 128
        if not byte & 0x80:
            return value, position


def parse_publish(flags: int, body: bytes, version: int) -> tuple[int, int | None, str, bytes, bool]:
    """(qos, packet id or None, topic, payload, dup) of a PUBLISH body."""
    qos, dup = (flags >> 1) & 3, bool(flags & 8)
    (topic_length,) = struct.unpack_from("!H", body, 0)
    position = 2 + topic_length
    topic = body[2:position].decode("utf-8", "replace")
    mid = None
    if qos:
        (mid,) = struct.unpack_from("!H", body, position)
        position += 2
    if version >= MQTT_V5:
        properties, position = varint(body, position)
        position += properties
    return qos, mid, topic, body[position:], dup


class _Link:
    """One client connection and its connection to the broker."""

    def __init__(self, number: int, client: socket.socket, server: socket.socket):
        self.number = number
        self.client = client
        self.server = server
        self.version = 4
        self.outstanding: dict[int, collections.deque[tuple[str, bytes]]] = collections.defaultdict(collections.deque)
        self.outstanding_count = 0
        self.lock = threading.Lock()
        self.closed = False

    def close(self) -> None:
        """Drop both sides at once (RST): the peers see the line fail."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


class MqttProxy:
    """Listens on a free port of 127.0.0.1 and forwards every connection to `target`."""

    def __init__(self, target_host: str, target_port: int, committed: Committed | None = None):
        self.target = (target_host, target_port)
        self.committed = committed
        self.audit = Audit()
        self._lock = threading.Lock()
        self._links: list[_Link] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="mqtt-proxy", daemon=True)

    def start(self) -> "MqttProxy":
        """Start accepting connections."""
        self._thread.start()
        return self

    def cut(self) -> int:
        """Cut every live connection; returns how many were cut."""
        with self._lock:
            live = [link for link in self._links if not link.closed]
            self.audit.cuts += 1
        for link in live:
            link.close()
        return len(live)

    def close(self) -> None:
        """Stop listening and cut everything."""
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self.cut()

    def __enter__(self) -> "MqttProxy":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.audit.connections += 1
                link = _Link(self.audit.connections, client, server)
                self._links.append(link)
            threading.Thread(target=self._pump, args=(link, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(link, False), daemon=True).start()

    def _pump(self, link: _Link, upstream: bool) -> None:
        """Forward one direction until either side closes; read the packets on the way."""
        source, sink = (link.client, link.server) if upstream else (link.server, link.client)
        buffer = bytearray()
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                buffer += data
                if upstream:
                    self._from_client(link, buffer)
                else:
                    self._from_broker(link, buffer)
                sink.sendall(data)
        except OSError:
            pass
        except Exception:  # a parsing bug must show in the test's log, not hang it
            log.exception("MQTT proxy failed on connection %s", link.number)
        finally:
            link.close()

    def _from_broker(self, link: _Link, buffer: bytearray) -> None:
        """Record the QoS 1 messages the broker sends, before the client can see them."""
        for kind, flags, body in packets(buffer):
            if kind != PUBLISH:
                continue
            qos, mid, topic, payload, dup = parse_publish(flags, body, link.version)
            if not qos:
                continue
            with self._lock:
                waiting = link.outstanding[mid]
                self.audit.reused_ids += bool(waiting)
                waiting.append((topic, payload))
                link.outstanding_count += 1
                self.audit.publishes += 1
                self.audit.redelivered += dup
                self.audit.max_outstanding = max(self.audit.max_outstanding, link.outstanding_count)

    def _from_client(self, link: _Link, buffer: bytearray) -> None:
        """Check the client's acknowledgements before they reach the broker."""
        acknowledged = []
        for kind, _flags, body in packets(buffer):
            if kind == CONNECT:
                (name_length,) = struct.unpack_from("!H", body, 0)
                link.version = body[2 + name_length]
            elif kind == PUBACK:
                (mid,) = struct.unpack_from("!H", body, 0)
                with self._lock:
                    self.audit.acks += 1
                    waiting = link.outstanding.get(mid)
                    message = waiting.popleft() if waiting else None
                    if message is None:
                        self.audit.stray_acks.append((link.number, mid))
                    else:
                        link.outstanding_count -= 1
                if message is not None:
                    acknowledged.append(message)
        if acknowledged and self.committed is not None:
            missing = self.committed(acknowledged)
            if missing:
                with self._lock:
                    self.audit.early_acks.extend(missing)


def committed_in(db_url: str) -> Committed:
    """A `committed` check against the worker's database, read-only (sees each commit).

    A message counts as committed when its reading is in `readings`, or when its payload is in
    the rejected store (a message the worker refused is acknowledged too, after that commit).
    """
    from core.wire import Rejected, decode  # the proxy itself needs none of the project
    from tests.support.load import Ledger

    ledger = Ledger(db_url)  # connects at the first check: the worker creates the file
    lock = threading.Lock()

    def missing(messages: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        absent = []
        with lock:
            for topic, payload in messages:
                try:
                    reading = decode(topic, payload)
                except Rejected:
                    reading = None
                if reading is not None and ledger.stored(reading.meter_id, reading.ts_ms):
                    continue
                if ledger.rejected_reasons(topic, payload):
                    continue
                absent.append((topic, payload))
        return absent

    return missing
