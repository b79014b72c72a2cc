"""How a cycle is cut into pieces and time-of-use periods, in local time, across DST (pure)."""

import tomllib
from decimal import Decimal
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from core.config import Settings, apply_toml
from core.periods import to_ms, wall_instant
from core.tariffs import INTERMEDIATE, OFF_PEAK, PEAK
from core.usage import layout

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
HOUR = 3_600_000
BRANCA = """
[tariff]
default_plan = "branca"
[[tariff.plans.branca]]
valid_from = 2018-01-01
peak = ["18:00", "21:00"]
intermediate = [["17:00", "18:00"], ["21:00", "22:00"]]
ponta = { price_per_kwh = "1" }
intermediario = { price_per_kwh = "1" }
fora_ponta = { price_per_kwh = "1" }
[[tariff.taxes]]
valid_from = 2018-11-05
icms = "0.25"
[[tariff.flags]]
valid_from = 2018-01-01
amarela = "1"
[tariff.flag_months]
"2018-10" = "amarela"
"2018-11" = "amarela"
"""


def utc(*parts):
    return to_ms(datetime(*parts, tzinfo=timezone.utc))


def test_a_wall_time_inside_a_dst_gap_is_the_end_of_the_gap():
    # 2018-11-04: 00:00 -03 jumped to 01:00 -02 (03:00 UTC); 00:30 never happened
    assert wall_instant(date(2018, 11, 4), 30, SAO_PAULO) == utc(2018, 11, 4, 3)
    assert wall_instant(date(2018, 11, 4), 0, SAO_PAULO) == utc(2018, 11, 4, 3)
    # 2019-02-16 23:30 happened twice (clocks went back at midnight); the first is at -02
    assert wall_instant(date(2019, 2, 16), 23 * 60 + 30, SAO_PAULO) == utc(2019, 2, 17, 1, 30)


def test_time_of_use_periods_follow_local_time_across_the_dst_change():
    # Sat 2018-11-03 to Tue 11-06: the weekend is off-peak (Sunday the 4th lasts 23 h), Monday's
    # peak is 18:00-21:00 at -02, that is 20:00-23:00 UTC.
    schedule = apply_toml(Settings(), tomllib.loads(BRANCA)).schedule
    start, end = to_ms(datetime(2018, 11, 3, tzinfo=SAO_PAULO)), to_ms(datetime(2018, 11, 6, tzinfo=SAO_PAULO))
    usage = layout(start, end, SAO_PAULO, schedule, None)
    assert [piece.span.first_day for piece in usage.energy] == [date(2018, 11, 3), date(2018, 11, 5)]  # taxes change
    weekend, monday = usage.energy
    assert weekend.intervals == ((start, utc(2018, 11, 5, 2), OFF_PEAK),)
    assert weekend.span.end - weekend.span.start == 47 * HOUR and weekend.span.days == 2
    assert monday.intervals == (
        (utc(2018, 11, 5, 2), utc(2018, 11, 5, 19), OFF_PEAK),
        (utc(2018, 11, 5, 19), utc(2018, 11, 5, 20), INTERMEDIATE),
        (utc(2018, 11, 5, 20), utc(2018, 11, 5, 23), PEAK),
        (utc(2018, 11, 5, 23), utc(2018, 11, 6, 0), INTERMEDIATE),
        (utc(2018, 11, 6, 0), end, OFF_PEAK),
    )
    # October and November are both amarela at the same price, but the taxes differ from the 5th
    assert [(p.span.first_day, p.span.last_day) for p in usage.flags] == [
        (date(2018, 11, 3), date(2018, 11, 4)), (date(2018, 11, 5), date(2018, 11, 5))]


def test_measured_energy_of_each_period_adds_up_to_the_piece():
    schedule = apply_toml(Settings(), tomllib.loads(BRANCA)).schedule
    start, end = to_ms(datetime(2018, 11, 5, tzinfo=SAO_PAULO)), to_ms(datetime(2018, 11, 6, tzinfo=SAO_PAULO))
    usage = layout(start, end, SAO_PAULO, schedule, None)
    steady = {instant: Decimal(instant - start) / HOUR * 1000 for instant in usage.instants()}  # 1 kW
    [piece] = usage.measured(steady).energy
    assert piece.by_period == {OFF_PEAK: 19_000, INTERMEDIATE: 2_000, PEAK: 3_000}
    assert piece.wh == sum(piece.by_period.values()) == 24_000
