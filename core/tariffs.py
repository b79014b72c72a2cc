"""The tariff schedule: every price, rate and flag with the day from which it applies (DOMAIN.md).

Pure data, parsed once from the config file (`core.tariff_file`) and looked up by local date.
A price change never re-prices an earlier bill: a bill uses the versions in force on the days it
covers, and a closed bill is frozen anyway. Prices are BRL per kWh *without* taxes, as the
regulator publishes them; taxes are grossed up "por dentro" by `Taxes.divisor`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Mapping, Protocol, Sequence, TypeVar

FLAT, BLOCKS, TIME_OF_USE = "flat", "blocks", "time_of_use"
PEAK, INTERMEDIATE, OFF_PEAK = "ponta", "intermediario", "fora_ponta"
PERIODS = (PEAK, INTERMEDIATE, OFF_PEAK)
CONSUMPTION, DAYS = "consumption", "days"  # how a cycle is split where a price changes
CLASSIC, TWO_STAGE = "classic", "two_stage"  # the two gross-up formulas of DOMAIN.md
FLAGS = ("verde", "amarela", "vermelha_1", "vermelha_2")
FLAG_NAMES = {"verde": "verde", "amarela": "amarela", "vermelha_1": "vermelha patamar 1",
              "vermelha_2": "vermelha patamar 2"}
# Custo de disponibilidade, ANEEL REN 1000/2021; the config file may change them.
CONNECTION_MINIMUM_KWH = {"monofasico": Decimal(30), "bifasico": Decimal(50), "trifasico": Decimal(100)}
BASE_PLAN = "padrao"  # the plan made of the SPEC §3 [tariff] keys
BEGINNING = date(1, 1, 1)
ZERO = Decimal(0)



class HasValidFrom(Protocol):
    """Anything with a `valid_from` date."""

    @property
    def valid_from(self) -> date: ...


Dated = TypeVar("Dated", bound=HasValidFrom)


def in_force(versions: Sequence[Dated], day: date) -> Dated | None:
    """The version in force on `day`: the latest whose `valid_from` is not after it."""
    found = None
    for version in versions:  # sorted by valid_from; a handful per plan
        if version.valid_from > day:
            break
        found = version
    return found


@dataclass(frozen=True)
class Component:
    """One regulated energy price: TUSD, TE, or the single price of the SPEC's flat tariff."""

    label: str
    price: Decimal  # BRL per kWh, without taxes


Rate = tuple[Component, ...]


@dataclass(frozen=True)
class Band:
    """A consumption band `(previous band's bound, up_to_kwh]` and what applies in it."""

    up_to_kwh: Decimal | None  # None: no upper bound (the last band)
    value: Decimal


def band_value(bands: Sequence[Band], kwh: Decimal) -> Decimal:
    """The value of the band that holds `kwh`."""
    for band in bands:
        if band.up_to_kwh is None or kwh <= band.up_to_kwh:
            return band.value
    return bands[-1].value if bands else ZERO


def band_split(bounds: Sequence[Decimal | None], kwh: Decimal) -> list[Decimal]:
    """How much of `kwh` falls in each band, filling them from the lowest."""
    parts, low = [], ZERO
    for high in bounds:
        top = kwh if high is None else min(kwh, high)
        parts.append(max(top - low, ZERO))
        if high is not None:
            low = high
    return parts


@dataclass(frozen=True)
class Block:
    """A consumption block (faixa) with its own prices."""

    up_to_kwh: Decimal | None
    rate: Rate


@dataclass(frozen=True)
class Window:
    """Local wall-clock minutes `[start, end)` of a working day; `end` may be 1440 (24:00)."""

    start: int
    end: int


@dataclass(frozen=True)
class TimeOfUse:
    """Tarifa Branca: peak and intermediate windows of working days, and a rate per period."""

    peak: tuple[Window, ...]
    intermediate: tuple[Window, ...]
    rates: Mapping[str, Rate]

    def day_periods(self) -> list[tuple[int, int, str]]:
        """A working day as `(start, end, period)` minute spans covering 0 to 1440, in order."""
        marked = sorted([(w.start, w.end, PEAK) for w in self.peak] +
                        [(w.start, w.end, INTERMEDIATE) for w in self.intermediate])
        spans, cursor = [], 0
        for start, end, period in marked:
            if start > cursor:
                spans.append((cursor, start, OFF_PEAK))
            spans.append((start, end, period))
            cursor = end
        if cursor < 1440:
            spans.append((cursor, 1440, OFF_PEAK))
        return spans


@dataclass(frozen=True)
class PlanVersion:
    """The prices of a plan from `valid_from` on: flat, by blocks, or by time of use."""

    valid_from: date
    kind: str
    rate: Rate = ()
    blocks: tuple[Block, ...] = ()
    time_of_use: TimeOfUse | None = None

    def base_rate(self) -> Rate:
        """The rate of the plainest energy: the flat one, the first block, or off-peak."""
        if self.kind == BLOCKS:
            return self.blocks[0].rate
        if self.kind == TIME_OF_USE:
            return self.time_of_use.rates[OFF_PEAK]
        return self.rate


@dataclass(frozen=True)
class Taxes:
    """ICMS, PIS and COFINS from `valid_from` on, as fractions (0.18 is 18 %)."""

    valid_from: date
    icms: tuple[Band, ...] = (Band(None, ZERO),)  # the rate may depend on the billed kWh
    pis: Decimal = ZERO
    cofins: Decimal = ZERO
    formula: str = CLASSIC

    def icms_rate(self, billed_kwh: Decimal) -> Decimal:
        """The ICMS rate for a bill of `billed_kwh`."""
        return band_value(self.icms, billed_kwh)

    def divisor(self, billed_kwh: Decimal) -> Decimal:
        """What a price without taxes is divided by to include them ("por dentro")."""
        icms = self.icms_rate(billed_kwh)
        if self.formula == TWO_STAGE:
            return (1 - self.pis - self.cofins) * (1 - icms)
        return 1 - (icms + self.pis + self.cofins)

    def contained(self, amount: Decimal, billed_kwh: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        """How much ICMS, PIS and COFINS an amount with taxes included contains."""
        icms = self.icms_rate(billed_kwh)
        if self.formula == TWO_STAGE:
            federal_base = amount * (1 - icms)  # ICMS is out of the PIS/COFINS base
            return amount * icms, federal_base * self.pis, federal_base * self.cofins
        return amount * icms, amount * self.pis, amount * self.cofins

    @property
    def any(self) -> bool:
        """Whether any tax is charged at all."""
        return bool(self.pis or self.cofins or any(band.value for band in self.icms))


NO_TAXES = Taxes(BEGINNING)


@dataclass(frozen=True)
class FlagValues:
    """The surcharge of each tariff flag from `valid_from` on, BRL per 100 kWh."""

    valid_from: date
    per_100_kwh: Mapping[str, Decimal]


@dataclass(frozen=True)
class BandedCharge:
    """A per-bill amount from `valid_from` on, fixed or by billed-kWh band (CIP, social discount)."""

    valid_from: date
    bands: tuple[Band, ...]


@dataclass(frozen=True)
class Schedule:
    """Every tariff of the configuration. What the file does not name is off (SPEC §6)."""

    plans: Mapping[str, tuple[PlanVersion, ...]] = field(default_factory=dict)
    default_plan: str = BASE_PLAN
    default_connection: str | None = None
    minimum_by_connection: Mapping[str, Decimal] = field(default_factory=lambda: dict(CONNECTION_MINIMUM_KWH))
    minimum_kwh: Decimal = ZERO  # SPEC: for customers whose connection type sets none
    fixed_charge: Decimal = ZERO  # SPEC: per bill
    taxes: tuple[Taxes, ...] = ()
    flag_values: tuple[FlagValues, ...] = ()
    flag_months: Mapping[tuple[int, int], str] = field(default_factory=dict)
    cip: tuple[BandedCharge, ...] = ()
    social: tuple[BandedCharge, ...] = ()
    holidays: frozenset[date] = frozenset()
    proration: str = CONSUMPTION

    def with_base(self, price_per_kwh: Decimal, fixed_charge: Decimal, minimum_kwh: Decimal) -> "Schedule":
        """This schedule with the SPEC §3 flat tariff as the plan `padrao` (unless the file defines it)."""
        plans = dict(self.plans)
        plans.setdefault(BASE_PLAN, (PlanVersion(BEGINNING, FLAT, (Component("Energia elétrica", price_per_kwh),)),))
        return replace(self, plans=plans, fixed_charge=fixed_charge, minimum_kwh=minimum_kwh)

    def plan(self, name: str | None) -> tuple[PlanVersion, ...]:
        """The versions of a plan (the default plan when `name` is None or no longer configured)."""
        return self.plans.get(name or self.default_plan) or self.plans[self.default_plan]

    def plan_name(self, name: str | None) -> str:
        """The plan a customer is actually on."""
        return name if name in self.plans else self.default_plan

    def minimum_for(self, connection: str | None) -> Decimal:
        """The billed minimum of a connection type; the SPEC `minimum_kwh` when it sets none."""
        if connection is None:
            return self.minimum_kwh
        return self.minimum_by_connection.get(connection, self.minimum_kwh)

    def taxes_on(self, day: date) -> Taxes:
        """The taxes in force on a day (none before the first version)."""
        return in_force(self.taxes, day) or NO_TAXES

    def flag_on(self, day: date) -> tuple[str, Decimal]:
        """The flag of the day's month and its surcharge per kWh (0 for verde or no flag)."""
        name = self.flag_months.get((day.year, day.month))
        values = in_force(self.flag_values, day)
        if name is None or values is None:
            return "verde", ZERO
        return name, values.per_100_kwh.get(name, ZERO) / 100

    def cip_for(self, day: date, billed_kwh: Decimal) -> Decimal:
        """The public-lighting contribution of a bill whose cycle ends on `day`."""
        version = in_force(self.cip, day)
        return band_value(version.bands, billed_kwh) if version else ZERO

    def social_discounts(self, day: date) -> tuple[Band, ...]:
        """The social tariff's discount bands in force on `day`: each band's kWh get its discount."""
        version = in_force(self.social, day)
        return version.bands if version else ()
