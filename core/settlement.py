"""Closing cycles and raising the SPEC §6 alerts for one customer, inside the caller's transaction.

The ingest worker settles a customer when a reading crosses the open cycle's end or the excess
threshold; the API settles at registration, so readings stored before it are billed at once.
Bills and alerts are written with insert-or-ignore on their unique keys, so two processes that
settle the same customer at once leave one bill per cycle and one alert per cause.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import rules
from core.bills import CycleBill, bill_cycles, closing_day, compute, freeze, frozen_bills, previous_bill
from core.config import Settings
from core.db import insert_ignore
from core.models import Alert, Bill, Customer, MeterState
from core.money import kwh, kwh_from_wh
from core.periods import Cycle, cycles_between, iso
from core.series import Series

log = logging.getLogger(__name__)


def settle(session: Session, customer: Customer, state: MeterState, settings: Settings, now_ms: int) -> None:
    """Freeze every closed cycle not yet frozen, raise due alerts, arm the open cycle's checks."""
    if state.last_ts is None or state.first_ts is None:
        state.cycle_end, state.excess_at = None, None
        return
    day = closing_day(customer, settings)
    series = Series(session, state.meter_id)
    bills = frozen_bills(session, customer.id)
    done = {(bill.ano, bill.mes) for bill in bills}
    first, current = bill_cycles(state, day, settings.zone, bills)
    for cycle in cycles_between(first, current.previous()):
        if (cycle.ano, cycle.mes) in done:
            continue
        computed = compute(series, cycle, customer, settings, previous_bill(bills, cycle))
        insert_ignore(session, Bill.__table__, [_bill_row(freeze(computed, customer, now_ms))])
        _check_excess(session, series, customer, computed, bills, settings, now_ms)
        _check_variation(session, series, customer, computed, bills, settings, now_ms)
        bills = frozen_bills(session, customer.id)
        log.info("closed bill %s of customer %s: %s kWh", cycle.label(), customer.id, computed.priced.consumo_kwh)
    open_cycle = compute(series, current, customer, settings, previous_bill(bills, current), priced=False)
    state.cycle_end = open_cycle.end
    state.excess_at = _check_excess(session, series, customer, open_cycle, bills, settings, now_ms)


def _check_excess(
    session: Session,
    series: Series,
    customer: Customer,
    computed: CycleBill,
    bills: list[Bill],
    settings: Settings,
    now_ms: int,
) -> str | None:
    """Raise `excesso` if the cycle reached its threshold; else return the register that will."""
    earlier = [Decimal(bill.consumo_kwh) for bill in bills if (bill.ano, bill.mes) < computed.cycle]
    threshold = rules.excess_threshold(earlier, settings.alerts.excess_kwh)
    if threshold is None or _raised(session, customer.id, rules.EXCESS, computed.cycle):
        return None
    target = computed.start_register + threshold * 1000
    crossing = series.first_reaching(computed.start, computed.end, target)
    if crossing is None:
        return str(target)
    consumption = kwh_from_wh(series.adjusted(crossing.ts, crossing.wh) - computed.start_register)
    _raise(session, customer, rules.EXCESS, computed.cycle, now_ms, {
        "consumo_kwh": float(consumption),
        "limite_kwh": float(kwh(threshold)),
        "media_anterior_kwh": float(kwh(threshold - settings.alerts.excess_kwh)),
        "margem_kwh": float(settings.alerts.excess_kwh),
        "leitura": iso(crossing.ts, settings.zone),
        "leitura_kwh": float(kwh_from_wh(crossing.wh)),
    })
    return None


def _check_variation(
    session: Session,
    series: Series,
    customer: Customer,
    computed: CycleBill,
    bills: list[Bill],
    settings: Settings,
    now_ms: int,
) -> None:
    """Raise `variacao` when this closed bill differs enough from the cycle just before it."""
    before = computed.cycle.previous()
    previous = next((bill for bill in bills if (bill.ano, bill.mes) == before), None)
    if previous is None:
        return
    current_kwh, previous_kwh = computed.priced.consumo_kwh, Decimal(previous.consumo_kwh)
    if not rules.is_variation(current_kwh, previous_kwh, settings.alerts.variation_kwh):
        return
    closing = series.first_at_or_after(computed.end)
    _raise(session, customer, rules.VARIATION, computed.cycle, now_ms, {
        "consumo_kwh": float(current_kwh),
        "consumo_anterior_kwh": float(previous_kwh),
        "diferenca_kwh": float(kwh(current_kwh - previous_kwh)),
        "limite_kwh": float(settings.alerts.variation_kwh),
        "leitura": iso(closing.ts, settings.zone) if closing else None,
    })


def _raised(session: Session, customer_id: int, tipo: str, cycle: Cycle) -> bool:
    return session.scalar(
        select(Alert.id).where(Alert.customer_id == customer_id, Alert.tipo == tipo, Alert.cause == cycle.label())
    ) is not None


def _raise(session: Session, customer: Customer, tipo: str, cycle: Cycle, now_ms: int, detalhes: dict) -> None:
    """Record an alert once; the worker's outbox publishes it on `alerts/<id>`."""
    insert_ignore(session, Alert.__table__, [{
        "customer_id": customer.id,
        "tipo": tipo,
        "cause": cycle.label(),
        "ano": cycle.ano,
        "mes": cycle.mes,
        "severity": "alerta",
        "state": "aberto",
        "criado_em": now_ms,
        "detalhes": detalhes,
    }])
    log.info("raised %s for customer %s, cycle %s", tipo, customer.id, cycle.label())


def _bill_row(bill: Bill) -> dict:
    return {column.name: getattr(bill, column.name) for column in Bill.__table__.columns if column.name != "id"}
