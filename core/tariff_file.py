"""Reading the tariff schedule from the config file's `[tariff]` table (README: "Tariffs").

Every message names the key and what to write instead. Unknown keys are refused, so that a typo
(`vaild_from`) never silently turns a price off. Money and rates are decimal strings or numbers.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping

from core import tariffs as t

SPEC_KEYS = ("price_per_kwh", "fixed_charge", "minimum_kwh")
TARIFF_KEYS = {*SPEC_KEYS, "default_plan", "default_connection", "proration", "holidays",
               "minimum_by_connection", "plans", "taxes", "flags", "flag_months", "cip", "social"}
NAME_RE = re.compile(r"[a-z0-9_]{1,40}")
MONTH_RE = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
CLOCK_RE = re.compile(r"([01][0-9]|2[0-4]):([0-5][0-9])")


class TariffError(ValueError):
    """A tariff setting that cannot be used; the message names the key and the fix."""


def parse_schedule(table: Mapping[str, Any]) -> t.Schedule:
    """The schedule described by the `[tariff]` table, except its SPEC §3 keys (read elsewhere)."""
    _known(table, TARIFF_KEYS, "tariff")
    plans = {name: _plan(versions, f"tariff.plans.{name}")
             for name, versions in _table(table, "plans", "tariff").items()}
    for name in plans:
        if not NAME_RE.fullmatch(name):
            raise TariffError(f"tariff.plans.{name}: plan names use lower-case letters, digits and _")
    default_plan = _choice(table, "default_plan", "tariff", [t.BASE_PLAN, *plans], t.BASE_PLAN)
    minimum = dict(t.CONNECTION_MINIMUM_KWH)
    for connection, raw in _table(table, "minimum_by_connection", "tariff").items():
        key = f"tariff.minimum_by_connection.{connection}"
        if connection not in minimum:
            raise TariffError(f"{key}: connection types are {', '.join(minimum)}")
        minimum[connection] = _decimal(raw, key)
    schedule = t.Schedule(
        plans=plans,
        default_plan=default_plan,
        default_connection=_choice(table, "default_connection", "tariff", [None, *minimum], None),
        minimum_by_connection=minimum,
        taxes=_versions(table, "taxes", _taxes),
        flag_values=_versions(table, "flags", _flag_values),
        flag_months=_flag_months(_table(table, "flag_months", "tariff")),
        cip=_versions(table, "cip", lambda raw, key: _banded(raw, key, "amount")),
        social=_versions(table, "social", lambda raw, key: _banded(raw, key, "discount", fixed=False)),
        holidays=frozenset(_date(raw, f"tariff.holidays[{i}]") for i, raw in enumerate(_list(table, "holidays", "tariff"))),
        proration=_choice(table, "proration", "tariff", [t.CONSUMPTION, t.DAYS], t.CONSUMPTION),
    )
    _check_flags(schedule)
    return schedule


def _plan(raw: Any, key: str) -> tuple[t.PlanVersion, ...]:
    """The versions of one plan, `[[tariff.plans.<name>]]`."""
    if not isinstance(raw, list) or not raw:
        raise TariffError(f"{key} must be a list of versions: [[{key}]] with valid_from and prices")
    return _sorted([_plan_version(item, f"{key}[{i}]") for i, item in enumerate(raw)], key)


def _plan_version(raw: Any, key: str) -> t.PlanVersion:
    """One version of a plan; its kind follows from its keys (`blocks`, `peak`, or prices)."""
    entry = _mapping(raw, key)
    kind = t.BLOCKS if "blocks" in entry else t.TIME_OF_USE if "peak" in entry else t.FLAT
    allowed = {t.BLOCKS: {"blocks"}, t.TIME_OF_USE: {"peak", "intermediate", *t.PERIODS},
               t.FLAT: {"tusd", "te", "price_per_kwh"}}[kind]
    _known(entry, {"valid_from", "kind", *allowed}, key)
    if entry.get("kind", kind) != kind:
        raise TariffError(f"{key}.kind says {entry['kind']!r} but its keys describe a {kind} plan "
                          "(blocks: `blocks`; time_of_use: `peak`; flat: `tusd`/`te` or `price_per_kwh`)")
    valid_from = _date(entry.get("valid_from"), f"{key}.valid_from")
    if kind == t.BLOCKS:
        return t.PlanVersion(valid_from, kind, blocks=_blocks(entry["blocks"], f"{key}.blocks"))
    if kind == t.TIME_OF_USE:
        return t.PlanVersion(valid_from, kind, time_of_use=_time_of_use(entry, key))
    return t.PlanVersion(valid_from, kind, rate=_rate(entry, key))


def _rate(entry: Mapping[str, Any], key: str) -> t.Rate:
    """`tusd` and `te`, or a single `price_per_kwh`, in BRL per kWh without taxes."""
    has_split = "tusd" in entry or "te" in entry
    if has_split == ("price_per_kwh" in entry) or (has_split and not ("tusd" in entry and "te" in entry)):
        raise TariffError(f"{key}: give both tusd and te, or a single price_per_kwh (BRL per kWh without taxes)")
    if has_split:
        return (t.Component("TUSD", _decimal(entry["tusd"], f"{key}.tusd")),
                t.Component("TE", _decimal(entry["te"], f"{key}.te")))
    return (t.Component("Energia elétrica", _decimal(entry["price_per_kwh"], f"{key}.price_per_kwh")),)


def _blocks(raw: Any, key: str) -> tuple[t.Block, ...]:
    """Consumption blocks, each `{ up_to_kwh = ..., tusd/te or price_per_kwh }`, the last unbounded."""
    if not isinstance(raw, list) or not raw:
        raise TariffError(f"{key} must be a list of blocks such as [{{ up_to_kwh = 100, tusd = \"0.3\", te = \"0.2\" }}, {{ tusd = \"0.4\", te = \"0.3\" }}]")
    blocks, low = [], Decimal(0)
    for i, item in enumerate(raw):
        entry, where = _mapping(item, f"{key}[{i}]"), f"{key}[{i}]"
        _known(entry, {"up_to_kwh", "tusd", "te", "price_per_kwh"}, where)
        last = i == len(raw) - 1
        if last != ("up_to_kwh" not in entry):
            raise TariffError(f"{where}: every block but the last has up_to_kwh; the last has none (no upper bound)")
        bound = None if last else _decimal(entry["up_to_kwh"], f"{where}.up_to_kwh")
        if bound is not None and bound <= low:
            raise TariffError(f"{where}.up_to_kwh must be above the previous block's ({low})")
        blocks.append(t.Block(bound, _rate(entry, where)))
        low = bound if bound is not None else low
    labels = {tuple(c.label for c in block.rate) for block in blocks}
    if len(labels) > 1:
        raise TariffError(f"{key}: every block must name the same prices (all tusd/te, or all price_per_kwh)")
    return tuple(blocks)


def _time_of_use(entry: Mapping[str, Any], key: str) -> t.TimeOfUse:
    """`peak = ["18:00", "21:00"]`, `intermediate = [["17:00", "18:00"], ...]`, and a rate per period."""
    peak = (_window(entry["peak"], f"{key}.peak"),)
    intermediate = tuple(_window(item, f"{key}.intermediate[{i}]")
                         for i, item in enumerate(_list(entry, "intermediate", key)))
    spans = sorted((w.start, w.end) for w in (*peak, *intermediate))
    for (_, end), (start, _) in zip(spans, spans[1:]):
        if start < end:
            raise TariffError(f"{key}: the peak and intermediate windows overlap")
    missing = [period for period in t.PERIODS if period not in entry]
    if missing:
        raise TariffError(f"{key}: give the prices of every period ({', '.join(t.PERIODS)}), "
                          f"e.g. {missing[0]} = {{ tusd = \"0.40\", te = \"0.30\" }}")
    rates = {period: _rate(_mapping(entry[period], f"{key}.{period}"), f"{key}.{period}") for period in t.PERIODS}
    if len({tuple(c.label for c in rate) for rate in rates.values()}) > 1:
        raise TariffError(f"{key}: every period must name the same prices (all tusd/te, or all price_per_kwh)")
    return t.TimeOfUse(peak, intermediate, rates)


def _window(raw: Any, key: str) -> t.Window:
    """`["HH:MM", "HH:MM"]` of local time, start before end; "24:00" is the end of the day."""
    if not (isinstance(raw, list) and len(raw) == 2 and all(isinstance(x, str) for x in raw)):
        raise TariffError(f"{key} must be a pair of local times such as [\"18:00\", \"21:00\"]")
    start, end = (_minutes(raw[0], key), _minutes(raw[1], key))
    if not start < end:
        raise TariffError(f"{key}: the window must end after it starts (it cannot cross midnight)")
    return t.Window(start, end)


def _minutes(text: str, key: str) -> int:
    """Minutes past midnight of `HH:MM` (24:00 is 1440)."""
    match = CLOCK_RE.fullmatch(text)
    minutes = int(match.group(1)) * 60 + int(match.group(2)) if match else -1
    if not 0 <= minutes <= 1440:
        raise TariffError(f"{key}: {text!r} is not a time of day HH:MM from 00:00 to 24:00")
    return minutes


def _taxes(raw: Any, key: str) -> t.Taxes:
    """`icms` (a rate, or bands by billed kWh), `pis`, `cofins` and the gross-up `formula`."""
    entry = _mapping(raw, key)
    _known(entry, {"valid_from", "icms", "pis", "cofins", "formula"}, key)
    icms_raw = entry.get("icms", "0")
    if isinstance(icms_raw, list):
        icms = _bands(icms_raw, f"{key}.icms", "rate")
    else:
        icms = (t.Band(None, _fraction(icms_raw, f"{key}.icms")),)
    taxes = t.Taxes(
        _date(entry.get("valid_from"), f"{key}.valid_from"),
        icms,
        _fraction(entry.get("pis", "0"), f"{key}.pis"),
        _fraction(entry.get("cofins", "0"), f"{key}.cofins"),
        _choice(entry, "formula", key, [t.CLASSIC, t.TWO_STAGE], t.CLASSIC),
    )
    for band in taxes.icms:
        if taxes.pis + taxes.cofins + band.value >= 1:
            raise TariffError(f"{key}: ICMS + PIS + COFINS must stay below 1 (they are fractions: 0.18 is 18 %)")
    return taxes


def _flag_values(raw: Any, key: str) -> t.FlagValues:
    """The surcharge of each flag, BRL per 100 kWh."""
    entry = _mapping(raw, key)
    _known(entry, {"valid_from", *t.FLAGS}, key)
    values = {flag: _decimal(entry[flag], f"{key}.{flag}") for flag in t.FLAGS if flag in entry}
    return t.FlagValues(_date(entry.get("valid_from"), f"{key}.valid_from"), {"verde": Decimal(0), **values})


def _flag_months(table: Mapping[str, Any]) -> dict[tuple[int, int], str]:
    """`"YYYY-MM" = "amarela"`: the flag of each calendar month."""
    months = {}
    for month, flag in table.items():
        match = MONTH_RE.fullmatch(month)
        if not match:
            raise TariffError(f"tariff.flag_months: {month!r} is not a month such as \"2025-05\"")
        if flag not in t.FLAGS:
            raise TariffError(f"tariff.flag_months.\"{month}\" must be one of {', '.join(t.FLAGS)}, not {flag!r}")
        months[(int(match.group(1)), int(match.group(2)))] = flag
    return months


def _check_flags(schedule: t.Schedule) -> None:
    """Every flag named for a month has a surcharge in force that month."""
    for (year, month), flag in schedule.flag_months.items():
        values = t.in_force(schedule.flag_values, date(year, month, 1))
        if flag != "verde" and (values is None or flag not in values.per_100_kwh):
            raise TariffError(f"tariff.flag_months.\"{year:04d}-{month:02d}\" is {flag}, but no [[tariff.flags]] "
                              f"in force on {year:04d}-{month:02d}-01 gives its surcharge")


def _banded(raw: Any, key: str, name: str, fixed: bool = True) -> t.BandedCharge:
    """`amount = "15.00"` (fixed) or `bands = [{ up_to_kwh = 50, amount = "0" }, ...]`."""
    entry = _mapping(raw, key)
    _known(entry, {"valid_from", "bands", *([name] if fixed else [])}, key)
    valid_from = _date(entry.get("valid_from"), f"{key}.valid_from")
    if fixed and (name in entry) == ("bands" in entry):
        raise TariffError(f"{key}: give either {name} (fixed) or bands (by billed kWh)")
    if fixed and name in entry:
        return t.BandedCharge(valid_from, (t.Band(None, _decimal(entry[name], f"{key}.{name}")),))
    if "bands" not in entry:
        raise TariffError(f"{key}: give bands such as [{{ up_to_kwh = 80, {name} = \"1\" }}]")
    bands = _bands(entry["bands"], f"{key}.bands", name, last_unbounded=fixed)
    if not fixed and any(band.value > 1 for band in bands):
        raise TariffError(f"{key}.bands: a {name} is a fraction from 0 to 1 (0.65 is 65 %)")
    return t.BandedCharge(valid_from, bands)


def _bands(raw: Any, key: str, name: str, last_unbounded: bool = True) -> tuple[t.Band, ...]:
    """`[{ up_to_kwh = 150, <name> = ... }, ..., { <name> = ... }]` with rising bounds."""
    if not isinstance(raw, list) or not raw:
        raise TariffError(f"{key} must be a list such as [{{ up_to_kwh = 150, {name} = \"0.12\" }}, {{ {name} = \"0.17\" }}]")
    bands, low = [], Decimal(0)
    for i, item in enumerate(raw):
        entry, where = _mapping(item, f"{key}[{i}]"), f"{key}[{i}]"
        _known(entry, {"up_to_kwh", name}, where)
        if name not in entry:
            raise TariffError(f"{where} needs {name}")
        open_ended = "up_to_kwh" not in entry
        if open_ended and (i != len(raw) - 1):
            raise TariffError(f"{where}: only the last band may leave out up_to_kwh")
        if last_unbounded and i == len(raw) - 1 and not open_ended:
            raise TariffError(f"{where}: the last band has no up_to_kwh (it holds everything above)")
        bound = None if open_ended else _decimal(entry["up_to_kwh"], f"{where}.up_to_kwh")
        if bound is not None and bound <= low:
            raise TariffError(f"{where}.up_to_kwh must be above the previous band's ({low})")
        value = _fraction(entry[name], f"{where}.{name}") if name == "rate" else _decimal(entry[name], f"{where}.{name}")
        bands.append(t.Band(bound, value))
        low = bound if bound is not None else low
    return tuple(bands)


def _versions(table: Mapping[str, Any], name: str, parse: Callable[[Any, str], Any]) -> tuple:
    """`[[tariff.<name>]]` entries, each with its valid_from, in date order."""
    raw = table.get(name, [])
    if not isinstance(raw, list):
        raise TariffError(f"tariff.{name} must be a list of versions: write [[tariff.{name}]] with a valid_from")
    return _sorted([parse(item, f"tariff.{name}[{i}]") for i, item in enumerate(raw)], f"tariff.{name}")


def _sorted(versions: list, key: str) -> tuple:
    """Versions in date order; two with the same `valid_from` are refused."""
    versions.sort(key=lambda version: version.valid_from)
    dates = [version.valid_from for version in versions]
    if len(set(dates)) != len(dates):
        raise TariffError(f"{key}: two versions have the same valid_from")
    return tuple(versions)


def _known(entry: Mapping[str, Any], allowed: set[str], key: str) -> None:
    """Refuse a key this table does not have (a typo must not turn a price off)."""
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise TariffError(f"{key}: unknown key {unknown[0]!r}; the keys here are {', '.join(sorted(allowed))}")


def _mapping(raw: Any, key: str) -> Mapping[str, Any]:
    """A TOML table, or a message that says one is expected."""
    if not isinstance(raw, Mapping):
        raise TariffError(f"{key} must be a table")
    return raw


def _table(table: Mapping[str, Any], name: str, parent: str) -> Mapping[str, Any]:
    """A sub-table, empty when absent."""
    return _mapping(table.get(name, {}), f"{parent}.{name}")


def _list(table: Mapping[str, Any], name: str, parent: str) -> list:
    """A list value, empty when absent."""
    raw = table.get(name, [])
    if not isinstance(raw, list):
        raise TariffError(f"{parent}.{name} must be a list")
    return raw


def _choice(table: Mapping[str, Any], name: str, parent: str, options: list, default: Any) -> Any:
    """One of `options`, or `default` when absent."""
    raw = table.get(name, default)
    if raw not in options:
        named = ", ".join(str(option) for option in options if option is not None)
        raise TariffError(f"{parent}.{name} must be one of {named}, not {raw!r}")
    return raw


def _date(raw: Any, key: str) -> date:
    """A TOML local date (2024-05-28) or the same as a string."""
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    if isinstance(raw, str) and DATE_RE.fullmatch(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise TariffError(f"{key} must be a date such as 2024-05-28, not {raw!r}")


def _decimal(raw: Any, key: str) -> Decimal:
    """A finite number of zero or more, from a decimal string or a TOML number."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise TariffError(f"{key} must be a number or a decimal string such as \"0.45\", not {raw!r}")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise TariffError(f"{key} must be a decimal number such as \"0.45\", not {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise TariffError(f"{key} must be a finite number of zero or more, not {raw!r}")
    return value


def _fraction(raw: Any, key: str) -> Decimal:
    """A rate from 0 to below 1 (0.18 is 18 %)."""
    value = _decimal(raw, key)
    if value >= 1:
        raise TariffError(f"{key} is a fraction below 1 (write 0.18 for 18 %), not {raw!r}")
    return value
