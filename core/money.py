"""Rounding of money and energy, half-up as SPEC §5 requires, in one place."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
WATT_HOUR = Decimal("0.001")


def cents(value: Decimal) -> Decimal:
    """Round BRL half-up to the cent."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def kwh(value: Decimal) -> Decimal:
    """Round kWh half-up to the watt-hour."""
    return value.quantize(WATT_HOUR, rounding=ROUND_HALF_UP)


def kwh_from_wh(wh: Decimal | int) -> Decimal:
    """Watt-hours as kWh, rounded half-up to the watt-hour."""
    return kwh(Decimal(wh) / 1000)


def brl(value: Decimal) -> str:
    """A money amount as the decimal string the API answers: `"12.30"`."""
    return str(cents(value))
