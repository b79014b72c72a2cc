"""The worker's counters, in Prometheus text format, and a periodic one-line summary for the log."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from ingest.store import Outcome


@dataclass
class Metrics:
    """Counters since the worker started; updated by the batch loop, read by the metrics server."""

    started: float = field(default_factory=time.time)
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)
    flagged: Counter = field(default_factory=Counter)
    batches: int = 0
    commit_seconds_total: float = 0.0
    commit_seconds_last: float = 0.0
    lag_seconds: float = 0.0
    alerts_published: int = 0
    connected: bool = False
    reconnects: int = 0
    queued: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, outcome: Outcome, commit_seconds: float, now_ms: int) -> None:
        """Add one committed batch."""
        with self._lock:
            self.received += outcome.received
            self.stored += outcome.stored
            self.duplicates += outcome.duplicates
            self.rejected.update(outcome.rejected)
            self.flagged.update(outcome.flagged)
            self.batches += 1
            self.commit_seconds_total += commit_seconds
            self.commit_seconds_last = commit_seconds
            if outcome.oldest_ts is not None:
                self.lag_seconds = max(0.0, (now_ms - outcome.oldest_ts) / 1000)

    def snapshot(self) -> dict:
        """A consistent copy of the counters."""
        with self._lock:
            return {
                "received": self.received, "stored": self.stored, "duplicates": self.duplicates,
                "rejected": dict(self.rejected), "flagged": dict(self.flagged), "batches": self.batches,
                "commit_seconds_total": self.commit_seconds_total,
                "commit_seconds_last": self.commit_seconds_last, "lag_seconds": self.lag_seconds,
                "alerts_published": self.alerts_published, "connected": self.connected,
                "reconnects": self.reconnects, "queued": self.queued,
                "uptime_seconds": time.time() - self.started,
            }

    def prometheus(self) -> str:
        """The counters in Prometheus text exposition format."""
        snap = self.snapshot()
        lines = [
            *_metric("energy_ingest_received_total", "counter", "Messages received from the broker.", snap["received"]),
            *_metric("energy_ingest_stored_total", "counter", "Readings stored.", snap["stored"]),
            *_metric("energy_ingest_duplicates_total", "counter", "Readings already stored (no-op).", snap["duplicates"]),
            "# HELP energy_ingest_rejected_total Readings rejected, by reason.",
            "# TYPE energy_ingest_rejected_total counter",
            *(f'energy_ingest_rejected_total{{reason="{reason}"}} {count}' for reason, count in sorted(snap["rejected"].items())),
            "# HELP energy_ingest_flagged_total Register steps flagged for the operator, by kind.",
            "# TYPE energy_ingest_flagged_total counter",
            *(f'energy_ingest_flagged_total{{kind="{kind}"}} {count}' for kind, count in sorted(snap["flagged"].items())),
            *_metric("energy_ingest_batches_total", "counter", "Batches committed.", snap["batches"]),
            *_metric("energy_ingest_commit_seconds_total", "counter", "Time spent storing and committing batches.", snap["commit_seconds_total"]),
            *_metric("energy_ingest_commit_seconds_last", "gauge", "Store-and-commit time of the last batch.", snap["commit_seconds_last"]),
            *_metric("energy_ingest_lag_seconds", "gauge", "Age of the oldest reading of the last batch at commit.", snap["lag_seconds"]),
            *_metric("energy_ingest_alerts_published_total", "counter", "Alerts published on alerts/<id>.", snap["alerts_published"]),
            *_metric("energy_ingest_connected", "gauge", "1 while connected to the broker.", int(snap["connected"])),
            *_metric("energy_ingest_reconnects_total", "counter", "Connections made after the first.", snap["reconnects"]),
            *_metric("energy_ingest_queued", "gauge", "Messages received and not yet committed.", snap["queued"]),
        ]
        return "\n".join(lines) + "\n"

    def summary(self) -> str:
        """One log line."""
        snap = self.snapshot()
        rejected = sum(snap["rejected"].values())
        return (
            f"received {snap['received']}, stored {snap['stored']}, duplicates {snap['duplicates']}, "
            f"rejected {rejected}, batches {snap['batches']}, last commit {snap['commit_seconds_last'] * 1000:.1f} ms, "
            f"lag {snap['lag_seconds']:.1f} s, alerts published {snap['alerts_published']}"
        )


def _metric(name: str, kind: str, help_text: str, value: float) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value}"]
