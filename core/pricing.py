"""Pricing a cycle's usage into the lines of a Brazilian residential bill (DOMAIN.md). Pure.

The lines, in order: energy (one per price component, and per time-of-use period, block and
price period), tariff flags, the adjustment of the previous cycle and the social-tariff discount,
all with ICMS, PIS and COFINS included ("por dentro"); then the public-lighting contribution (CIP)
and the SPEC fixed charge, which carry none. Each line is rounded half-up to the cent and the
total is the sum of the lines; `tributos` says how much of each tax the taxed lines contain.

Quantities are whole watt-hours: the measured kWh (rounded to the watt-hour, SPEC §5) are shared
out between the pieces of the cycle by largest remainder, so the quantities add up exactly to
what the bill measures. The availability minimum's shortfall goes to the plainest energy of the
cycle's last piece (flat, first block, or off-peak); flags are charged on the billed kWh.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Sequence

from core.billing import LineItem, PricedBill, TaxBlock
from core.money import cents, kwh_from_wh
from core.tariffs import (BLOCKS, CONSUMPTION, FLAG_NAMES, INTERMEDIATE, OFF_PEAK, PEAK, PERIODS, TIME_OF_USE,
                          PlanVersion, Rate, Schedule, Taxes, band_split)
from core.usage import EnergyPiece, Span, Usage

ZERO = Decimal(0)
PERIOD_LABELS = {PEAK: "ponta", INTERMEDIATE: "intermediário", OFF_PEAK: "fora de ponta"}
COMPONENT_LABELS = {"TUSD": "Consumo TUSD", "TE": "Consumo TE"}
Key = str | int | None  # a time-of-use period, a block's index, or None for a flat piece


@dataclass(frozen=True)
class Terms:
    """What of the customer the price depends on."""

    plan: str | None
    minimum_kwh: Decimal
    social: bool = False


@dataclass(frozen=True)
class Adjustment:
    """Energy an earlier closed bill missed (negative: billed too much), settled on this one."""

    wh: Decimal
    cycle: str  # the cycle it belongs to, "03/2024"


@dataclass(frozen=True)
class _Line:
    """A line priced per kWh, before rounding."""

    label: str
    wh: int
    unit: Decimal  # BRL per kWh with taxes
    taxes: Taxes

    @property
    def exact(self) -> Decimal:
        """Quantity times unit price, unrounded."""
        return Decimal(self.wh) / 1000 * self.unit

    def item(self) -> LineItem:
        """The bill line, rounded half-up to the cent."""
        return LineItem(self.label, cents(self.exact), Decimal(self.wh) / 1000, self.unit, self.taxes.any)


def price(usage: Usage, schedule: Schedule, terms: Terms, adjustment: Adjustment | None = None) -> PricedBill:
    """The bill of a measured cycle."""
    measured_wh = whole(usage.total_wh)
    billed_wh = max(measured_wh, whole(terms.minimum_kwh * 1000))
    billed_kwh = Decimal(billed_wh) / 1000
    energy = _energy_lines(usage, schedule, measured_wh, billed_wh, terms.minimum_kwh)
    flags = _flag_lines(usage, schedule, billed_wh)
    taxed = [*energy, *flags]
    if adjustment is not None and whole(adjustment.wh):
        first = usage.energy[0]
        unit = _unit(first.version.base_rate(), first.taxes, billed_kwh)
        taxed.append(_Line(f"Ajuste de leitura do ciclo {adjustment.cycle}", whole(adjustment.wh), unit, first.taxes))
    taxed_items = [(line.item(), line.taxes) for line in taxed]
    if terms.social:
        taxed_items += _social_discount(usage, schedule, billed_kwh, [*energy, *flags])
    items = [item for item, _ in taxed_items]
    tax_block = _tax_block(taxed_items, billed_kwh)
    cip = schedule.cip_for(usage.span.last_day, billed_kwh)
    if cip:
        items.append(LineItem("Contribuição de iluminação pública (CIP)", cents(cip)))
    if schedule.fixed_charge:
        items.append(LineItem("Taxa fixa", cents(schedule.fixed_charge)))
    info = {
        "plano": usage.plan,
        "versoes": sorted({piece.version.valid_from.isoformat() for piece in usage.energy}),
        "proporcional": schedule.proration,
    }
    return PricedBill(kwh_from_wh(measured_wh), kwh_from_wh(billed_wh), tuple(items), tax_block, info)


def whole(wh: Decimal) -> int:
    """Watt-hours rounded half-up to a whole number (SPEC §5)."""
    return int(Decimal(wh).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def allocate(total: int, weights: Sequence[Decimal]) -> list[int]:
    """`total` shared in proportion to `weights`, in whole units that add up to it (largest remainder)."""
    whole_weight = sum(weights, ZERO)
    if not weights or whole_weight <= 0:
        return [0] * len(weights)
    exact = [Decimal(total) * weight / whole_weight for weight in weights]
    shares = [int(value) for value in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _energy_lines(usage: Usage, schedule: Schedule, measured_wh: int, billed_wh: int, minimum_kwh: Decimal) -> list[_Line]:
    """The energy lines: each piece's quantities times each component's price with taxes."""
    pieces = usage.energy
    billed_kwh = Decimal(billed_wh) / 1000
    keys, weights = _energy_weights(usage, schedule)
    quantities = dict(zip(keys, allocate(measured_wh, weights)))
    last = len(pieces) - 1
    base = (last, _base_key(pieces[last]))
    quantities[base] = quantities.get(base, 0) + billed_wh - measured_wh
    quantities = _into_blocks(quantities, pieces, billed_kwh)
    holds_minimum = (last, 0) if pieces[last].version.kind == BLOCKS else base
    note = f" (mínimo de {_number(minimum_kwh)} kWh)" if billed_wh > measured_wh else ""
    lines = []
    for (index, key), wh in quantities.items():
        if not wh:
            continue
        piece = pieces[index]
        suffix = _key_label(piece.version, key) + (_span_label(piece.span) if len(pieces) > 1 else "")
        suffix += note if (index, key) == holds_minimum else ""
        for component in _rate(piece.version, key):
            label = COMPONENT_LABELS.get(component.label, component.label) + suffix
            lines.append(_Line(label, wh, _unit((component,), piece.taxes, billed_kwh), piece.taxes))
    if not lines:  # nothing to bill: still show what a kWh costs
        piece = pieces[last]
        for component in piece.version.base_rate():
            label = COMPONENT_LABELS.get(component.label, component.label)
            lines.append(_Line(label, 0, _unit((component,), piece.taxes, billed_kwh), piece.taxes))
    return lines


def _energy_weights(usage: Usage, schedule: Schedule) -> tuple[list[tuple[int, Key]], list[Decimal]]:
    """Each `(piece, period)` and its share of the energy: by measured use, or by days."""
    pieces = usage.energy
    by_use = schedule.proration == CONSUMPTION and usage.total_wh > 0
    cycle_periods = {period: sum((p.by_period.get(period, ZERO) for p in pieces), ZERO) for period in PERIODS}
    if not any(cycle_periods.values()):
        cycle_periods[OFF_PEAK] = Decimal(1)
    keys, weights = [], []
    for index, piece in enumerate(pieces):
        if piece.version.kind != TIME_OF_USE:
            keys.append((index, None))
            weights.append(piece.wh if by_use else Decimal(piece.span.days))
            continue
        for period in PERIODS:
            keys.append((index, period))
            if by_use:
                weights.append(piece.by_period.get(period, ZERO))
            else:
                weights.append(piece.span.days * cycle_periods[period] / sum(cycle_periods.values()))
    return keys, weights


def _base_key(piece: EnergyPiece) -> Key:
    """Where the minimum's shortfall goes in a piece: off-peak, or the flat quantity."""
    return OFF_PEAK if piece.version.kind == TIME_OF_USE else None


def _into_blocks(quantities: dict[tuple[int, Key], int], pieces: Sequence[EnergyPiece], billed_kwh: Decimal) -> dict:
    """Each block-plan piece's quantity shared between its blocks as the billed kWh fill them."""
    result = {}
    for (index, key), wh in quantities.items():
        version = pieces[index].version
        if version.kind != BLOCKS:
            result[(index, key)] = wh
            continue
        fill = band_split([block.up_to_kwh for block in version.blocks], billed_kwh)
        for block, share in enumerate(allocate(wh, fill) if wh else [0] * len(fill)):
            result[(index, block)] = share
    return result


def _rate(version: PlanVersion, key: Key) -> Rate:
    """The prices of one key of a piece: its period's, its block's, or the flat ones."""
    if version.kind == TIME_OF_USE:
        return version.time_of_use.rates[key]
    if version.kind == BLOCKS:
        return version.blocks[key].rate
    return version.rate


def _unit(rate: Rate, taxes: Taxes, billed_kwh: Decimal) -> Decimal:
    """BRL per kWh with taxes included, unrounded."""
    return sum((component.price for component in rate), ZERO) / taxes.divisor(billed_kwh)


def _flag_lines(usage: Usage, schedule: Schedule, billed_wh: int) -> list[_Line]:
    """The flag surcharge on the billed kWh, shared between the cycle's flag periods."""
    pieces = usage.flags
    by_use = schedule.proration == CONSUMPTION and any(piece.wh for piece in pieces)
    weights = [piece.wh if by_use else Decimal(piece.span.days) for piece in pieces]
    billed_kwh = Decimal(billed_wh) / 1000
    lines = []
    for piece, wh in zip(pieces, allocate(billed_wh, weights)):
        if piece.per_kwh and wh:
            label = f"Bandeira {FLAG_NAMES[piece.flag]}" + (_span_label(piece.span) if len(pieces) > 1 else "")
            lines.append(_Line(label, wh, piece.per_kwh / piece.taxes.divisor(billed_kwh), piece.taxes))
    return lines


def _social_discount(usage: Usage, schedule: Schedule, billed_kwh: Decimal,
                     charged: list[_Line]) -> list[tuple[LineItem, Taxes]]:
    """Tarifa social: each band's kWh discounted at the average energy-and-flag price of the bill."""
    bands = schedule.social_discounts(usage.span.last_day)
    if not bands or not billed_kwh:
        return []
    parts = band_split([band.up_to_kwh for band in bands], billed_kwh)
    discounted = sum((part * band.value for part, band in zip(parts, bands)), ZERO)
    average = sum((line.exact for line in charged), ZERO) / billed_kwh
    if not discounted or not average:
        return []
    taxes = usage.energy[-1].taxes
    item = LineItem("Desconto tarifa social", cents(-discounted * average), discounted, -average, taxes.any)
    return [(item, taxes)]


def _tax_block(taxed: list[tuple[LineItem, Taxes]], billed_kwh: Decimal) -> TaxBlock | None:
    """ICMS, PIS and COFINS contained in the taxed lines, each tax version on its own lines' sum."""
    groups: dict[Taxes, Decimal] = {}
    for item, version in taxed:
        groups[version] = groups.get(version, ZERO) + item.valor
    if not any(version.any for version in groups):
        return None
    icms = pis = cofins = ZERO
    for version, base in groups.items():
        parts = version.contained(base, billed_kwh)
        icms, pis, cofins = icms + parts[0], pis + parts[1], cofins + parts[2]
    rates = None
    if len(groups) == 1:
        [version] = groups
        rates = {"icms": str(version.icms_rate(billed_kwh)), "pis": str(version.pis), "cofins": str(version.cofins),
                 "formula": version.formula}
    return TaxBlock(sum(groups.values(), Decimal("0.00")), cents(icms), cents(pis), cents(cofins), rates)


def _key_label(version: PlanVersion, key: Key) -> str:
    """` ponta`, ` até 100 kWh`...: what distinguishes the lines of one piece."""
    if version.kind == TIME_OF_USE:
        return f" {PERIOD_LABELS[key]}"
    if version.kind != BLOCKS:
        return ""
    bounds = [block.up_to_kwh for block in version.blocks]
    low = bounds[key - 1] if key else None
    high = bounds[key]
    if low is None:
        return f" até {_number(high)} kWh"
    if high is None:
        return f" acima de {_number(low)} kWh"
    return f" de {_number(low)} a {_number(high)} kWh"


def _span_label(span: Span) -> str:
    """` (10/05 a 27/05)`: the days a line covers, when a cycle has several pieces."""
    return f" ({span.first_day:%d/%m} a {span.last_day:%d/%m})"


def _number(value: Decimal) -> str:
    """A quantity as a Brazilian reader writes it: `30`, `30,5`."""
    text = f"{value.normalize():f}"
    return text.replace(".", ",")
