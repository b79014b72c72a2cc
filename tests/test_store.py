"""Storing readings: idempotence, conflicts, out-of-order arrival, resets and rejections (SPEC §4)."""

from datetime import datetime, timezone

import pytest

from sqlalchemy import func, select

from core.models import MeterState, Reading, ReadingFlag, RejectedReading
from core.periods import to_ms
from core.series import Series
from core.wire import Reading as Wire
from core.wire import Rejected
from core.wire import encode, topic_for
from ingest.store import Message, store_batch

T0 = to_ms(datetime(2024, 3, 1, tzinfo=timezone.utc))
MIN = 60_000
HOUR = 60 * MIN


def messages(*readings, meter=7, received=None):
    """Messages for `(ts, wh)` pairs of one meter, received just after the newest one."""
    received = received or max(ts for ts, _ in readings) + 1_000
    return [Message(topic_for(meter), encode(Wire(meter, ts, wh)), received) for ts, wh in readings]


def store(db, settings, batch):
    with db.begin() as session:
        return store_batch(session, batch, settings, max(m.received_ms for m in batch))


def consumption(db, start, end, meter=7):
    with db() as session:
        return Series(session, meter).consumption_wh(start, end)


def rows(db, meter=7):
    with db() as session:
        return session.execute(select(Reading.ts, Reading.wh).where(Reading.meter_id == meter).order_by(Reading.ts)).all()


def test_in_order_readings_are_stored_once_and_summarised(db, settings):
    outcome = store(db, settings, messages((T0, 1_000), (T0 + MIN, 1_010), (T0 + 2 * MIN, 1_030)))
    assert (outcome.stored, outcome.duplicates, sum(outcome.rejected.values())) == (3, 0, 0)
    with db() as session:
        state = session.get(MeterState, 7)
        assert (state.first_ts, state.first_wh, state.last_ts, state.last_wh, state.readings) == (
            T0, 1_000, T0 + 2 * MIN, 1_030, 3)
    assert consumption(db, T0, T0 + 2 * MIN) == 30


def test_redelivered_readings_are_a_no_op(db, settings):
    batch = messages((T0, 1_000), (T0 + MIN, 1_010))
    store(db, settings, batch)
    outcome = store(db, settings, batch + batch)
    assert (outcome.stored, outcome.duplicates) == (0, 4)
    assert rows(db) == [(T0, 1_000), (T0 + MIN, 1_010)]


def test_same_timestamp_with_other_energy_is_rejected_as_conflict_and_the_first_kept(db, settings):
    store(db, settings, messages((T0, 1_000), (T0 + MIN, 1_010)))
    outcome = store(db, settings, messages((T0 + MIN, 9_999)) + messages((T0 + 2 * MIN, 5), (T0 + 2 * MIN, 6)))
    assert outcome.rejected["conflict"] == 2
    assert rows(db) == [(T0, 1_000), (T0 + MIN, 1_010), (T0 + 2 * MIN, 5)]
    with db() as session:
        reasons = session.scalars(select(RejectedReading.reason)).all()
        payloads = session.scalars(select(RejectedReading.payload)).all()
    assert reasons == ["conflict", "conflict"]
    assert encode(Wire(7, T0 + MIN, 9_999)) in payloads  # the refused payload is kept as received


def test_out_of_order_arrival_gives_the_same_consumption_as_in_order(db, settings):
    readings = [(T0 + i * MIN, 1_000 + i * i * 10) for i in range(10)]
    for pair in reversed(readings):
        store(db, settings, messages(pair, received=T0 + HOUR))
    assert rows(db) == readings
    assert consumption(db, T0, T0 + 9 * MIN) == 810
    assert consumption(db, T0 + MIN // 2, T0 + 3 * MIN // 2) == 20  # interpolated: 1005 -> 1025
    with db() as session:
        assert session.scalar(select(func.count()).select_from(ReadingFlag)) == 0


def test_a_reset_counts_the_energy_measured_after_it(db, settings):
    store(db, settings, messages((T0, 50_000), (T0 + HOUR, 50_500), (T0 + 2 * HOUR, 300), (T0 + 3 * HOUR, 800)))
    assert consumption(db, T0, T0 + 3 * HOUR) == 500 + 300 + 500
    with db() as session:
        assert session.scalars(select(ReadingFlag.kind)).all() == ["reset"]


def test_a_replacement_meter_starting_elsewhere_counts_nothing_for_the_step(db, settings):
    store(db, settings, messages((T0, 50_000), (T0 + 5_000, 50_010), (T0 + 10_000, 40_000), (T0 + 15_000, 40_020)))
    assert consumption(db, T0, T0 + 15_000) == 10 + 0 + 20
    with db() as session:
        assert session.scalars(select(ReadingFlag.kind)).all() == ["replacement"]


def test_an_implausible_jump_is_flagged_but_counted(db, settings):
    store(db, settings, messages((T0, 0), (T0 + 5_000, 100_000), (T0 + 10_000, 100_001)))
    assert consumption(db, T0, T0 + 10_000) == 100_001
    with db() as session:
        flag = session.scalars(select(ReadingFlag)).one()
    assert (flag.kind, flag.ts, flag.power_w) == ("jump", T0 + 5_000, 72_000_000)


def test_a_late_reading_before_a_drop_is_reclassified(db, settings):
    store(db, settings, messages((T0, 1_000), (T0 + 2 * HOUR, 10)))
    assert consumption(db, T0, T0 + 2 * HOUR) == 10
    store(db, settings, messages((T0 + HOUR, 1_500)))
    assert consumption(db, T0, T0 + 2 * HOUR) == 510
    with db() as session:
        flags = session.execute(select(ReadingFlag.ts, ReadingFlag.kind)).all()
        assert flags == [(T0 + 2 * HOUR, "reset")]
        assert session.get(MeterState, 7).adjust_wh == 1_500


def test_a_late_reading_before_the_first_moves_the_start(db, settings):
    store(db, settings, messages((T0 + HOUR, 2_000), (T0 + 2 * HOUR, 2_500)))
    store(db, settings, messages((T0, 1_000)))
    with db() as session:
        state = session.get(MeterState, 7)
    assert (state.first_ts, state.first_wh, state.readings) == (T0, 1_000, 3)
    assert consumption(db, T0, T0 + 2 * HOUR) == 1_500


def test_bad_payloads_and_times_land_in_the_rejected_store_with_their_reason(db, settings):
    now = T0 + HOUR
    batch = [
        Message("meters/7/reading", b"not a reading", now),
        Message("meters/07/reading", encode(Wire(7, T0, 1)), now),
        Message("meters/8/reading", encode(Wire(7, T0, 1)), now),
        Message("meters/7/reading", encode(Wire(7, now + 6 * MIN, 1)), now),
        Message("meters/7/reading", encode(Wire(7, 900_000_000_000, 1)), now),
        Message("meters/7/reading", b'{"id": 7, "ts": 1, "kwh": -1}', now),
        Message("meters/7/reading", encode(Wire(7, T0, 1)), now),
    ]
    outcome = store(db, settings, batch)
    assert outcome.stored == 1
    assert dict(outcome.rejected) == {
        "malformed": 2, "bad_topic": 1, "id_mismatch": 1, "future_timestamp": 1, "timestamp_before_2000": 1}
    with db() as session:
        assert session.scalar(select(func.count()).select_from(RejectedReading)) == 6
        assert session.scalar(select(RejectedReading.payload).where(RejectedReading.reason == "bad_topic")) == encode(
            Wire(7, T0, 1))


def test_readings_of_unregistered_meters_are_kept(db, settings):
    store(db, settings, messages((T0, 0), (T0 + HOUR, 500), meter=42))
    assert rows(db, meter=42) == [(T0, 0), (T0 + HOUR, 500)]


def test_a_jump_to_a_huge_register_is_stored_and_flagged_not_an_integer_overflow(db, settings):
    huge = 2**62 + 12_345  # a valid register (below 2^63 Wh) that implies more than 2^63 W
    store(db, settings, messages((T0, 1_000), (T0 + 5_000, huge)))
    assert rows(db) == [(T0, 1_000), (T0 + 5_000, huge)]
    with db() as session:
        flag = session.scalars(select(ReadingFlag)).one()
    assert (flag.kind, flag.power_w) == ("jump", 2**63 - 1)  # the power is shown capped


def test_corrections_that_would_pass_2_63_wh_reject_the_reading_as_register_overflow(db, settings):
    high = 2**62 + 2**61  # two replacements from this high would need 2^63 Wh of corrections
    outcome = store(db, settings, messages((T0, high), (T0 + 5_000, 0), (T0 + 10_000, high), (T0 + 15_000, 0)))
    assert outcome.rejected == {"register_overflow": 1}
    assert rows(db) == [(T0, high), (T0 + 5_000, 0), (T0 + 10_000, high)]
    with db() as session:
        assert session.get(MeterState, 7).adjust_wh == high
        assert session.scalars(select(RejectedReading.reason)).all() == ["register_overflow"]


def test_a_late_reading_whose_corrections_would_pass_2_63_wh_fails_its_batch(db, settings):
    high = 2**62 + 2**61
    store(db, settings, messages((T0, high), (T0 + 5_000, 0), (T0 + 10_000, high), (T0 + 15_000, high + 1)))
    with pytest.raises(Rejected) as refused:  # the worker then stores the batch one by one
        store(db, settings, messages((T0 + 12_500, 0), received=T0 + 20_000))
    assert refused.value.reason == "register_overflow"
    assert len(rows(db)) == 4
