"""The consumption history of an invoice as bars of an inline SVG, laid out on the server. Pure.

Drawn on the server so the page prints as it shows and needs no JavaScript (the CSP allows none).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from api.invoice_formats import number, short_month

WIDTH, HEIGHT = 640, 220
TOP, BOTTOM, SIDE = 24, 36, 8  # room for the value above a bar and the month below it


@dataclass(frozen=True)
class Bar:
    """One month's bar, in SVG user units."""

    x: float
    y: float
    width: float
    height: float
    label: str  # MAR/24
    value: str  # 140 (kWh, whole)
    current: bool  # the invoice's own month

    @property
    def center(self) -> float:
        """Where the bar's labels are centred."""
        return self.x + self.width / 2


def bars(months: Sequence[tuple[int, int, Decimal]], current: tuple[int, int]) -> list[Bar]:
    """Bars for `(ano, mes, kWh)` oldest first, scaled to the tallest, at most 12."""
    months = list(months)[-12:]
    if not months:
        return []
    tallest = max((value for _, _, value in months), default=Decimal(0)) or Decimal(1)
    slot = (WIDTH - 2 * SIDE) / 12
    usable = HEIGHT - TOP - BOTTOM
    drawn = []
    for index, (ano, mes, value) in enumerate(months):
        height = float(max(value, Decimal(0)) / tallest) * usable
        drawn.append(Bar(
            x=round(SIDE + index * slot + slot * 0.15, 1),
            y=round(TOP + usable - height, 1),
            width=round(slot * 0.7, 1),
            height=round(height, 1),
            label=short_month(ano, mes),
            value=number(value, 0),
            current=(ano, mes) == current,
        ))
    return drawn
