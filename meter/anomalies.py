"""Faults a simulated meter can be told to show, so the rest of the platform can be seen handling them.

`--anomaly ID:KIND[@AT][,OPTION=VALUE...]`, repeatable:

| kind | what the meter does | options (defaults) | what the platform shows |
|---|---|---|---|
| `stuck-heater` | a water heater stuck on, on top of the usual loads | `for=1h`, `kw=9.5` | readings whose steps imply ~10 kW, sustained; a `potencia` alert where that rule exists |
| `reset` | the register drops to 0 | | a `reset` flag; the energy after it still counts |
| `replaced` | a new meter whose register starts at `kwh` | `kwh=12345` | a `replacement` flag when that is below the old register; a `jump` (counted, bill marked for review) when above |
| `offline` | no connection; readings wait in the meter | `for=30m` | the backlog arrives late and is stored in order |
| `clock-skew` | timestamps off by `by` | `by=+10m`, `for=1h` | more than 5 min ahead: rejected as `future_timestamp` |
| `duplicates` | every reading sent `copies` times | `for=1m`, `copies=3` | one stored row per reading; the worker counts duplicates |

AT is when it starts: omitted, at the start of the run; a duration (`2h`, `+2h`) after the start
of the run's simulated clock (`--since`, else the moment it started); a negative duration (`-30m`)
before the moment the run started; or an ISO time (`2026-11-20T18:00`, local). Pure: parsing,
and the effects as functions of a reading's time; `meter.device` and `meter.publisher` apply them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable
from zoneinfo import ZoneInfo

from core.wire import Reading
from meter.profiles import During
from meter.timeline import parse_duration, parse_instant

STUCK_HEATER = "stuck-heater"
RESET = "reset"
REPLACED = "replaced"
OFFLINE = "offline"
CLOCK_SKEW = "clock-skew"
DUPLICATES = "duplicates"

# Options each kind takes, with their defaults (durations as text, parsed like the command line).
OPTIONS: dict[str, dict[str, str]] = {
    STUCK_HEATER: {"for": "1h", "kw": "9.5"},
    RESET: {},
    REPLACED: {"kwh": "12345"},
    OFFLINE: {"for": "30m"},
    CLOCK_SKEW: {"by": "+10m", "for": "1h"},
    DUPLICATES: {"for": "1m", "copies": "3"},
}
MAX_COPIES = 100


@dataclass(frozen=True)
class Anomaly:
    """One fault of one meter, its start not yet placed on the clock (see `placed`)."""

    meter_id: int | None  # None: the only meter of a `python -m meter --id N` run
    kind: str
    anchor: str  # "start" (of the simulated clock), "now" (when the run started) or "absolute"
    at_ms: int  # offset from the anchor, or the instant itself when absolute
    duration_ms: int = 0
    amount: int = 0  # watts, watt-hours, milliseconds of skew or copies, by kind

    def placed(self, start_ms: int, now_ms: int) -> "Placed":
        """The same fault at its instant, given the simulated clock's start and the run's start."""
        base = {"start": start_ms, "now": now_ms, "absolute": 0}[self.anchor]
        begins = base + self.at_ms
        return Placed(self.kind, begins, begins + self.duration_ms, self.amount)


@dataclass(frozen=True)
class Placed:
    """A fault from `start_ms` up to `end_ms` (equal for the instant ones), with its amount."""

    kind: str
    start_ms: int
    end_ms: int
    amount: int

    def covers(self, ts_ms: int) -> bool:
        """Whether the fault is under way at `ts_ms`."""
        return self.start_ms <= ts_ms < self.end_ms


def parse_anomaly(text: str, zone: ZoneInfo) -> Anomaly:
    """`ID:KIND[@AT][,OPTION=VALUE...]` (the ID may be left out for a single meter); `ValueError` says why."""
    head, *option_texts = [part.strip() for part in text.split(",")]
    meter_text, _, rest = head.partition(":") if ":" in head.split("@")[0] else ("", "", head)
    kind, _, at_text = rest.partition("@")
    kind = kind.strip().lower()
    if kind not in OPTIONS:
        raise ValueError(f"unknown anomaly {kind!r} in {text!r}: use one of {', '.join(OPTIONS)}")
    meter_id = None
    if meter_text:
        if not meter_text.isdigit() or not 1 <= int(meter_text) <= 2**32 - 1:
            raise ValueError(f"{meter_text!r} in {text!r} is not a meter id")
        meter_id = int(meter_text)
    options = dict(OPTIONS[kind])
    for option in option_texts:
        name, equals, value = option.partition("=")
        if not equals or name.strip() not in OPTIONS[kind]:
            allowed = ", ".join(f"{key}=" for key in OPTIONS[kind]) or "none"
            raise ValueError(f"{option!r} is not an option of {kind} (options: {allowed})")
        options[name.strip()] = value.strip()
    anchor, at_ms = _parse_at(at_text.strip(), zone)
    duration_ms, amount = _parse_options(kind, options)
    return Anomaly(meter_id, kind, anchor, at_ms, duration_ms, amount)


def _parse_at(text: str, zone: ZoneInfo) -> tuple[str, int]:
    if not text:
        return "start", 0
    if text.startswith("-"):
        return "now", -parse_duration(text[1:])
    try:
        return "start", parse_duration(text.removeprefix("+"))
    except ValueError:
        return "absolute", parse_instant(text, zone)


def _parse_options(kind: str, options: dict[str, str]) -> tuple[int, int]:
    """(duration in ms, amount) of a kind's options."""
    duration = parse_duration(options["for"]) if "for" in options else 0
    if kind == STUCK_HEATER:
        return duration, round(_number(options["kw"], "kw", 0.1, 100) * 1000)
    if kind == REPLACED:
        return 0, round(_number(options["kwh"], "kwh", 0, 9e12) * 1000)
    if kind == CLOCK_SKEW:
        skew = options["by"]
        sign = -1 if skew.startswith("-") else 1
        return duration, sign * parse_duration(skew.lstrip("+-"))
    if kind == DUPLICATES:
        return duration, round(_number(options["copies"], "copies", 2, MAX_COPIES))
    return duration, 0


def _number(text: str, name: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low:g} to {high:g}, not {text}")
    return value


@dataclass(frozen=True)
class Script:
    """The placed faults of one meter, and what each does to its loads, register and messages."""

    faults: tuple[Placed, ...] = field(default_factory=tuple)

    def loads(self) -> tuple[During, ...]:
        """Extra loads to add to the meter's premises (stuck heaters)."""
        return tuple(During(f.amount, f.start_ms, f.end_ms) for f in self._of(STUCK_HEATER))

    def register_settings(self) -> tuple[tuple[int, int], ...]:
        """(instant, new register in Wh) of each reset or replacement, in time order."""
        return tuple(sorted((f.start_ms, f.amount) for f in self._of(RESET, REPLACED)))

    def offline(self, ts_ms: int) -> bool:
        """Whether the meter has no connection at `ts_ms`."""
        return any(f.covers(ts_ms) for f in self._of(OFFLINE))

    def on_wire(self, reading: Reading) -> list[Reading]:
        """What the meter sends for `reading`: its clock's skew applied, repeated during a burst of duplicates."""
        skew = sum(f.amount for f in self._of(CLOCK_SKEW) if f.covers(reading.ts_ms))
        copies = max((f.amount for f in self._of(DUPLICATES) if f.covers(reading.ts_ms)), default=1)
        sent = replace(reading, ts_ms=reading.ts_ms + skew) if skew else reading
        return [sent] * copies

    def _of(self, *kinds: str) -> Iterable[Placed]:
        return (fault for fault in self.faults if fault.kind in kinds)


NO_FAULTS = Script()


def scripts_for(anomalies: Iterable[Anomaly], start_ms: int, now_ms: int) -> dict[int, Script]:
    """Each meter's script, its faults placed on the clock; anomalies without an id must have been given one."""
    placed: dict[int, list[Placed]] = {}
    for anomaly in anomalies:
        assert anomaly.meter_id is not None, "give single-meter anomalies their id before placing them"
        placed.setdefault(anomaly.meter_id, []).append(anomaly.placed(start_ms, now_ms))
    return {meter_id: Script(tuple(faults)) for meter_id, faults in placed.items()}
