"""`silencio`, for operators: a registered meter that has sent nothing for longer than a limit.

Silence is measured on the worker's clock from the last batch that held a reading of the meter
(not from the readings' own timestamps, which a replayed history keeps old), and only over time
when a worker was listening: a worker that has just started cannot tell a dead meter from one
whose readings wait in the broker's queue. The worker looks periodically, whether or not readings
arrive; the alert is cleared (`encerrado`) by the first batch that holds a reading of the meter.
Its cause is the instant of that last batch, so each silence is one alert.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import rules
from core.alert_settings import thresholds
from core.alert_states import clear
from core.alerting import raise_alert
from core.bills import closing_day
from core.config import Settings
from core.models import AlertWatch, Customer, MeterState
from core.money import kwh_from_wh
from core.periods import cycle_of, iso

CUSTOMER_FLOOR_MS = rules.MINUTE_MS  # a customer's own limit is a whole number of minutes


def raise_silent(session: Session, settings: Settings, now_ms: int, listening_since: int) -> int:
    """Raise `silencio` for every meter silent past its limit; returns how many were raised."""
    floor = min(_limit_ms(settings.alerts.silence_minutes), CUSTOMER_FLOOR_MS)
    rows = session.execute(
        select(AlertWatch, Customer, MeterState)
        .join(Customer, Customer.id == AlertWatch.meter_id)
        .join(MeterState, MeterState.meter_id == AlertWatch.meter_id)
        .where(AlertWatch.silent.is_(False), AlertWatch.received_at < now_ms - floor,
               MeterState.registered.is_(True), MeterState.last_ts.is_not(None))
        .with_for_update(of=AlertWatch, skip_locked=True)  # a row a batch holds is a meter reporting
    ).all()
    raised = 0
    for watch, customer, state in rows:
        config = thresholds(customer, settings)
        limit = _limit_ms(config.silence_minutes)
        if rules.SILENCE in config.disabled or not rules.is_silent(watch.received_at, listening_since, now_ms, limit):
            continue
        cycle = cycle_of(state.last_ts, closing_day(customer, settings), settings.zone)
        raise_alert(session, customer.id, rules.SILENCE, str(watch.received_at), cycle, now_ms, {
            "ultimo_recebimento": iso(watch.received_at, settings.zone),
            "ultima_leitura": iso(state.last_ts, settings.zone),
            "silencio_minutos": float(round((now_ms - watch.received_at) / rules.MINUTE_MS, 1)),
            "limite_minutos": float(config.silence_minutes),
            "leitura": iso(state.last_ts, settings.zone),
            "leitura_kwh": float(kwh_from_wh(state.last_wh)),
        })
        watch.silent = True
        raised += 1
    return raised


def clear_silence(session: Session, watch: AlertWatch, settings: Settings, now_ms: int) -> None:
    """The meter reported again: clear its open silence alert."""
    clear(session, watch.meter_id, rules.SILENCE, now_ms, extra={"voltou_em": iso(now_ms, settings.zone)})
    watch.silent = False


def _limit_ms(minutes) -> int:
    return int(minutes * rules.MINUTE_MS)
