"""What the operator page shows: every customer with its meter's state, open alerts, bad readings.

Rejected readings are read from the rejected store here; when the admin JSON route for them
exists (`GET /admin/leituras/rejeitadas`), `rejected_readings` is the one function to point at
its query instead.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.dashboard import described
from api.live import reporting
from core.config import Settings
from core.documents import alert_document
from core import quality, wire
from core.models import Alert, Customer, MeterState, ReadingFlag, RejectedReading
from core.money import kwh_from_wh
from core.periods import iso

LISTED = 50  # rejected and flagged readings shown, newest first
OPEN = "aberto"
REASONS = {
    wire.MALFORMED: "Mensagem malformada",
    wire.UNKNOWN_VERSION: "Versão desconhecida",
    wire.BAD_TOPIC: "Tópico inválido",
    wire.ID_MISMATCH: "Id diferente do tópico",
    wire.REGISTER_OVERFLOW: "Registrador fora da faixa",
    quality.FUTURE: "Horário no futuro",
    quality.TOO_OLD: "Horário antes de 2000",
    quality.CONFLICT: "Conflito com leitura guardada",
}
FLAGS = {
    quality.JUMP: "Salto (potência acima do limite)",
    quality.RESET: "Registrador zerado",
    quality.REPLACEMENT: "Medidor substituído",
}


def operator_page(session: Session, settings: Settings, now_ms: int) -> dict[str, Any]:
    """Everything the operator page renders."""
    return {
        "clientes": customers(session, settings, now_ms),
        "alertas": open_alerts(session, settings),
        "rejeitadas": rejected_readings(session, settings, LISTED),
        "total_rejeitadas": session.scalar(select(func.count()).select_from(RejectedReading)) or 0,
        "sinalizadas": flagged_readings(session, settings, LISTED),
    }


def customers(session: Session, settings: Settings, now_ms: int) -> list[dict[str, Any]]:
    """Every customer with its latest reading, the meter's state and how many alerts are open."""
    open_counts = dict(session.execute(
        select(Alert.customer_id, func.count()).where(Alert.state == OPEN).group_by(Alert.customer_id)
    ).all())
    rows = session.execute(
        select(Customer, MeterState).join(MeterState, MeterState.meter_id == Customer.id, isouter=True).order_by(Customer.id)
    ).all()
    return [
        {
            "id": customer.id,
            "nome": customer.nome,
            "endereco": customer.endereco,
            "ultima_leitura": iso(state.last_ts, settings.zone) if state and state.last_ts is not None else None,
            "leitura_atual_kwh": kwh_from_wh(state.last_wh) if state and state.last_wh is not None else None,
            "estado": reporting(state, now_ms),
            "alertas_abertos": open_counts.get(customer.id, 0),
        }
        for customer, state in rows
    ]


def open_alerts(session: Session, settings: Settings) -> list[dict[str, Any]]:
    """Every open alert of every customer, newest first."""
    alerts = session.scalars(select(Alert).where(Alert.state == OPEN).order_by(Alert.criado_em.desc(), Alert.id.desc()))
    return [described(alert_document(alert, settings.zone)) for alert in alerts]


def rejected_readings(session: Session, settings: Settings, limit: int) -> list[dict[str, Any]]:
    """The latest readings the worker refused, with why."""
    rows = session.scalars(select(RejectedReading).order_by(RejectedReading.received_at.desc(), RejectedReading.id.desc()).limit(limit))
    return [
        {
            "recebida_em": iso(row.received_at, settings.zone),
            "topico": row.topic,
            "medidor": row.meter_id,
            "motivo": REASONS.get(row.reason, row.reason),
            "detalhe": row.detail,
        }
        for row in rows
    ]


def flagged_readings(session: Session, settings: Settings, limit: int) -> list[dict[str, Any]]:
    """The latest steps flagged for the operator (register drops, implausible power)."""
    rows = session.scalars(select(ReadingFlag).order_by(ReadingFlag.flagged_at.desc()).limit(limit))
    return [
        {
            "medidor": row.meter_id,
            "leitura": iso(row.ts, settings.zone),
            "tipo": FLAGS.get(row.kind, row.kind),
            "de_kwh": kwh_from_wh(row.prev_wh),
            "para_kwh": kwh_from_wh(row.wh),
            "potencia_w": row.power_w,
        }
        for row in rows
    ]
