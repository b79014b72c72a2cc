"""The live figures of a customer: register, accumulated total and power now (`GET /usuario/agora/`).

The page polls this every few seconds rather than holding a server-sent-events stream: the API
runs on gunicorn's gthread workers, where a stream ties up one of a process's few threads per
open page for as long as it stays open, while a poll holds one for a few milliseconds. Meters
report every 5 s, so a poll every 5 s shows each new reading as soon as a stream would, to
within one interval.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session

from api import access, db, params, queries
from core.config import Settings
from core.models import Customer, MeterState
from core.periods import iso, now_ms
from core.series import Series

bp = Blueprint("live", __name__)

SILENT_AFTER_MS = 120_000  # a meter that sends every 5 s and has said nothing for 2 min is silent
POWER_WINDOW_MS = 60_000  # power is the mean of the last minute: 1 Wh steps over 5 s are 720 W apart
MS_PER_HOUR = 3_600_000
POLL_EVERY_S = 5




def reporting(state: MeterState | None, at_ms: int) -> str:
    """`transmitindo`, `silencioso` (nothing for SILENT_AFTER_MS) or `sem_leituras`."""
    if state is None or state.last_ts is None:
        return "sem_leituras"
    return "transmitindo" if at_ms - state.last_ts <= SILENT_AFTER_MS else "silencioso"


def power_w(series: Series, state: MeterState | None) -> int | None:
    """Mean power over the minute before the latest reading, in W; None with under two instants."""
    if state is None or state.first_ts is None or state.last_ts is None:
        return None
    start = max(state.first_ts, state.last_ts - POWER_WINDOW_MS)
    if start >= state.last_ts:
        return None
    energy = series.consumption_wh(start, state.last_ts)
    watts = energy * MS_PER_HOUR / (state.last_ts - start)
    return int(watts.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def live_document(session: Session, customer: Customer, settings: Settings, at_ms: int) -> dict[str, Any]:
    """The customer's document with power now, the meter's state and the server's time."""
    state = session.get(MeterState, customer.id)
    document = queries.customer_document(session, customer, settings)
    return {
        **document,
        "potencia_w": power_w(Series(session, customer.id), state),
        "estado": reporting(state, at_ms),
        "agora": iso(at_ms, settings.zone),
        "atualizar_em_s": POLL_EVERY_S,
    }


@bp.get("/usuario/agora/", strict_slashes=False)
def agora() -> Response:
    """Register, accumulated total and power now, for the page's live panel."""
    who = access.principal()
    customer = access.readable_customer(who, params.customer_id(request.args))
    return jsonify(live_document(db.session(), customer, db.context().settings, now_ms()))
