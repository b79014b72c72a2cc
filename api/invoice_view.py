"""What the invoice page shows, from a bill's JSON document, written the Brazilian way. Pure."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from api.formats import brl, day, kwh_number, when
from api.invoice_formats import number, percent, reference
from core.config import Settings
from core.models import Customer

CONNECTIONS = {"monofasico": "Monofásica", "bifasico": "Bifásica", "trifasico": "Trifásica"}
TAXES = (("icms", "ICMS"), ("pis", "PIS/PASEP"), ("cofins", "COFINS"))


def invoice_view(customer: Customer, document: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The invoice's figures as text, ready for the template."""
    details_before = document.get("leitura_anterior") or {}
    details_now = document.get("leitura_atual") or {}
    adjustment = Decimal(str(document.get("ajuste_kwh") or 0))
    is_open = document["status"] == "aberta"
    return {
        "referencia": reference(document["ano"], document["mes"]),
        "aberta": is_open,
        "vencimento": day(document["vencimento"]) if document.get("vencimento") else "—",
        "total": brl(document["valor"]),
        "cliente": {"id": customer.id, "nome": customer.nome, "endereco": customer.endereco},
        "ligacao": CONNECTIONS.get(document.get("ligacao") or "", "—"),
        "plano": (document.get("tarifa") or {}).get("plano", "—"),
        "tarifa_social": bool(document.get("tarifa_social")),
        "periodo": f"{day(document['inicio'])} a {_last_day(document['fim']):%d/%m/%Y}",
        "dias": (_date(document["fim"]) - _date(document["inicio"])).days,
        "leitura_anterior": _reading(details_before, document["inicio"], document["leitura_anterior_kwh"]),
        "leitura_atual": _reading(details_now, document["fim"], document["leitura_atual_kwh"], with_time=is_open),
        "consumo": kwh_number(document["consumo_kwh"]),
        "ajuste": kwh_number(adjustment) if adjustment else None,
        "faturado": kwh_number(document["consumo_faturado_kwh"]),
        "itens": [_item(item) for item in document["itens"]],
        "tributos": _taxes(document.get("tributos")),
        "projecao": ({"kwh": kwh_number(document["projecao_kwh"]), "valor": brl(document["projecao_valor"])}
                     if is_open else None),
        "revisao": bool(document.get("revisao")),
        "fechada_em": when(document["fechada_em"]) if document.get("fechada_em") else None,
        "fuso": settings.timezone,
    }


def _reading(details: dict[str, Any], instant: str, register: Any, with_time: bool = False) -> dict[str, str]:
    """A meter reading: its date (and time, while the bill is open) and the register."""
    moment = details.get("em") or instant
    return {"data": when(moment) if with_time else day(moment), "kwh": kwh_number(details.get("kwh", register))}


def _item(item: dict[str, Any]) -> dict[str, str]:
    """A bill line with its figures written the Brazilian way."""
    quantity, unit = item.get("quantidade_kwh"), item.get("tarifa")
    return {
        "descricao": item["descricao"],
        "quantidade": kwh_number(quantity) if quantity is not None else "",
        "tarifa": number(unit, 8) if unit is not None else "",
        "valor": brl(item["valor"]),
    }


def _taxes(block: dict[str, Any] | None) -> dict[str, Any] | None:
    """The informative taxes block: how much of each tax the lines above already include."""
    if not block:
        return None
    rates = block.get("aliquotas") or {}
    return {
        "base": brl(block["base"]),
        "linhas": [(name, percent(rates[key]) if key in rates else "", brl(block[key])) for key, name in TAXES],
        "formula": rates.get("formula"),
    }


def _date(iso: str) -> date:
    """The local date of an ISO-8601 instant."""
    return datetime.fromisoformat(iso).date()


def _last_day(iso: str) -> date:
    """The last day a cycle covers: the day before its (exclusive) end."""
    end = _date(iso)
    return date.fromordinal(end.toordinal() - 1)
