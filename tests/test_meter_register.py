"""The meter's register: every fraction of a watt-hour counted, never backwards, kept across restarts."""

from __future__ import annotations

import json
import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from meter.device import Meter
from meter.premises import household
from meter.profiles import Constant
from meter.register import MJ_PER_WH, Register, StateError, energy_mj, load_state, save_state, state_path

ZONE = ZoneInfo("America/Sao_Paulo")
T0 = int(datetime(2024, 3, 4, 12, tzinfo=ZONE).timestamp() * 1000)
SECOND = 1000
HOUR = 3600 * SECOND


def steady_meter(watts: float, **kwargs) -> Meter:
    """A meter drawing exactly `watts`."""
    return Meter(7, Constant(watts, jitter=0), ZONE, random.Random(0), **kwargs)


def test_fractions_of_a_watt_hour_are_carried_not_rounded_away():
    meter = steady_meter(100)  # 100 W for 5 s is 0.139 Wh: each step alone would round to nothing
    meter.read(T0)
    readings = [meter.read(T0 + step * 5 * SECOND) for step in range(1, 721)]  # one hour
    assert readings[-1].wh == 100
    assert meter.register.remainder_mj == 0


def test_register_add_keeps_the_remainder():
    register = Register()
    for _ in range(10):
        register.add(MJ_PER_WH // 4)
    assert (register.wh, register.remainder) == (2, 0.5)


def test_register_never_goes_backwards():
    register = Register(wh=10, remainder_mj=MJ_PER_WH // 2)
    for amount in (-3, 0):
        register.add(amount)
    assert (register.wh, register.remainder) == (10, 0.5)


@pytest.mark.parametrize("watts", [-5.0, float("nan"), float("inf"), float("-inf")])
def test_a_nonsensical_power_counts_no_energy(watts):
    assert energy_mj(watts, 5000) == 0


def test_timestamps_strictly_increase_even_when_the_clock_goes_back():
    meter = steady_meter(500)
    stamps = [meter.read(now).ts_ms for now in (T0, T0 + 5000, T0 + 4000, T0 + 5000, T0 + 9000)]
    assert stamps == [T0, T0 + 5000, T0 + 5001, T0 + 5002, T0 + 9000]


def test_energy_follows_power_times_time():
    meter = steady_meter(1200)
    meter.read(T0)
    assert meter.read(T0 + HOUR).wh == 1200


def test_a_long_step_samples_the_profile_along_the_way():
    home = Meter(1, household(4), ZONE, random.Random(4))
    stepwise = Meter(1, household(4), ZONE, random.Random(4))
    home.read(T0)
    stepwise.read(T0)
    day_at_once = home.read(T0 + 24 * HOUR).wh
    for minute in range(1, 24 * 60 + 1):
        day_by_minute = stepwise.read(T0 + minute * 60 * SECOND).wh
    assert day_at_once == day_by_minute
    assert 2_500 <= day_at_once <= 10_000


def test_state_file_round_trip(tmp_path):
    path = state_path(tmp_path, 42)
    register = Register(wh=123_456, remainder_mj=MJ_PER_WH * 3 // 4, ts_ms=T0)
    save_state(path, register)
    assert path == tmp_path / "meters" / "42.json"
    assert json.loads(path.read_text()) == {"ts_ms": T0, "wh": 123_456, "remainder": 0.75}
    assert load_state(path) == register
    assert not path.with_name("42.json.tmp").exists()


def test_no_state_file_means_a_new_meter(tmp_path):
    assert load_state(tmp_path / "meters" / "1.json") is None


def test_restart_continues_from_the_stored_register_without_inventing_the_time_off(tmp_path):
    path = state_path(tmp_path, 7)
    first = Meter.restore(7, Constant(1000, jitter=0), ZONE, random.Random(0), path)
    first.read(T0)
    last = first.read(T0 + HOUR // 2)
    first.save()

    again = Meter.restore(7, Constant(1000, jitter=0), ZONE, random.Random(0), path)
    restart = T0 + 10 * HOUR  # off for 9.5 hours
    resumed = again.read(restart)
    later = again.read(restart + HOUR // 2)
    assert (last.wh, resumed.wh, later.wh) == (500, 500, 1000)
    assert resumed.ts_ms > last.ts_ms


def test_restart_with_a_clock_behind_the_stored_state_keeps_time_and_register_moving_forward(tmp_path):
    path = state_path(tmp_path, 7)
    save_state(path, Register(wh=900, remainder_mj=MJ_PER_WH - 1, ts_ms=T0))
    meter = Meter.restore(7, Constant(1000, jitter=0), ZONE, random.Random(0), path)
    reading = meter.read(T0 - HOUR)
    assert reading.ts_ms == T0 + 1
    assert reading.wh >= 900


@pytest.mark.parametrize("remainder_mj", [0, 1, 123_457, MJ_PER_WH // 3, MJ_PER_WH - 1])
def test_the_remainder_survives_the_state_file_exactly(tmp_path, remainder_mj):
    path = state_path(tmp_path, 3)
    save_state(path, Register(wh=5, remainder_mj=remainder_mj, ts_ms=T0))
    assert load_state(path) == Register(wh=5, remainder_mj=remainder_mj, ts_ms=T0)


@pytest.mark.parametrize("content", [
    "",
    "{not json",
    "[]",
    '{"ts_ms": 1, "wh": 2}',
    '{"ts_ms": 1, "wh": -2, "remainder": 0}',
    '{"ts_ms": 1, "wh": 2, "remainder": 1.5}',
    '{"ts_ms": 1, "wh": 2.5, "remainder": 0}',
    '{"ts_ms": 1, "wh": 9223372036854775808, "remainder": 0}',
    '{"ts_ms": 1, "wh": 2, "remainder": NaN}',
    '{"ts_ms": true, "wh": 2, "remainder": 0}',
])
def test_a_corrupted_state_file_is_a_clear_error_not_a_reset(tmp_path, content):
    path = state_path(tmp_path, 7)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(StateError, match="7.json.*delete it"):
        Meter.restore(7, Constant(100), ZONE, random.Random(0), path)
    assert path.read_text() == content  # left for the operator to look at
