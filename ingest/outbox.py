"""Publishing alerts on `alerts/<id>` from the alerts table (a transactional outbox).

An alert is written in the same transaction as the bill or reading that raised it; publishing
happens afterwards, so a crash can never lose it: a publisher leases a row, publishes at QoS 1,
and marks it published when the broker acknowledges. A lease that expires (the publisher died)
lets the row be published again, so delivery is at least once.

A change of state (acknowledged, cleared) puts the row back in the outbox and drops its lease;
the acknowledgement of a publish made before the change then no longer matches the lease, so
the new state is published too instead of being marked as already sent.
"""

from __future__ import annotations

import json
import logging
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.documents import alert_document
from core.models import Alert
from core.wire import alert_topic

log = logging.getLogger(__name__)

LEASE_MS = 30_000
CLAIM_LIMIT = 200

Publish = Callable[[str, bytes], int | None]  # (topic, payload) -> message id, None when offline


def claim_due(session: Session, now_ms: int) -> list[Alert]:
    """Lease the alerts that are unpublished and not leased by a live publisher."""
    due = list(session.scalars(
        select(Alert)
        .where(Alert.published_at.is_(None))
        .where((Alert.claimed_until.is_(None)) | (Alert.claimed_until < now_ms))
        .order_by(Alert.id)
        .limit(CLAIM_LIMIT)
        .with_for_update(skip_locked=True)
    ))
    for alert in due:
        alert.claimed_until = now_ms + LEASE_MS
    return due


Lease = tuple[int, int]  # (alert id, the lease's `claimed_until`)


def publish_claimed(alerts: list[Alert], zone: ZoneInfo, publish: Publish) -> dict[int, Lease]:
    """Publish leased alerts; return `{message id: lease}` for the ones handed to the client."""
    pending = {}
    for alert in alerts:
        payload = json.dumps(alert_document(alert, zone), ensure_ascii=False).encode()
        mid = publish(alert_topic(alert.customer_id), payload)
        if mid is None:
            break  # offline: the leases expire and the rows are taken again
        pending[mid] = (alert.id, alert.claimed_until)
    return pending


def mark_published(session: Session, leases: list[Lease], now_ms: int) -> None:
    """Record that the broker acknowledged these alerts, unless they changed since."""
    for alert_id, lease in leases:
        session.execute(
            update(Alert).where(Alert.id == alert_id, Alert.claimed_until == lease).values(published_at=now_ms)
        )
