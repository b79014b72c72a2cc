"""A customer's billing terms: closing day, connection type, tariff plan, social tariff. Pure.

Each is stored on the customer only when set for it (`Customer.closing_day`, and the keys
`ligacao`, `plano`, `tarifa_social` of `Customer.settings`); otherwise the configuration's default
applies, so a default changed in the config reaches every customer who never chose otherwise.
Changing a term never touches a closed bill: those are frozen rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from core.config import Settings
from core.models import Customer
from core.pricing import Terms
from core.tariffs import CONNECTION_MINIMUM_KWH

CONNECTIONS = tuple(CONNECTION_MINIMUM_KWH)  # monofasico, bifasico, trifasico
STORED_KEYS = ("ligacao", "plano", "tarifa_social")  # in Customer.settings
KEYS = ("dia_fechamento", *STORED_KEYS)  # what a person sets, at cadastro or later


@dataclass(frozen=True)
class CustomerTerms:
    """The terms in force for a customer, defaults applied."""

    closing_day: int
    connection: str | None
    plan: str
    social: bool

    def pricing(self, settings: Settings) -> Terms:
        """What the pricing needs: the plan and the billed minimum of the connection type."""
        return Terms(self.plan, settings.schedule.minimum_for(self.connection), self.social)


def terms_of(customer: Customer, settings: Settings) -> CustomerTerms:
    """The customer's terms: its own where set, the configuration's defaults elsewhere."""
    stored = customer.settings or {}
    schedule = settings.schedule
    return CustomerTerms(
        closing_day=customer.closing_day or settings.closing_day,
        connection=stored.get("ligacao") or schedule.default_connection,
        plan=schedule.plan_name(stored.get("plano")),
        social=bool(stored.get("tarifa_social", False)),
    )


def apply_terms(customer: Customer, changes: Mapping[str, Any]) -> None:
    """Set (or, with None, reset to the default) the terms named in `changes`."""
    if "dia_fechamento" in changes:
        customer.closing_day = changes["dia_fechamento"]
    stored = dict(customer.settings or {})
    for key in STORED_KEYS:
        if key not in changes:
            continue
        if changes[key] is None:
            stored.pop(key, None)
        else:
            stored[key] = changes[key]
    customer.settings = stored  # a new dict, so the ORM sees the change


def terms_document(customer: Customer, settings: Settings) -> dict[str, Any]:
    """The terms as the API shows them: what applies, and which of them are the customer's own."""
    terms = terms_of(customer, settings)
    stored = customer.settings or {}
    return {
        "id": customer.id,
        "dia_fechamento": terms.closing_day,
        "ligacao": terms.connection,
        "plano": terms.plan,
        "tarifa_social": terms.social,
        "consumo_minimo_kwh": settings.schedule.minimum_for(terms.connection),
        "proprios": sorted(
            [key for key in STORED_KEYS if key in stored] + (["dia_fechamento"] if customer.closing_day else [])
        ),
    }
