"""Numbers, money and dates as a Brazilian reader writes them: R$ 1.234,56 and 20/03/2023. Pure."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

MONTHS = ("JAN", "FEV", "MAR", "ABR", "MAI", "JUN", "JUL", "AGO", "SET", "OUT", "NOV", "DEZ")


def number(value: Decimal | float | int | str, places: int) -> str:
    """`1234.5` with 2 places -> `1.234,50`: dot for thousands, comma for decimals, half-up."""
    amount = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    whole, _, fraction = f"{abs(amount):f}".partition(".")
    groups = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:], *groups]
    text = ".".join([whole, *groups])
    return sign + text + ("," + fraction if places else "")


def brl(value: Decimal | str) -> str:
    """Money: `R$ 1.234,56` (a credit: `-R$ 1,00`)."""
    text = number(value, 2)
    return f"-R$ {text[1:]}" if text.startswith("-") else f"R$ {text}"


def kwh(value: Decimal | float | str) -> str:
    """Energy to the watt-hour: `1.190,000`."""
    return number(value, 3)


def percent(fraction: str | Decimal) -> str:
    """A rate given as a fraction: `0.18` -> `18%`, `0.0095` -> `0,95%`."""
    value = (Decimal(str(fraction)) * 100).normalize()
    return f"{value:f}".replace(".", ",") + "%"


def day(value: str | date | datetime) -> str:
    """A date or an ISO-8601 instant as `20/03/2023` (the instant's own local date)."""
    moment = _parse(value)
    return f"{moment.day:02d}/{moment.month:02d}/{moment.year:04d}"


def day_time(value: str | datetime) -> str:
    """An ISO-8601 instant as `20/03/2023 14:05`, in its own offset."""
    moment = _parse(value)
    return f"{day(moment)} {moment.hour:02d}:{moment.minute:02d}"


def month(ano: int, mes: int) -> str:
    """A bill's reference month: `03/2024`."""
    return f"{mes:02d}/{ano:04d}"


def short_month(ano: int, mes: int) -> str:
    """A chart label: `MAR/24`."""
    return f"{MONTHS[mes - 1]}/{ano % 100:02d}"


def _parse(value: str | date | datetime) -> date | datetime:
    """A date or an aware datetime from ISO-8601 text."""
    if isinstance(value, (date, datetime)):
        return value
    return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
