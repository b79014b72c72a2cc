"""The two alert rules of SPEC §6 as pure functions over kWh figures."""

from __future__ import annotations

from decimal import Decimal
from typing import Sequence

EXCESS = "excesso"
VARIATION = "variacao"
EXCESS_HISTORY = 3  # closed bills averaged by the excess rule

OPEN = "aberto"  # alert states: raised, acknowledged by the customer, cleared
ACKNOWLEDGED = "reconhecido"
CLEARED = "encerrado"

SEVERITY = {EXCESS: "alerta", VARIATION: "alerta"}


def excess_threshold(closed_consumption: Sequence[Decimal], excess_kwh: Decimal) -> Decimal | None:
    """The cycle consumption that raises `excesso`: mean of the last 3 closed bills plus the margin.

    `closed_consumption` is in cycle order, oldest first; the rule needs at least one bill.
    """
    recent = list(closed_consumption)[-EXCESS_HISTORY:]
    if not recent:
        return None
    return sum(recent, Decimal(0)) / len(recent) + excess_kwh


def is_variation(current_kwh: Decimal, previous_kwh: Decimal, variation_kwh: Decimal) -> bool:
    """True when a closed bill differs from the one before by at least the margin, up or down."""
    return abs(current_kwh - previous_kwh) >= variation_kwh
