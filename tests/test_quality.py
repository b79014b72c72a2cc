"""Validation of reading times and classification of register steps (SPEC §4)."""

from core import quality
from core.quality import classify_step, time_rejection
from core.wire import Reading

HOUR = 3_600_000
LIMIT_W = 60_000


def test_readings_more_than_five_minutes_ahead_are_rejected():
    now = 1_700_000_000_000
    assert time_rejection(Reading(1, now + 300_000, 0), now) is None
    assert time_rejection(Reading(1, now + 300_001, 0), now)[0] == quality.FUTURE


def test_readings_before_2000_are_rejected():
    now = 1_700_000_000_000
    assert time_rejection(Reading(1, 946_684_800_000, 0), now) is None
    assert time_rejection(Reading(1, 946_684_799_999, 0), now)[0] == quality.TOO_OLD


def test_a_normal_step_counts_its_difference():
    step = classify_step(0, 1_000, HOUR, 2_500, LIMIT_W)
    assert (step.counted_wh, step.flag, step.power_w, step.adjust_wh) == (1_500, None, 1_500, 0)


def test_a_step_above_the_physical_limit_is_counted_and_flagged():
    step = classify_step(0, 0, HOUR, 60_001, LIMIT_W)
    assert (step.counted_wh, step.flag, step.adjust_wh) == (60_001, quality.JUMP, 0)
    assert classify_step(0, 0, HOUR, 60_000, LIMIT_W).flag is None


def test_a_reset_counts_the_new_value_when_plausible():
    step = classify_step(0, 50_000, HOUR, 700, LIMIT_W)
    assert (step.counted_wh, step.flag) == (700, quality.RESET)
    assert step.adjust_wh == 50_000  # later registers are lifted by what the meter had before


def test_a_replacement_counts_nothing_and_takes_a_new_baseline():
    step = classify_step(0, 50_000, 5_000, 40_000, LIMIT_W)  # 40 kWh in 5 s is impossible
    assert (step.counted_wh, step.flag) == (0, quality.REPLACEMENT)
    assert step.adjust_wh == 10_000
