"""Raising alerts inside the caller's transaction, and the two SPEC §6 rules on billing cycles.

Every alert is written with insert-or-ignore on its unique key (customer, kind, cause), so a
rule evaluated twice (a redelivered reading, two workers, a late reading that makes settlement
run again) leaves one alert per cause. The worker's outbox publishes new rows on `alerts/<id>`.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import rules
from core.bills import CycleBill
from core.config import Settings
from core.db import insert_ignore
from core.models import Alert, Bill, Customer
from core.money import kwh, kwh_from_wh
from core.periods import Cycle, iso
from core.series import Series

log = logging.getLogger(__name__)


def closed_cycle(
    session: Session, series: Series, customer: Customer, computed: CycleBill,
    bills: list[Bill], settings: Settings, now_ms: int,
) -> None:
    """The rules due when a cycle closes: its excess (if never raised) and its variation."""
    check_excess(session, series, customer, computed, bills, settings, now_ms)
    check_variation(session, series, customer, computed, bills, settings, now_ms)


def open_cycle(
    session: Session, series: Series, customer: Customer, computed: CycleBill,
    bills: list[Bill], settings: Settings, now_ms: int,
) -> str | None:
    """Check the open cycle; return the adjusted register (Wh) at which its excess fires, if armed."""
    return check_excess(session, series, customer, computed, bills, settings, now_ms)


def check_excess(
    session: Session, series: Series, customer: Customer, computed: CycleBill,
    bills: list[Bill], settings: Settings, now_ms: int,
) -> str | None:
    """Raise `excesso` if the cycle reached its threshold; else return the register that will."""
    margin = settings.alerts.excess_kwh
    threshold = excess_threshold(bills, computed.cycle, margin)
    if threshold is None or raised(session, customer.id, rules.EXCESS, computed.cycle.label()):
        return None
    target = computed.start_register + threshold * 1000
    crossing = series.first_reaching(computed.start, computed.end, target)
    if crossing is None:
        return str(target)
    consumption = kwh_from_wh(series.adjusted(crossing.ts, crossing.wh) - computed.start_register)
    raise_alert(session, customer.id, rules.EXCESS, computed.cycle.label(), computed.cycle, now_ms, {
        "consumo_kwh": float(consumption),
        "limite_kwh": float(kwh(threshold)),
        "media_anterior_kwh": float(kwh(threshold - margin)),
        "margem_kwh": float(margin),
        "leitura": iso(crossing.ts, settings.zone),
        "leitura_kwh": float(kwh_from_wh(crossing.wh)),
    })
    return None


def excess_threshold(bills: list[Bill], cycle: Cycle, margin_kwh: Decimal) -> Decimal | None:
    """The `excesso` threshold of a cycle from the closed bills before it (None without any)."""
    earlier = [Decimal(bill.consumo_kwh) for bill in bills if (bill.ano, bill.mes) < cycle]
    return rules.excess_threshold(earlier, margin_kwh)


def check_variation(
    session: Session, series: Series, customer: Customer, computed: CycleBill,
    bills: list[Bill], settings: Settings, now_ms: int,
) -> None:
    """Raise `variacao` when this closed bill differs enough from the cycle just before it."""
    before = computed.cycle.previous()
    previous = next((bill for bill in bills if (bill.ano, bill.mes) == before), None)
    if previous is None:
        return
    margin = settings.alerts.variation_kwh
    current_kwh, previous_kwh = computed.priced.consumo_kwh, Decimal(previous.consumo_kwh)
    if not rules.is_variation(current_kwh, previous_kwh, margin):
        return
    closing = series.first_at_or_after(computed.end)
    raise_alert(session, customer.id, rules.VARIATION, computed.cycle.label(), computed.cycle, now_ms, {
        "consumo_kwh": float(current_kwh),
        "consumo_anterior_kwh": float(previous_kwh),
        "diferenca_kwh": float(kwh(current_kwh - previous_kwh)),
        "limite_kwh": float(margin),
        "leitura": iso(closing.ts, settings.zone) if closing else None,
    })


def raised(session: Session, customer_id: int, tipo: str, cause: str) -> bool:
    """Whether this customer already has an alert of this kind for this cause."""
    return session.scalar(
        select(Alert.id).where(Alert.customer_id == customer_id, Alert.tipo == tipo, Alert.cause == cause)
    ) is not None


def raise_alert(
    session: Session, customer_id: int, tipo: str, cause: str, cycle: Cycle | None,
    now_ms: int, detalhes: dict[str, Any],
) -> None:
    """Record an alert once per cause; the worker's outbox publishes it on `alerts/<id>`."""
    insert_ignore(session, Alert.__table__, [{
        "customer_id": customer_id,
        "tipo": tipo,
        "cause": cause,
        "ano": cycle.ano if cycle else None,
        "mes": cycle.mes if cycle else None,
        "severity": rules.SEVERITY.get(tipo, "aviso"),
        "state": rules.OPEN,
        "criado_em": now_ms,
        "detalhes": detalhes,
    }])
    log.info("raised %s for customer %s (%s)", tipo, customer_id, cause)
