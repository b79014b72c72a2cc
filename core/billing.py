"""What a priced bill is made of: its lines, the taxes they contain, and the projection. Pure.

The pricing itself (tariff plans, flags, taxes, minimum, CIP) is `core.pricing`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.money import kwh

UNIT_PRICE = Decimal("0.00000001")  # unit prices show 8 decimals, as Brazilian bills print them


@dataclass(frozen=True)
class LineItem:
    """One line of a bill; its value is already rounded to the cent.

    `quantidade_kwh` and `tarifa` (BRL per kWh with taxes) are given for lines priced per kWh, so
    a reader can check quantity × price = value (to the cent).
    """

    descricao: str
    valor: Decimal
    quantidade_kwh: Decimal | None = None
    tarifa: Decimal | None = None
    tributado: bool = False  # whether the value includes ICMS, PIS and COFINS

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: money and prices as decimal strings, kWh as a number."""
        document: dict[str, Any] = {"descricao": self.descricao, "valor": str(self.valor)}
        if self.quantidade_kwh is not None:
            document["quantidade_kwh"] = float(kwh(self.quantidade_kwh))
        if self.tarifa is not None:
            document["tarifa"] = str(self.tarifa.quantize(UNIT_PRICE))
        return document


@dataclass(frozen=True)
class TaxBlock:
    """How much ICMS, PIS and COFINS the taxed lines contain (informative: not further lines)."""

    base: Decimal
    icms: Decimal
    pis: Decimal
    cofins: Decimal
    rates: dict[str, str] | None = None  # the rates, when one tax version covered the whole cycle

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: money as decimal strings."""
        document: dict[str, Any] = {"base": str(self.base), "icms": str(self.icms), "pis": str(self.pis),
                                    "cofins": str(self.cofins)}
        if self.rates is not None:
            document["aliquotas"] = self.rates
        return document


@dataclass(frozen=True)
class PricedBill:
    """Measured and billed energy, the line items and their sum, and what priced them."""

    consumo_kwh: Decimal
    faturado_kwh: Decimal
    itens: tuple[LineItem, ...]
    tributos: TaxBlock | None = None
    tarifa: dict[str, Any] = field(default_factory=dict)  # plan and versions used

    @property
    def valor(self) -> Decimal:
        """The total is the sum of the rounded lines, as a printed bill adds them up."""
        return sum((item.valor for item in self.itens), Decimal("0.00"))


def projection(consumo_kwh: Decimal, elapsed_ms: int, span_ms: int) -> Decimal:
    """Consumption so far extended at the same pace to the whole cycle."""
    if elapsed_ms <= 0 or span_ms <= elapsed_ms:
        return kwh(consumo_kwh)
    return kwh(consumo_kwh * span_ms / elapsed_ms)


def projection_factor(elapsed_ms: int, span_ms: int) -> Decimal:
    """By how much the use so far is multiplied to project it to the whole cycle."""
    if elapsed_ms <= 0 or span_ms <= elapsed_ms:
        return Decimal(1)
    return Decimal(span_ms) / Decimal(elapsed_ms)
