"""The hand-over from paho's network thread to the batch loop, in arrival order, bounded.

The worker announces a Receive Maximum equal to its batch size, so the broker should never have
more unacknowledged messages out to the worker than one batch. Mosquitto 2.0.11 keeps to it only
until the first acknowledgements of a connection; after them it sends its whole backlog at once
(eclipse-mosquitto/mosquitto#2301). So the inbox has a capacity of its own: when it is full,
`put` waits, paho's network thread stops reading the socket, TCP's flow control stops the
broker, and the backlog stays in the broker's session. While the database is locked the worker
then holds at most one batch being stored plus one full inbox.

When a connection closes and the next one finds its session present, the broker resends every
message still unacknowledged, so the copies taken from the closed connection are dropped here
instead of piling up reconnect after reconnect.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import NamedTuple


class Incoming(NamedTuple):
    """A message from the network thread, tagged with the connection it arrived on (a tuple:
    one is made per message, in the thread that reads the socket)."""

    mid: int
    qos: int
    topic: str
    payload: bytes
    received_ms: int
    connection: int


class Inbox:
    """A thread-safe FIFO of `Incoming` messages of at most `capacity`, taken out in batches."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.waits = 0  # how many times a `put` found the inbox full
        self._items: collections.deque[Incoming] = collections.deque()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)
        self._taking = False  # whether `take` waits for messages (else `put` need not wake it)

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: Incoming, stopping: threading.Event) -> None:
        """Append a message (network thread); wait while the inbox is full, unless stopping."""
        with self._lock:
            if len(self._items) >= self.capacity:
                self.waits += 1
                while len(self._items) >= self.capacity and not stopping.is_set():
                    self._room.wait(0.5)
            self._items.append(item)
            if self._taking:
                self._changed.notify()

    def take(self, limit: int, first_wait: float, more_wait: float) -> list[Incoming]:
        """Up to `limit` messages: wait up to `first_wait` s for one, then up to `more_wait` s more.

        A batch ends when it is full or `more_wait` seconds after its first message, so a reading
        waits at most that long before its transaction starts, and a busy stream is stored in
        large transactions.
        """
        batch: list[Incoming] = []
        deadline = time.monotonic() + first_wait
        with self._changed:
            items = self._items
            while len(batch) < limit:
                if items:
                    if not batch:
                        deadline = time.monotonic() + more_wait
                    batch.extend(items.popleft() for _ in range(min(limit - len(batch), len(items))))
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._taking = True
                self._changed.wait(remaining)
                self._taking = False
            if batch:
                self._room.notify_all()
        return batch

    def drop_older_than(self, connection: int) -> int:
        """Forget the messages of connections before `connection`; returns how many."""
        with self._lock:
            kept = [item for item in self._items if item.connection >= connection]
            dropped = len(self._items) - len(kept)
            self._items.clear()  # in place: `take` may hold the deque while it waits
            self._items.extend(kept)
            self._room.notify_all()
        return dropped
