"""Raising alerts inside the caller's transaction, and the rules judged on billing cycles: the
two of SPEC §6 and the early warning on the open cycle's projection.

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
from core.alert_settings import thresholds
from core.alert_watch import watch_for
from core.bills import CycleBill
from core.config import AlertConfig, Settings
from core.db import insert_ignore
from core.models import Alert, Bill, Customer, MeterState
from core.money import kwh, kwh_from_wh
from core.periods import MS_PER_DAY, Cycle, iso
from core.series import Series

log = logging.getLogger(__name__)

AFTER_ALL_MS = 2**62  # an instant after every reading


def closed_cycle(
    session: Session, series: Series, customer: Customer, computed: CycleBill,
    bills: list[Bill], settings: Settings, now_ms: int,
) -> None:
    """The rules due when a cycle closes: its excess (if never raised) and its variation."""
    check_excess(session, series, customer, computed, bills, settings, now_ms)
    check_variation(session, series, customer, computed, bills, settings, now_ms)


def open_cycle(
    session: Session, series: Series, customer: Customer, state: MeterState, computed: CycleBill,
    bills: list[Bill], settings: Settings, now_ms: int,
) -> str | None:
    """Check the open cycle and arm its projection; return the adjusted register (Wh) at which
    its excess fires, if armed."""
    excess_at = check_excess(session, series, customer, computed, bills, settings, now_ms)
    check_projection(session, customer, state, computed, bills, settings, now_ms)
    return excess_at


def check_excess(
    session: Session, series: Series, customer: Customer, computed: CycleBill,
    bills: list[Bill], settings: Settings, now_ms: int,
) -> str | None:
    """Raise `excesso` if the cycle reached its threshold; else return the register that will."""
    config = thresholds(customer, settings)
    margin = config.excess_kwh
    threshold = excess_threshold(bills, computed.cycle, margin)
    if rules.EXCESS in config.disabled or threshold is None or raised(session, customer.id, rules.EXCESS, computed.cycle.label()):
        return None
    target = computed.start_register + threshold * 1000
    crossing = series.first_reaching(computed.start, computed.end, target)
    if crossing is None and computed.priced is not None and computed.end_register >= target:
        # A closed cycle that passed its threshold while no reading of it was stored (the meter
        # was silent, or its readings were still on their way through another worker): the first
        # reading after the cycle's end shows it. The consumption stays the cycle's own.
        crossing = series.first_reaching(computed.end, AFTER_ALL_MS, target)
    if crossing is None:
        return str(target)
    reached = min(series.adjusted(crossing.ts, crossing.wh), computed.end_register)
    consumption = kwh_from_wh(reached - computed.start_register)
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
    config = thresholds(customer, settings)
    previous = _bill_before(bills, computed.cycle)
    if previous is None or rules.VARIATION in config.disabled:
        return
    margin = config.variation_kwh
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


def check_projection(
    session: Session, customer: Customer, state: MeterState, computed: CycleBill,
    bills: list[Bill], settings: Settings, now_ms: int,
) -> None:
    """Raise the projection warnings the open cycle has reached; arm the watch for the others.

    The projection is the one the open bill shows (consumption so far at the same pace to the
    cycle's end), judged at the latest reading once `projection_after_days` of the cycle (or of
    the customer's first reading in it) have passed. Each kind is raised once per cycle, and the
    excess one not at all once the cycle's `excesso` itself was raised.
    """
    config = thresholds(customer, settings)
    watch = watch_for(session, customer.id)
    since = max(computed.start, state.first_ts)
    after = since + int(config.projection_after_days * MS_PER_DAY)
    consumed = computed.end_register - computed.start_register
    elapsed, span = state.last_ts - since, computed.end - since
    pending = []
    for tipo, target_kwh, figures in _projection_targets(session, customer, computed, bills, config):
        if state.last_ts >= after and rules.projection_reaches(consumed, elapsed, span, target_kwh * 1000):
            projected = kwh_from_wh(consumed * span / elapsed)
            raise_alert(session, customer.id, tipo, computed.cycle.label(), computed.cycle, now_ms, {
                "projecao": True,
                "projecao_kwh": float(projected),
                "limite_kwh": float(kwh(target_kwh)),
                **figures,
                "consumo_kwh": float(kwh_from_wh(consumed)),
                "dias_decorridos": float(round(Decimal(elapsed) / MS_PER_DAY, 2)),
                "dias_do_ciclo": float(round(Decimal(span) / MS_PER_DAY, 2)),
                "leitura": iso(state.last_ts, settings.zone),
                "leitura_kwh": float(kwh_from_wh(state.last_wh)),
            })
        else:
            pending.append(target_kwh * 1000)
    watch.proj_since, watch.proj_end, watch.proj_after = since, computed.end, after
    watch.proj_start_wh = str(computed.start_register)
    watch.proj_target_wh = str(min(pending)) if pending else None


def _projection_targets(
    session: Session, customer: Customer, computed: CycleBill, bills: list[Bill], config: AlertConfig,
) -> list[tuple[str, Decimal, dict[str, float]]]:
    """The projection warnings still to raise this cycle, with their thresholds (kWh)."""
    label = computed.cycle.label()
    targets = []
    threshold = excess_threshold(bills, computed.cycle, config.excess_kwh)
    if (threshold is not None and rules.PROJECTED_EXCESS not in config.disabled
            and not raised(session, customer.id, rules.EXCESS, label)
            and not raised(session, customer.id, rules.PROJECTED_EXCESS, label)):
        targets.append((rules.PROJECTED_EXCESS, threshold, {
            "media_anterior_kwh": float(kwh(threshold - config.excess_kwh)),
            "margem_kwh": float(config.excess_kwh),
        }))
    previous = _bill_before(bills, computed.cycle)
    if (previous is not None and rules.PROJECTED_VARIATION not in config.disabled
            and not raised(session, customer.id, rules.PROJECTED_VARIATION, label)):
        previous_kwh = Decimal(previous.consumo_kwh)
        targets.append((rules.PROJECTED_VARIATION, previous_kwh + config.variation_kwh, {
            "consumo_anterior_kwh": float(previous_kwh),
            "margem_kwh": float(config.variation_kwh),
        }))
    return targets


def _bill_before(bills: list[Bill], cycle: Cycle) -> Bill | None:
    """The closed bill of the cycle just before `cycle`."""
    before = cycle.previous()
    return next((bill for bill in bills if (bill.ano, bill.mes) == before), None)


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
