"""Anomalies on demand: the command-line syntax, when each happens, and what it does to a meter."""

from __future__ import annotations

import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from core.periods import to_ms
from core.wire import Reading
from meter.anomalies import OFFLINE, RESET, STUCK_HEATER, Anomaly, Script, parse_anomaly, scripts_for
from meter.device import Meter
from meter.profiles import Constant, Sum

ZONE = ZoneInfo("America/Sao_Paulo")
START = to_ms(datetime(2026, 8, 21, 0, 0, tzinfo=ZONE))
NOW = to_ms(datetime(2026, 11, 24, 19, 0, tzinfo=ZONE))
MINUTE, HOUR = 60_000, 3_600_000


def placed(text: str):
    return parse_anomaly(text, ZONE).placed(START, NOW)


def test_the_examples_of_the_issue():
    heater = parse_anomaly("7:stuck-heater", ZONE)
    assert (heater.meter_id, heater.kind, heater.duration_ms, heater.amount) == (7, STUCK_HEATER, HOUR, 9500)
    assert placed("7:stuck-heater").start_ms == START
    reset = parse_anomaly("12:reset@2h", ZONE)
    assert (reset.meter_id, reset.kind) == (12, RESET)
    assert placed("12:reset@2h").start_ms == START + 2 * HOUR


def test_when_an_anomaly_starts():
    assert placed("1:offline@+1d").start_ms == START + 24 * HOUR
    assert placed("1:offline@-30m").start_ms == NOW - 30 * MINUTE  # before the run started
    assert placed("1:offline@2026-09-01T18:00").start_ms == to_ms(datetime(2026, 9, 1, 18, tzinfo=ZONE))
    assert placed("1:offline@2026-09-01T18:00,for=2h").end_ms == to_ms(datetime(2026, 9, 1, 20, tzinfo=ZONE))


def test_options_and_their_defaults():
    assert placed("3:offline").end_ms - START == 30 * MINUTE
    assert parse_anomaly("3:stuck-heater,for=2h,kw=10", ZONE).amount == 10_000
    assert parse_anomaly("3:replaced", ZONE).amount == 12_345_000
    assert parse_anomaly("3:replaced,kwh=0.5", ZONE).amount == 500
    assert parse_anomaly("3:clock-skew", ZONE).amount == 10 * MINUTE
    assert parse_anomaly("3:clock-skew,by=-1h", ZONE).amount == -HOUR
    assert parse_anomaly("3:duplicates,copies=5", ZONE).amount == 5


def test_a_single_meter_may_leave_out_its_id():
    assert parse_anomaly("reset@2h", ZONE).meter_id is None


@pytest.mark.parametrize("text, message", [
    ("7:meltdown", "unknown anomaly"),
    ("x:reset", "not a meter id"),
    ("7:reset,for=1h", "not an option of reset"),
    ("7:stuck-heater,kw=900", "kw must be"),
    ("7:duplicates,copies=1", "copies must be"),
    ("7:offline@soon", "neither a duration"),
    ("7:offline,for=ever", "not a duration"),
])
def test_mistakes_are_named(text, message):
    with pytest.raises(ValueError, match=message):
        parse_anomaly(text, ZONE)


def test_a_stuck_heater_is_an_extra_load_for_its_time():
    (heater,) = Script((placed("1:stuck-heater@1h,for=2h"),)).loads()
    assert (heater.watts, heater.start_ms, heater.end_ms) == (9500, START + HOUR, START + 3 * HOUR)


def test_clock_skew_and_duplicates_change_only_what_is_sent_during_them():
    script = Script((placed("1:clock-skew@1h,by=+10m,for=1h"), placed("1:duplicates@3h,for=1m,copies=4")))
    before, skewed, repeated = (Reading(1, START + t, 100) for t in (0, HOUR + 1, 3 * HOUR))
    assert script.on_wire(before) == [before]
    assert script.on_wire(skewed) == [Reading(1, skewed.ts_ms + 10 * MINUTE, 100)]
    assert script.on_wire(repeated) == [repeated] * 4


def test_offline_covers_its_interval():
    script = Script((placed("1:offline@1h,for=30m"),))
    assert [script.offline(START + t) for t in (HOUR - 1, HOUR, HOUR + 29 * MINUTE, HOUR + 30 * MINUTE)] == [
        False, True, True, False]


def test_scripts_are_kept_per_meter():
    anomalies = [parse_anomaly(text, ZONE) for text in ("1:reset@1h", "2:offline", "1:replaced@2h")]
    scripts = scripts_for(anomalies, START, NOW)
    assert set(scripts) == {1, 2}
    assert scripts[1].register_settings() == ((START + HOUR, 0), (START + 2 * HOUR, 12_345_000))


def meter_with(script: Script, watts: float = 3600, wh: int = 50_000) -> Meter:
    meter = Meter(1, Sum((Constant(watts, jitter=0), *script.loads())), ZONE, random.Random(0),
                  resets=script.register_settings())
    meter.register.set(wh)
    return meter


def test_a_reset_puts_the_register_to_zero_at_its_instant_and_counts_on():
    meter = meter_with(Script((placed("1:reset@30m"),)))  # 3.6 kW: a watt-hour a second
    meter.read(START)
    assert meter.read(START + 15 * MINUTE).wh == 50_000 + 900
    assert meter.read(START + HOUR).wh == 1800  # the half hour after the reset, on a register from zero
    assert meter.read(START + 2 * HOUR).wh == 1800 + 3600


def test_a_replacement_starts_the_register_elsewhere_once():
    meter = meter_with(Script((placed("1:replaced@1h,kwh=12345"),)))
    meter.read(START)
    assert meter.read(START + HOUR).wh == 12_345_000
    restarted = Meter(1, Constant(3600, jitter=0), ZONE, random.Random(0), register=meter.register,
                      resets=((START + HOUR, 12_345_000),))
    assert restarted.read(START + 2 * HOUR).wh == 12_345_000  # after a restart: not again, and the off time not invented


def test_a_stuck_heater_adds_its_energy_to_the_register():
    meter = meter_with(Script((placed("1:stuck-heater@1h,for=1h,kw=9.5"),)), watts=0, wh=0)
    meter.read(START)
    assert meter.read(START + 3 * HOUR).wh == 9500


def test_anomalies_without_an_id_must_get_one_before_being_placed():
    with pytest.raises(AssertionError):
        scripts_for([Anomaly(None, OFFLINE, "start", 0)], START, NOW)
