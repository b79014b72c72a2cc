"""Brazilian formats for the pages and the CSV: R$ 1.234,56, 1.234,567 kWh, 20/03/2023 14:10. Pure."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from core.money import cents, kwh

MONTHS = ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
          "setembro", "outubro", "novembro", "dezembro")


def _brazilian(number: str) -> str:
    """`1,234.56` (Python's grouping) as `1.234,56`."""
    return number.replace(",", "\0").replace(".", ",").replace("\0", ".")


def brl(value: Decimal | str | int) -> str:
    """Money: `R$ 1.234,56`, half-up to the cent."""
    amount = cents(Decimal(value))
    sign = "-" if amount < 0 else ""
    return f"{sign}R$ {_brazilian(format(abs(amount), ',.2f'))}"


def kwh_number(value: Decimal | float | int | str | None, grouped: bool = True) -> str:
    """Energy as a pt-BR number: `1.234,567` (watt-hour precision; `1234,567` ungrouped), `—` when unknown."""
    if value is None:
        return "—"
    amount = kwh(Decimal(str(value)))
    return _brazilian(format(amount, ",.3f" if grouped else ".3f"))


def number(value: Decimal | float | int | str) -> str:
    """A plain pt-BR number without trailing zeros: `3`, `8,5`, `1.234,25`."""
    amount = Decimal(str(value)).normalize()
    text = format(amount, ",f")
    return _brazilian(text.rstrip("0").rstrip(".") if "." in text else text)


def kwh_text(value: Decimal | float | int | str | None) -> str:
    """Energy with its unit: `1.234,567 kWh`."""
    return "—" if value is None else f"{kwh_number(value)} kWh"


def power_text(watts: int | None) -> str:
    """Power: `850 W` below a kilowatt, `1,25 kW` above."""
    if watts is None:
        return "—"
    if abs(watts) < 1000:
        return f"{watts} W"
    kilowatts = (Decimal(watts) / 1000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)  # as the page's JS
    return f"{_brazilian(format(kilowatts, ',.2f'))} kW"


def when(iso_text: str | None) -> str:
    """An ISO-8601 time with offset as its local wall time: `20/03/2023 14:10`."""
    if not iso_text:
        return "—"
    moment = datetime.fromisoformat(iso_text)
    return moment.strftime("%d/%m/%Y %H:%M")


def day(iso_text: str) -> str:
    """The local date of an ISO-8601 time: `20/03/2023`."""
    return datetime.fromisoformat(iso_text).strftime("%d/%m/%Y")


def month_name(ano: int, mes: int) -> str:
    """`março de 2024`."""
    return f"{MONTHS[mes - 1]} de {ano}"


def interval_label(scale: str, iso_text: str) -> str:
    """How a table names the interval starting at `iso_text`: `14:00`, `20/03/2024`, `março de 2024`."""
    moment = datetime.fromisoformat(iso_text)
    if scale == "hora":
        return moment.strftime("%H:%M")
    if scale == "dia":
        return moment.strftime("%d/%m/%Y")
    return month_name(moment.year, moment.month)


def short_label(scale: str, iso_text: str) -> str:
    """How a chart's axis names it: `14h`, `20/03`, `mar/24`."""
    moment = datetime.fromisoformat(iso_text)
    if scale == "hora":
        return moment.strftime("%Hh")
    if scale == "dia":
        return moment.strftime("%d/%m")
    return f"{MONTHS[moment.month - 1][:3]}/{moment.year % 100:02d}"


def filters() -> dict[str, Any]:
    """The Jinja filters of the pages."""
    return {"brl": brl, "kwh": kwh_text, "kwh_number": kwh_number, "power": power_text,
            "when": when, "day": day}


def template_globals() -> dict[str, Any]:
    """The functions of two arguments the pages call."""
    return {"interval_label": interval_label, "short_label": short_label, "month_name": month_name}
