"""What the customer page shows, read on the server: the customer, its bills and its alerts.

The charts, the live panel and the date/time queries are filled in by the page's JavaScript from
the JSON routes; everything here is in the HTML itself, so it reads without JavaScript too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import formats, scales
from api.charts import series_document
from api.live import live_document
from api.params import BillMonth
from api.queries import bill_document
from core.bills import OPEN, closed_bill_document, closing_day, frozen_bills
from core.config import Settings
from core.documents import alert_document
from core.models import Alert, Customer, MeterState
from core.periods import cycle_of, local_date
from core.rules import DAILY, EXCESS, POWER, PROJECTED_EXCESS, PROJECTED_VARIATION, SILENCE, VARIATION

ALERT_KINDS = {
    EXCESS: "Consumo excessivo",
    VARIATION: "Grande variação da fatura",
    PROJECTED_EXCESS: "Previsão de consumo excessivo",
    PROJECTED_VARIATION: "Previsão de grande variação da fatura",
    DAILY: "Dia de consumo fora do comum",
    POWER: "Potência alta por muito tempo",
    SILENCE: "Medidor sem comunicação",
}
ALERT_STATES = {"aberto": "Aberto", "reconhecido": "Reconhecido", "encerrado": "Encerrado", "resolvido": "Resolvido"}


def customer_page(session: Session, customer: Customer, settings: Settings, now_ms: int) -> dict[str, Any]:
    """Everything the customer page renders on the server."""
    today = local_date(now_ms, settings.zone)
    return {
        "cliente": live_document(session, customer, settings, now_ms),
        "hoje": today.isoformat(),
        "series": {
            scale: series_document(session, customer.id, scales.default_span(scale, today), settings.zone)
            for scale in scales.SCALES
        },
        "aberta": open_bill(session, customer, settings, now_ms),
        "fechadas": [closed_bill_document(bill, settings.zone) for bill in reversed(frozen_bills(session, customer.id))],
        "alertas": [described(alert_document(alert, settings.zone)) for alert in customer_alerts(session, customer.id)],
    }


def open_bill(session: Session, customer: Customer, settings: Settings, now_ms: int) -> dict[str, Any] | None:
    """The bill of the cycle of the latest reading while it is open, with its projection."""
    state = session.get(MeterState, customer.id)
    if state is None or state.last_ts is None:
        return None
    cycle = cycle_of(state.last_ts, closing_day(customer, settings), settings.zone)
    document = bill_document(session, customer.id, BillMonth(cycle.mes, cycle.ano), settings, now_ms)
    return document if document and document["status"] == OPEN else None


def customer_alerts(session: Session, customer_id: int) -> list[Alert]:
    """Every alert of the customer, of every kind, newest first."""
    return list(session.scalars(
        select(Alert).where(Alert.customer_id == customer_id).order_by(Alert.criado_em.desc(), Alert.id.desc())
    ))


def described(alert: dict[str, Any]) -> dict[str, Any]:
    """An alert document with a title, a sentence and a state label in Portuguese."""
    return {
        **alert,
        "titulo": ALERT_KINDS.get(alert["tipo"], alert["tipo"].replace("_", " ").capitalize()),
        "descricao": alert_sentence(alert["tipo"], alert.get("detalhes") or {}),
        "estado_texto": ALERT_STATES.get(alert.get("estado") or "", (alert.get("estado") or "").capitalize()),
        "ciclo": formats.month_name(alert["ano"], alert["mes"]) if alert.get("ano") and alert.get("mes") else None,
    }


def alert_sentence(tipo: str, details: dict[str, Any]) -> str:
    """The figures that raised an alert, as a sentence."""
    try:
        if tipo == EXCESS:
            return (f"O consumo do ciclo chegou a {formats.kwh_text(details['consumo_kwh'])}, "
                    f"acima do limite de {formats.kwh_text(details['limite_kwh'])} "
                    f"(média das faturas anteriores, {formats.kwh_text(details['media_anterior_kwh'])}, "
                    f"mais {formats.kwh_text(details['margem_kwh'])}).")
        if tipo == VARIATION:
            difference = details["diferenca_kwh"]
            direction = "a mais" if difference >= 0 else "a menos"
            return (f"A fatura fechou com {formats.kwh_text(details['consumo_kwh'])}, "
                    f"{formats.kwh_text(abs(difference))} {direction} que a anterior "
                    f"({formats.kwh_text(details['consumo_anterior_kwh'])}).")
        return _warning_sentence(tipo, details)
    except (KeyError, TypeError, ValueError, ArithmeticError):
        pass  # a kind's figures changed shape: fall back to listing them
    return "; ".join(f"{key.replace('_', ' ')}: {value}" for key, value in details.items())


def _warning_sentence(tipo: str, details: dict[str, Any]) -> str:
    """The sentence of an early warning or of a silent meter (issue 4's kinds)."""
    kwh = formats.kwh_text
    if tipo == PROJECTED_EXCESS:
        return (f"No ritmo atual, o ciclo deve fechar com {kwh(details['projecao_kwh'])}, acima do limite de "
                f"{kwh(details['limite_kwh'])} ({kwh(details['consumo_kwh'])} em "
                f"{formats.number(details['dias_decorridos'])} dias).")
    if tipo == PROJECTED_VARIATION:
        return (f"No ritmo atual, a fatura deve fechar com {kwh(details['projecao_kwh'])}, além do limite de "
                f"{kwh(details['limite_kwh'])} (a anterior teve {kwh(details['consumo_anterior_kwh'])}).")
    if tipo == DAILY:
        return (f"Em {formats.day(details['dia'])}, o consumo chegou a {kwh(details['consumo_kwh'])}, mais que "
                f"{formats.number(details['fator'])} vezes a mediana dos dias anteriores "
                f"({kwh(details['mediana_kwh'])}).")
    if tipo == POWER:
        return (f"Desde {formats.when(details['inicio'])}, a potência ficou acima de "
                f"{formats.number(details['limite_kw'])} kW por mais de {details['minutos']} "
                f"minutos (média de {formats.number(details['potencia_media_kw'])} kW): "
                f"um chuveiro ou aquecedor pode ter ficado ligado.")
    if tipo == SILENCE:
        return (f"Nenhuma leitura chega há {formats.number(details['silencio_minutos'])} minutos; "
                f"a última foi de {formats.when(details['ultima_leitura'])}.")
    raise KeyError(tipo)
