"""Closing cycles for one customer inside the caller's transaction; the alert rules are `core.alerting`'s.

The ingest worker settles a customer when a reading crosses the open cycle's end or the excess
threshold; the API settles at registration, so readings stored before it are billed at once.
Bills and alerts are written with insert-or-ignore on their unique keys, so two processes that
settle the same customer at once leave one bill per cycle and one alert per cause.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from core import alerting
from core.bills import bill_cycles, closing_day, compute, freeze, frozen_bills, previous_bill
from core.config import Settings
from core.db import insert_ignore
from core.models import Bill, Customer, MeterState
from core.periods import cycles_between
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
        alerting.closed_cycle(session, series, customer, computed, bills, settings, now_ms)
        bills = frozen_bills(session, customer.id)
        log.info("closed bill %s of customer %s: %s kWh", cycle.label(), customer.id, computed.priced.consumo_kwh)
    open_cycle = compute(series, current, customer, settings, previous_bill(bills, current), priced=False)
    state.cycle_end = open_cycle.end
    state.excess_at = alerting.open_cycle(session, series, customer, state, open_cycle, bills, settings, now_ms)


def _bill_row(bill: Bill) -> dict:
    return {column.name: getattr(bill, column.name) for column in Bill.__table__.columns if column.name != "id"}
