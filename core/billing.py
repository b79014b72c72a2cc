"""Pricing a cycle's consumption (SPEC §6). Pure: no database, no broker, no web."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.config import TariffConfig
from core.money import cents, kwh


@dataclass(frozen=True)
class LineItem:
    """One line of a bill; its value is already rounded to the cent."""

    descricao: str
    valor: Decimal

    def as_dict(self) -> dict[str, str]:
        """The JSON form: money as a decimal string."""
        return {"descricao": self.descricao, "valor": str(self.valor)}


@dataclass(frozen=True)
class PricedBill:
    """Measured and billed energy, the line items and their sum."""

    consumo_kwh: Decimal
    faturado_kwh: Decimal
    itens: tuple[LineItem, ...]

    @property
    def valor(self) -> Decimal:
        """The total is the sum of the rounded lines, as a printed bill adds them up."""
        return sum((item.valor for item in self.itens), Decimal("0.00"))


def price(consumo_kwh: Decimal, tariff: TariffConfig) -> PricedBill:
    """Price measured kWh with the flat tariff: energy at the price, the minimum, a fixed charge."""
    measured = kwh(max(consumo_kwh, Decimal(0)))
    billed = max(measured, kwh(tariff.minimum_kwh))
    itens = [LineItem(_energy_label(billed, measured, tariff), cents(billed * tariff.price_per_kwh))]
    if tariff.fixed_charge:
        itens.append(LineItem("Taxa fixa", cents(tariff.fixed_charge)))
    return PricedBill(measured, billed, tuple(itens))


def projection(consumo_kwh: Decimal, elapsed_ms: int, span_ms: int) -> Decimal:
    """Consumption so far extended at the same pace to the whole cycle."""
    if elapsed_ms <= 0 or span_ms <= elapsed_ms:
        return kwh(consumo_kwh)
    return kwh(consumo_kwh * span_ms / elapsed_ms)


def _energy_label(billed: Decimal, measured: Decimal, tariff: TariffConfig) -> str:
    price_text = f"{tariff.price_per_kwh.normalize():f}"
    label = f"Energia elétrica: {billed} kWh × R$ {price_text}/kWh"
    if billed > measured:
        label += " (consumo mínimo)"
    return label
