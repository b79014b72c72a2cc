"""A customer's own alert thresholds over the configured ones (the `[alerts]` TOML section).

They live in `Customer.settings["alertas"]`, a sub-document of their own so that other
settings of the customer (billing, for instance) never collide with them. Keys are the API's
(Portuguese); values are stored as text for decimals so JSON never rounds them.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any, Mapping

from sqlalchemy.orm import Session

from core.alert_watch import rearm, watch_for
from core.config import AlertConfig, Settings
from core.models import Customer
from core.rules import KINDS

SECTION = "alertas"


class InvalidSetting(ValueError):
    """A threshold a person must fix; the message (Portuguese) says how."""


# API key -> (AlertConfig field, lowest, highest, whole numbers only)
NUMBERS: dict[str, tuple[str, Decimal, Decimal, bool]] = {
    "excesso_kwh": ("excess_kwh", Decimal(0), Decimal(1_000_000), False),
    "variacao_kwh": ("variation_kwh", Decimal(0), Decimal(1_000_000), False),
    "projecao_apos_dias": ("projection_after_days", Decimal(0), Decimal(31), False),
    "fator_diario": ("daily_factor", Decimal(1), Decimal(1000), False),
    "potencia_kw": ("power_kw", Decimal("0.1"), Decimal(1000), False),
    "potencia_minutos": ("power_minutes", Decimal(1), Decimal(1440), True),
    "silencio_minutos": ("silence_minutes", Decimal(1), Decimal(525_600), True),
}
DISABLED = "desligados"
KEYS = (*NUMBERS, DISABLED)


def overrides(customer: Customer) -> dict[str, Any]:
    """The customer's own thresholds, as stored."""
    return dict((customer.settings or {}).get(SECTION) or {})


def thresholds(customer: Customer | None, settings: Settings) -> AlertConfig:
    """The thresholds in force for a customer: its own where it has them, else the configured."""
    config = settings.alerts
    own = overrides(customer) if customer is not None else {}
    if not own:
        return config
    changes: dict[str, Any] = {}
    for key, (field, _, _, whole) in NUMBERS.items():
        if own.get(key) is not None:
            changes[field] = int(own[key]) if whole else Decimal(own[key])
    if own.get(DISABLED) is not None:
        changes["disabled"] = frozenset(own[DISABLED])
    return replace(config, **changes)


def merged(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The stored overrides after a change; `null` removes one (back to the configured value)."""
    unknown = sorted(set(changes) - set(KEYS))
    if unknown:
        raise InvalidSetting(f"chave desconhecida: {', '.join(unknown)}; as chaves são {', '.join(KEYS)}")
    result = dict(current)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        elif key == DISABLED:
            result[key] = _kinds(value)
        else:
            result[key] = _number(key, value)
    return result


def apply(session: Session, customer: Customer, changes: Mapping[str, Any], settings: Settings) -> None:
    """Change a customer's own thresholds; the rules arm again with them on the next batch.

    The caller holds the meter's lock (`core.customers.lock_meter`).
    """
    own = merged(overrides(customer), changes)
    customer.settings = {**(customer.settings or {}), SECTION: own}  # a new dict, so it is saved
    rearm(watch_for(session, customer.id), own.get("potencia_kw"), thresholds(customer, settings))


def document(customer: Customer, settings: Settings) -> dict[str, Any]:
    """The thresholds in force (`configuracao`) and the customer's own ones (`personalizado`)."""
    config = thresholds(customer, settings)
    effective: dict[str, Any] = {key: _shown(getattr(config, field)) for key, (field, *_) in NUMBERS.items()}
    effective[DISABLED] = sorted(config.disabled)
    own = {key: (value if key == DISABLED else _shown(Decimal(value))) for key, value in overrides(customer).items()}
    return {"id": customer.id, "configuracao": effective, "personalizado": own}


def _number(key: str, value: Any) -> str:
    field, low, high, whole = NUMBERS[key]
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, Decimal, float)):
        kind = "um número inteiro, sem casas decimais," if whole else "um número"
        raise InvalidSetting(f"{key} deve ser {kind} (ou null para voltar ao padrão), não {value!r}")
    number = Decimal(str(value))
    if not number.is_finite() or not low <= number <= high:
        raise InvalidSetting(f"{key} deve ir de {_shown(low)} a {_shown(high)}, não {value!r}")
    return str(int(number)) if whole else str(number)


def _kinds(value: Any) -> list[str]:
    if not isinstance(value, list) or any(not isinstance(kind, str) or kind not in KINDS for kind in value):
        raise InvalidSetting(f"{DISABLED} deve ser uma lista de tipos de alerta entre: {', '.join(KINDS)}")
    return sorted(set(value))


def _shown(value: Decimal | int) -> int | Decimal:
    """A threshold as the API shows it: whole numbers as integers."""
    number = Decimal(value)
    return int(number) if number == number.to_integral_value() else number
