"""The loop that drives any number of meters from one thread: readings, sockets, reconnections.

Threading model. Every meter has its own paho client and TCP connection, but none has a network
thread: one thread (the caller of `run`) waits on all the sockets with `selectors` (epoll on
Linux, no 1,024-descriptor ceiling), hands each ready socket to its client's `loop_read` or
`loop_write`, calls `loop_misc` once a second for keep-alives, and takes each meter's reading
when it is due. Publishing happens on the thread that owns the clients, so nothing is shared.

Why not paho's `loop_start`? Measured with 1,000 clients on two cores, both designs cost a few
percent of a core in the network; but `loop_start` takes a thread and a socket pair per client
(1,001 threads and 3,000 descriptors for 1,000 meters, against 5 threads and 1,000 here), every
publish crosses threads through paho's locks, and after a broker restart every client retries on
the same un-jittered schedule. One loop also gives one place to stop and drain.

Only opening a connection blocks (DNS, TCP handshake, up to CONNECT_TIMEOUT_S against a host
that does not answer), so that is done by a few connector threads. While one of them holds a
client, the loop leaves that client alone (`Link.connecting`); the finished attempt comes back
through a queue and the loop registers the new socket. Retries back off exponentially with
jitter, so a broker restart is not met by every meter at the same instant.

Meters start staggered across the first interval so their readings spread evenly in time.

History (`meter.timeline.History`). Each meter first replays its history: a reading every history
step of simulated time, due at `speed` times real time, or as soon as its link is `ready` at max
speed. A meter whose link is not ready (not connected, or WINDOW readings unacknowledged) is
`blocked`: it leaves the schedule and comes back when an acknowledgement or a connection makes
room (`_sync`), so a replay runs exactly as fast as the broker takes it and nothing is dropped.
Once a meter's simulated clock passes the wall clock it goes live: a reading every `interval`.

Anomalies (`meter.anomalies.Script`) act here on the wire: an `offline` meter holds its link
down while the reading's time is inside the fault, and a reading may leave skewed or repeated.

`stop()` may be called from a signal handler or another thread: the loop wakes up, waits up to
DRAIN_S for readings in flight to be acknowledged, disconnects every client and returns.
"""

from __future__ import annotations

import heapq
import logging
import math
import queue
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from typing import Callable

from core.periods import now_ms
from core.wire import Reading, topic_for
from meter.anomalies import NO_FAULTS, Script
from meter.device import Meter
from meter.link import WINDOW, Link
from meter.timeline import History

log = logging.getLogger(__name__)

CONNECTOR_THREADS = 4
MISC_EVERY_S = 1.0
FIRST_SUMMARY_S = 10.0
SUMMARY_EVERY_S = 60.0
REPLAY_BATCH = 50  # history readings taken at once per meter: one state file write for them all
DRAIN_S = 1.0  # at stop, how long to wait for acknowledgements of readings in flight


@dataclass
class Station:
    """A meter and its connection."""

    meter: Meter
    link: Link
    sock: socket.socket | None = None  # the socket registered with the selector
    events: int = 0
    script: Script = NO_FAULTS
    next_ts: int | None = None  # simulated time of the next history reading; None once live
    blocked: bool = False  # replaying, and waiting for its link to be ready
    index: int = 0  # its place in the publisher's list


@dataclass(frozen=True)
class Clock:
    """Where the loop reads the time: the wall clock stamps readings, the monotonic one schedules them."""

    wall_ms: Callable[[], int] = now_ms
    monotonic: Callable[[], float] = time.monotonic


class Publisher:
    """Publishes each station's reading every `interval` seconds until `stop()`."""

    def __init__(self, stations: list[Station], interval: float, encode: Callable[[Reading], bytes],
                 clock: Clock | None = None, summary: bool = False, history: History | None = None):
        self.stations = stations
        self.interval = interval
        self.encode = encode
        self.clock = clock or Clock()
        self.summary = summary
        self.history = history
        self.published = 0
        self.replaying = 0  # meters still replaying their history
        self._replay_started = 0.0  # monotonic time the replay's timeline starts from
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._finished: queue.SimpleQueue[tuple[Station, BaseException | None]] = queue.SimpleQueue()
        self._to_connect: queue.SimpleQueue[Station | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._due: list[tuple[float, int]] = []

    def stop(self) -> None:
        """Ask the loop to finish; safe from a signal handler or any thread."""
        self._stopping.set()
        self._wake()

    def run(self) -> None:
        """Publish until `stop()`, then disconnect cleanly."""
        self._start()
        next_misc = self.clock.monotonic()
        next_summary = next_misc + FIRST_SUMMARY_S
        try:
            while not self._stopping.is_set():
                now = self.clock.monotonic()
                if now >= next_misc:
                    self._misc(now)
                    next_misc = now + MISC_EVERY_S
                if self.summary and now >= next_summary:
                    self._log_summary()
                    next_summary = now + SUMMARY_EVERY_S
                self._take_due_readings(now)
                wake = min(next_misc, self._due[0][0]) if self._due else next_misc  # all may be blocked
                self._wait(wake - self.clock.monotonic())
                self._collect_connections()
        finally:
            self._shutdown()

    def _start(self) -> None:
        """Schedule first readings (history from its start, live ones spread over an interval); connect everyone."""
        now = self.clock.monotonic()
        wall_ms = self.clock.wall_ms()
        self._replay_started = now
        count = len(self.stations)
        for index, station in enumerate(self.stations):
            station.index = index
            if self.history is not None:
                first = self.history.first_ts(station.meter.register.ts_ms)
                station.next_ts = first if first <= wall_ms else None
            if station.next_ts is None:
                self._due.append((now + self.interval * index / count, index))
            else:
                self.replaying += 1
                self._due.append((self._history_due(station.next_ts), index))
        heapq.heapify(self._due)
        if self.replaying:
            log.info("%d meter(s) replay their history from %s", self.replaying, _utc(self.history.origin_ms))
        for _ in range(min(CONNECTOR_THREADS, count)):
            threading.Thread(target=self._connector, name="meter-connector", daemon=True).start()
        for station in self.stations:
            self._request_connection(station)

    def _take_due_readings(self, now: float) -> None:
        """Read, persist and publish every meter whose time has come."""
        while self._due and self._due[0][0] <= now:
            due, index = heapq.heappop(self._due)
            station = self.stations[index]
            if station.next_ts is not None:
                self._replay(station, index, now)
                continue
            self._publish(station, [self.clock.wall_ms()])
            missed = math.floor((now - due) / self.interval) + 1  # after a stall, skip what was missed
            heapq.heappush(self._due, (due + missed * self.interval, index))

    def _replay(self, station: Station, index: int, now: float) -> None:
        """The history readings of a meter that are due and that its link can take; then its next due time."""
        link = station.link
        if not (link.ready() or link.held):
            station.blocked = True  # back on the schedule from _sync, when the link has room
            return
        room = REPLAY_BATCH if link.held else min(REPLAY_BATCH, WINDOW - len(link.unacked))
        wall_ms, step = self.clock.wall_ms(), self.history.step_ms
        times = [station.next_ts]
        while len(times) < room and times[-1] + step <= wall_ms and self._history_due(times[-1] + step) <= now:
            times.append(times[-1] + step)
        self._publish(station, times)
        station.next_ts = times[-1] + step
        if station.next_ts <= wall_ms:
            heapq.heappush(self._due, (self._history_due(station.next_ts), index))
            return
        station.next_ts = None  # caught up with now: live from here on, in its place among the others
        self.replaying -= 1
        heapq.heappush(self._due, (now + self.interval * (1 + index / len(self.stations)), index))
        if self.replaying == 0:
            log.info("history replayed: %d readings; every meter is live, a reading every %g s",
                     self.published, self.interval)

    def _history_due(self, ts_ms: int) -> float:
        """When the history reading at `ts_ms` is due on the monotonic clock."""
        return self._replay_started + self.history.real_offset_s(ts_ms)

    def _publish(self, station: Station, times: list[int]) -> None:
        """Readings at `times`: the state saved first, so that a crash after publishing never rolls the
        register back (a crash between the two loses readings, never repeats a time)."""
        meter, link, script = station.meter, station.link, station.script
        readings = [meter.read(ts_ms) for ts_ms in times]
        try:
            meter.save()
        except OSError as error:
            log.error("meter %d: cannot save its state to %s: %s", meter.meter_id, meter.state_file, error)
        topic = topic_for(meter.meter_id)
        for reading in readings:
            offline = script.offline(reading.ts_ms)
            if offline != link.held and not link.connecting:
                log.info("meter %d: %s (anomaly)", meter.meter_id, "goes offline" if offline else "back online")
                link.hold() if offline else link.release()
            for sent in script.on_wire(reading):
                link.send(topic, self.encode(sent))
        self.published += len(readings)
        if not link.connecting:
            self._sync(station)

    def _wait(self, timeout: float) -> None:
        """Wait for socket events (or a wake-up) and hand them to the clients."""
        for key, mask in self._selector.select(max(0.0, timeout)):
            if key.fileobj is self._wake_r:
                self._drain_wake()
                continue
            station: Station = key.data
            client = station.link.client
            if mask & selectors.EVENT_READ:
                client.loop_read()
            if mask & selectors.EVENT_WRITE and client.socket() is not None:
                client.loop_write()
            self._sync(station)

    def _misc(self, now: float) -> None:
        """Keep-alives, and connection attempts whose back-off has run out."""
        for station in self.stations:
            link = station.link
            if link.connecting or (link.held and station.sock is None):
                continue
            if station.sock is not None:
                link.client.loop_misc()
                self._sync(station)
            elif now >= link.retry_at:
                self._request_connection(station)

    def _sync(self, station: Station) -> None:
        """Match the selector to the client's socket: gone, new, or wanting to write."""
        link = station.link
        if link.client.socket() is not None:
            link.flush()  # may itself lose the connection: look at the socket afterwards
        current = link.client.socket()
        if current is not station.sock:
            if station.sock is not None:
                self._unregister(station)
                link.schedule_retry(self.clock.monotonic())
            if current is not None:
                station.sock, station.events = current, selectors.EVENT_READ
                self._selector.register(current, station.events, station)
        if station.blocked and link.ready() and len(link.unacked) <= WINDOW // 2:
            station.blocked = False  # half the window free: replay the next batch when it is due
            due = max(self.clock.monotonic(), self._history_due(station.next_ts))
            heapq.heappush(self._due, (due, station.index))
        if current is None:
            return
        wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if link.client.want_write() else 0)
        if wanted != station.events:
            station.events = wanted
            self._selector.modify(current, wanted, station)

    def _unregister(self, station: Station) -> None:
        try:
            self._selector.unregister(station.sock)
        except (KeyError, ValueError):
            pass  # closed before we could tell the selector; epoll forgets closed descriptors
        station.sock, station.events = None, 0

    def _request_connection(self, station: Station) -> None:
        station.link.connecting = True
        self._to_connect.put(station)

    def _connector(self) -> None:
        """Connector thread: open connections one at a time, report each result to the loop."""
        while (station := self._to_connect.get()) is not None:
            if self._stopping.is_set():
                continue
            self._finished.put((station, station.link.reconnect()))
            self._wake()

    def _collect_connections(self) -> None:
        """Take back clients whose connection attempt has finished."""
        while True:
            try:
                station, error = self._finished.get_nowait()
            except queue.Empty:
                return
            link = station.link
            link.connecting = False
            if error is None and link.client.socket() is None:
                error = ConnectionError("connection closed while opening")
            if error is not None:
                link.schedule_retry(self.clock.monotonic(), error)
            elif not self._stopping.is_set():
                self._sync(station)

    def _shutdown(self) -> None:
        """Let readings in flight be acknowledged for a moment, then disconnect everyone."""
        for _ in range(CONNECTOR_THREADS):
            self._to_connect.put(None)
        self._stopping.set()
        self._collect_connections()
        deadline = self.clock.monotonic() + DRAIN_S
        while self.clock.monotonic() < deadline and any(
            s.link.unacked and s.sock is not None for s in self.stations
        ):
            self._wait(min(0.05, deadline - self.clock.monotonic()))
        if self.summary:
            self._log_summary()
        for station in self.stations:
            if not station.link.connecting:
                station.link.close()
                if station.sock is not None:
                    self._unregister(station)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _log_summary(self) -> None:
        online = sum(station.link.online for station in self.stations)
        waiting = sum(len(station.link.backlog) for station in self.stations)
        dropped = sum(station.link.dropped for station in self.stations)
        replay = f", {self.replaying} still replaying history" if self.replaying else ""
        log.info("%d/%d meters connected; %d readings taken, %d waiting, %d dropped%s",
                 online, len(self.stations), self.published, waiting, dropped, replay)

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # already awake, or shutting down

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass


def _utc(ms: int) -> str:
    """An instant for the log, in UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))
