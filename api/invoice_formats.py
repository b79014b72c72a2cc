"""The figures an invoice prints beyond `api.formats`: unit prices, tax rates, months. Pure."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

MONTHS = ("JAN", "FEV", "MAR", "ABR", "MAI", "JUN", "JUL", "AGO", "SET", "OUT", "NOV", "DEZ")


def number(value: Decimal | float | int | str, places: int) -> str:
    """`0.589005235` with 8 places -> `0,58900524`; `1234.5` with 0 -> `1.235`: half-up, grouped."""
    amount = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = format(amount, f",.{places}f")
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def percent(fraction: str | Decimal) -> str:
    """A rate given as a fraction: `0.18` -> `18%`, `0.0095` -> `0,95%`."""
    value = (Decimal(str(fraction)) * 100).normalize()
    return f"{value:f}".replace(".", ",") + "%"


def reference(ano: int, mes: int) -> str:
    """A bill's reference month: `03/2024`."""
    return f"{mes:02d}/{ano:04d}"


def short_month(ano: int, mes: int) -> str:
    """A history bar's label, as bills print it: `MAR/24`."""
    return f"{MONTHS[mes - 1]}/{ano % 100:02d}"
