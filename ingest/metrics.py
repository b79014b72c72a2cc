"""The worker's counters, in Prometheus text format, and a periodic one-line summary for the log.

The batch loop, paho's network thread and the metrics server share one `Metrics`; every update
and every read holds its lock, so a scrape sees one consistent moment.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from ingest.store import Outcome

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Upper bounds of the commit-time histogram, in seconds: a normal batch commits in milliseconds,
# one that waited on a locked database in seconds.
COMMIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Metrics:
    """Counters since the worker started, and gauges of its present state."""

    started: float = field(default_factory=time.time)
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)
    flagged: Counter = field(default_factory=Counter)
    batches: int = 0
    commit_buckets: list[int] = field(default_factory=lambda: [0] * len(COMMIT_BUCKETS))
    commit_seconds_sum: float = 0.0
    commit_seconds_last: float = 0.0
    batch_size_last: int = 0
    batch_size_max: int = 0
    lag_seconds: float = 0.0
    wait_seconds: float = 0.0
    acknowledged: int = 0
    unacknowledged: int = 0
    redundant_dropped: int = 0
    database_retries: int = 0
    pruned: int = 0
    database_ok: bool = True
    alerts_published: int = 0
    connected: bool = False
    subscribed: bool = False
    reconnects: int = 0
    held: int = 0
    inbox_full: int = 0
    window: int = 0
    broker_dropped: int | None = None
    broker_stored: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, outcome: Outcome, commit_seconds: float, now_ms: int, oldest_received_ms: int | None = None) -> None:
        """Add one committed batch."""
        with self._lock:
            self.received += outcome.received
            self.stored += outcome.stored
            self.duplicates += outcome.duplicates
            self.rejected.update(outcome.rejected)
            self.flagged.update(outcome.flagged)
            self.batches += 1
            self.commit_seconds_sum += commit_seconds
            self.commit_seconds_last = commit_seconds
            for index, bound in enumerate(COMMIT_BUCKETS):
                if commit_seconds <= bound:
                    self.commit_buckets[index] += 1
            self.batch_size_last = outcome.received
            self.batch_size_max = max(self.batch_size_max, outcome.received)
            if outcome.oldest_ts is not None:
                self.lag_seconds = max(0.0, (now_ms - outcome.oldest_ts) / 1000)
            if oldest_received_ms is not None:
                self.wait_seconds = max(0.0, (now_ms - oldest_received_ms) / 1000)
            self.database_ok = True

    def update(self, **values: Any) -> None:
        """Set gauges atomically: `update(connected=True, subscribed=False)`."""
        with self._lock:
            for name, value in values.items():
                setattr(self, name, value)

    def add(self, **amounts: int) -> None:
        """Add to counters atomically: `add(acknowledged=5)`."""
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def count_rejected(self, reason: str, amount: int = 1) -> None:
        """Count readings rejected outside a committed batch's outcome."""
        with self._lock:
            self.rejected[reason] += amount

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of every counter and gauge."""
        with self._lock:
            values = {name: getattr(self, name) for name in self.__dataclass_fields__ if not name.startswith("_")}
            values["rejected"] = dict(self.rejected)
            values["flagged"] = dict(self.flagged)
            values["commit_buckets"] = list(self.commit_buckets)
        values["uptime_seconds"] = time.time() - values["started"]
        return values

    def prometheus(self) -> str:
        """The counters in Prometheus text exposition format (version 0.0.4)."""
        s = self.snapshot()
        lines = [
            *_family("energy_ingest_received_total", "counter", "Messages taken from the broker and processed.", [("", s["received"])]),
            *_family("energy_ingest_stored_total", "counter", "Readings stored.", [("", s["stored"])]),
            *_family("energy_ingest_duplicates_total", "counter", "Readings already stored (a no-op).", [("", s["duplicates"])]),
            *_family("energy_ingest_rejected_total", "counter", "Messages kept in the rejected store, by reason.",
                     [(f'reason="{reason}"', count) for reason, count in sorted(s["rejected"].items())]),
            *_family("energy_ingest_flagged_total", "counter", "Register steps flagged for the operator, by kind.",
                     [(f'kind="{kind}"', count) for kind, count in sorted(s["flagged"].items())]),
            *_family("energy_ingest_batches_total", "counter", "Batches committed.", [("", s["batches"])]),
            *_histogram("energy_ingest_batch_commit_seconds", "Time to store and commit one batch.",
                        s["commit_buckets"], s["commit_seconds_sum"], s["batches"]),
            *_family("energy_ingest_batch_commit_last_seconds", "gauge", "Store-and-commit time of the last batch.",
                     [("", s["commit_seconds_last"])]),
            *_family("energy_ingest_batch_size_last", "gauge", "Messages in the last batch.", [("", s["batch_size_last"])]),
            *_family("energy_ingest_batch_size_max", "gauge", "Largest batch so far; never above the in-flight window.",
                     [("", s["batch_size_max"])]),
            *_family("energy_ingest_inflight_window", "gauge", "Receive Maximum announced to the broker (batch size).",
                     [("", s["window"])]),
            *_family("energy_ingest_lag_seconds", "gauge", "Age of the oldest reading of the last batch when it committed.",
                     [("", s["lag_seconds"])]),
            *_family("energy_ingest_wait_seconds", "gauge", "How long the oldest message of the last batch waited in the worker before its commit.",
                     [("", s["wait_seconds"])]),
            *_family("energy_ingest_held_messages", "gauge", "Messages received and not yet committed.", [("", s["held"])]),
            *_family("energy_ingest_inbox_full_total", "counter",
                     "Times the network thread stopped reading because a batch and a full inbox were held.",
                     [("", s["inbox_full"])]),
            *_family("energy_ingest_acknowledged_total", "counter", "Messages acknowledged to the broker after their commit.",
                     [("", s["acknowledged"])]),
            *_family("energy_ingest_unacknowledged_total", "counter",
                     "Messages committed whose connection closed before the acknowledgement; the broker resends them (duplicates).",
                     [("", s["unacknowledged"])]),
            *_family("energy_ingest_redundant_dropped_total", "counter",
                     "Copies from a closed connection dropped before storing because the broker resends them.",
                     [("", s["redundant_dropped"])]),
            *_family("energy_ingest_database_retries_total", "counter", "Batches retried because the database was locked or unreachable.",
                     [("", s["database_retries"])]),
            *_family("energy_ingest_pruned_total", "counter",
                     "Raw readings past the retention window removed (their 15-minute buckets' first and last stay).",
                     [("", s["pruned"])]),
            *_family("energy_ingest_database_up", "gauge", "0 while the last attempt to commit failed.", [("", int(s["database_ok"]))]),
            *_family("energy_ingest_alerts_published_total", "counter", "Alerts the broker acknowledged on alerts/<id>.",
                     [("", s["alerts_published"])]),
            *_family("energy_ingest_connected", "gauge", "1 while connected to the broker.", [("", int(s["connected"]))]),
            *_family("energy_ingest_subscribed", "gauge", "1 once the readings subscription is granted on this connection.",
                     [("", int(s["subscribed"]))]),
            *_family("energy_ingest_reconnects_total", "counter", "Connections made after the first.", [("", s["reconnects"])]),
            *_family("energy_ingest_uptime_seconds", "gauge", "Seconds since the worker started.", [("", round(s["uptime_seconds"], 3))]),
        ]
        if s["broker_dropped"] is not None:
            lines += _family("energy_broker_publish_dropped", "gauge",
                             "Messages the broker dropped since it started (queue limits), from $SYS/broker/publish/messages/dropped.",
                             [("", s["broker_dropped"])])
        if s["broker_stored"] is not None:
            lines += _family("energy_broker_stored_messages", "gauge",
                             "Messages held in the broker's store, from $SYS/broker/store/messages/count.",
                             [("", s["broker_stored"])])
        return "\n".join(lines) + "\n"

    def summary(self) -> str:
        """One log line."""
        s = self.snapshot()
        rejected = sum(s["rejected"].values())
        dropped = "" if s["broker_dropped"] is None else f", broker dropped {s['broker_dropped']}"
        return (
            f"received {s['received']}, stored {s['stored']}, duplicates {s['duplicates']}, "
            f"rejected {rejected}, batches {s['batches']}, last commit {s['commit_seconds_last'] * 1000:.1f} ms, "
            f"lag {s['lag_seconds']:.1f} s, held {s['held']}, alerts published {s['alerts_published']}{dropped}"
        )


def _family(name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]) -> list[str]:
    """One metric family: HELP, TYPE and its samples (`labels` is `key="value"` or empty)."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{{{labels}}} {value}" if labels else f"{name} {value}" for labels, value in samples]
    return lines


def _histogram(name: str, help_text: str, buckets: list[int], total: float, count: int) -> list[str]:
    """A histogram family; `buckets` are cumulative counts per bound of COMMIT_BUCKETS."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    lines += [f'{name}_bucket{{le="{bound}"}} {value}' for bound, value in zip(COMMIT_BUCKETS, buckets)]
    lines += [f'{name}_bucket{{le="+Inf"}} {count}', f"{name}_sum {total}", f"{name}_count {count}"]
    return lines
