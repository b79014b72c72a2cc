"""JSON documents shared by the API and the alert publisher."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from core.models import Alert
from core.periods import iso
from core.rules import AUDIENCE


def alert_document(alert: Alert, zone: ZoneInfo) -> dict[str, Any]:
    """An alert as the API lists it and as it is published on `alerts/<id>` (SPEC §5-6)."""
    return {
        "alerta_id": alert.id,
        "id": alert.customer_id,
        "tipo": alert.tipo,
        "ano": alert.ano,
        "mes": alert.mes,
        "criado_em": iso(alert.criado_em, zone),
        "detalhes": alert.detalhes,
        "severidade": alert.severity,
        "estado": alert.state,
        "publico": AUDIENCE.get(alert.tipo, "cliente"),
        "reconhecido_em": _iso_or_none(alert.acknowledged_at, zone),
        "encerrado_em": _iso_or_none(alert.cleared_at, zone),
    }


def _iso_or_none(ts_ms: int | None, zone: ZoneInfo) -> str | None:
    return None if ts_ms is None else iso(ts_ms, zone)
