"""An alert's life after it is raised: acknowledged by the customer, cleared when its cause ends.

Each change of state is published again on `alerts/<id>` (the row goes back to the outbox), so
whoever watches the topic sees the alert open, then acknowledged or cleared, under the same
`alerta_id`. Functions run inside the caller's transaction and never commit.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Alert
from core.rules import ACKNOWLEDGED, CLEARED

log = logging.getLogger(__name__)


def find_alert(session: Session, customer_id: int, alert_id: int) -> Alert | None:
    """One of this customer's alerts, locked for an update; None when it is not the customer's."""
    return session.scalars(
        select(Alert).where(Alert.id == alert_id, Alert.customer_id == customer_id).with_for_update()
    ).first()


def acknowledge(alert: Alert, now_ms: int) -> Alert:
    """The customer has seen it: `reconhecido`. Idempotent; a cleared alert stays cleared."""
    if alert.acknowledged_at is None:
        alert.acknowledged_at = now_ms
        if alert.state != CLEARED:
            alert.state = ACKNOWLEDGED
        alert.published_at, alert.claimed_until = None, None
        log.info("customer %s acknowledged alert %s (%s)", alert.customer_id, alert.id, alert.tipo)
    return alert


def clear(session: Session, customer_id: int, tipo: str, now_ms: int, low_cause: str | None = None,
          high_cause: str | None = None, extra: dict[str, Any] | None = None) -> int:
    """Clear the customer's alerts of a kind that are not cleared yet (causes within the bounds given).

    `extra` figures (the end of an episode, for instance) are added to each alert's `detalhes`.
    Returns how many were cleared.
    """
    query = select(Alert).where(Alert.customer_id == customer_id, Alert.tipo == tipo, Alert.state != CLEARED)
    if low_cause is not None:
        query = query.where(Alert.cause >= low_cause)
    if high_cause is not None:
        query = query.where(Alert.cause <= high_cause)
    alerts = list(session.scalars(query))
    for alert in alerts:
        alert.state, alert.cleared_at = CLEARED, now_ms
        alert.detalhes = {**alert.detalhes, **(extra or {})}  # a new dict, so the change is saved
        alert.published_at, alert.claimed_until = None, None
        log.info("cleared alert %s (%s) of customer %s", alert.id, tipo, customer_id)
    return len(alerts)
