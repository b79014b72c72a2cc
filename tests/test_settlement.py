"""Closing cycles and the two SPEC §6 alerts, on readings stored through the real store."""

import random
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.customers import delete_customer, register
from core.models import Alert, Bill, Customer, MeterState, Reading
from core.periods import to_ms
from core.settlement import settle
from core.wire import Reading as Wire
from core.wire import encode, topic_for
from ingest.store import Message, store_batch


def at(*parts):
    return to_ms(datetime(*parts, tzinfo=timezone.utc))


# Closing day 10, UTC. Hand-computed:
#   bill 2024-02 [Jan 10, Feb 10): first reading Jan 15 at 0 Wh, Feb 10 at 100 kWh -> 100 kWh, R$ 65.00
#   bill 2024-03 [Feb 10, Mar 10): 100 -> 220 kWh                                   -> 120 kWh, R$ 78.00
#   bill 2024-04 [Mar 10, Apr 10): excess threshold = mean(100, 120) + 150 = 260 kWh.
#       Mar 20: 479.999 kWh (259.999 in the cycle, just under); Mar 25: 480 kWh (260, reaches it)
#       Apr 10: 500 kWh -> 280 kWh, R$ 182.00; variation 280 - 120 = 160 >= 100
HISTORY = [
    (at(2024, 1, 15), 0),
    (at(2024, 2, 10), 100_000),
    (at(2024, 3, 10), 220_000),
    (at(2024, 3, 20), 479_999),
    (at(2024, 3, 25), 480_000),
    (at(2024, 4, 10), 500_000),
]


@pytest.fixture
def utc(settings):
    return settings.with_overrides(timezone="UTC")


def deliver(db, settings, readings, meter=7):
    received = max(ts for ts, _ in readings) + 1_000
    batch = [Message(topic_for(meter), encode(Wire(meter, ts, wh)), received) for ts, wh in readings]
    with db.begin() as session:
        return store_batch(session, batch, settings, received)


def enrol(db, settings, meter=7):
    with db.begin() as session:
        _, token = register(session, meter, "Ana", "Rua A, 1", settings, at(2024, 1, 1))
    return token


def bills(db, meter=7):
    with db() as session:
        return [(b.ano, b.mes, b.consumo_kwh, b.valor) for b in session.scalars(
            select(Bill).where(Bill.customer_id == meter).order_by(Bill.ano, Bill.mes))]


SPEC_KINDS = ("excesso", "variacao")  # the early warnings of issue 4 have tests of their own


def alerts(db, meter=7, kinds=SPEC_KINDS):
    with db() as session:
        return list(session.scalars(
            select(Alert).where(Alert.customer_id == meter, Alert.tipo.in_(kinds)).order_by(Alert.id)))


def test_three_cycles_are_billed_and_each_alert_raised_once_at_the_right_reading(db, utc):
    enrol(db, utc)
    for reading in HISTORY:
        deliver(db, utc, [reading])
    assert bills(db) == [
        (2024, 2, "100.000", "65.00"),
        (2024, 3, "120.000", "78.00"),
        (2024, 4, "280.000", "182.00"),
    ]
    raised = alerts(db)
    assert [(a.tipo, a.ano, a.mes) for a in raised] == [("excesso", 2024, 4), ("variacao", 2024, 4)]
    excess, variation = raised
    assert excess.detalhes["leitura"] == "2024-03-25T00:00:00+00:00"
    assert excess.detalhes["consumo_kwh"] == 260.0 and excess.detalhes["limite_kwh"] == 260.0
    assert variation.detalhes["consumo_kwh"] == 280.0 and variation.detalhes["consumo_anterior_kwh"] == 120.0
    assert variation.detalhes["leitura"] == "2024-04-10T00:00:00+00:00"


def test_just_under_the_threshold_raises_nothing(db, utc):
    enrol(db, utc)
    for reading in HISTORY[:4]:
        deliver(db, utc, [reading])
    assert alerts(db) == []
    with db() as session:
        assert Decimal(session.get(MeterState, 7).excess_at) == 480_000  # armed: 220 kWh + 260 kWh


def test_a_threshold_passed_while_the_meter_was_silent_raises_excess_when_the_cycle_closes(db, utc):
    """No reading of cycle 2024-04 reaches the threshold: the meter is silent from Mar 10 to Apr 12.
    The closed bill shows it passed (Apr 10 lies on the way to Apr 12), so `excesso` is raised."""
    enrol(db, utc)
    for reading in HISTORY[:3] + [(at(2024, 4, 12), 600_000)]:
        deliver(db, utc, [reading])
    [april] = [bill for bill in bills(db) if bill[:2] == (2024, 4)]
    assert Decimal(april[2]) >= 260
    [excess] = alerts(db, kinds=("excesso",))
    assert (excess.ano, excess.mes, excess.detalhes["leitura"]) == (2024, 4, "2024-04-12T00:00:00+00:00")
    assert excess.detalhes["consumo_kwh"] == float(april[2]) and excess.detalhes["limite_kwh"] == 260.0


def test_redelivery_of_everything_changes_nothing(db, utc):
    enrol(db, utc)
    for reading in HISTORY:
        deliver(db, utc, [reading])
    before = (bills(db), [(a.id, a.tipo, a.cause) for a in alerts(db)])
    deliver(db, utc, HISTORY)
    deliver(db, utc, HISTORY[::-1])
    assert (bills(db), [(a.id, a.tipo, a.cause) for a in alerts(db)]) == before


def test_out_of_order_arrival_inside_the_open_cycle_raises_excess_once(db, utc):
    enrol(db, utc)
    deliver(db, utc, HISTORY[:3])
    late = [(at(2024, 3, 11 + day), 220_000 + 30_000 * day) for day in range(1, 20)]  # 260 kWh from day 9
    random.Random(7).shuffle(late)
    first_crossing_to_arrive = next(ts for ts, wh in late if wh - 220_000 >= 260_000)
    for reading in late:
        deliver(db, utc, [reading])
    excess = [a for a in alerts(db) if a.tipo == "excesso"]
    assert len(excess) == 1
    # The alert names the reading that made the stored consumption cross, when it arrived.
    assert excess[0].detalhes["leitura"] == datetime.fromtimestamp(
        first_crossing_to_arrive / 1000, timezone.utc).isoformat()


def test_a_closed_bill_never_changes_when_a_late_reading_arrives(db, utc):
    enrol(db, utc)
    for reading in HISTORY[:3]:
        deliver(db, utc, [reading])
    deliver(db, utc, [(at(2024, 2, 20), 190_000)])  # late, inside the closed March cycle
    assert bills(db)[1] == (2024, 3, "120.000", "78.00")


def test_readings_sent_before_registration_are_billed_at_registration(db, utc):
    deliver(db, utc, HISTORY)
    assert bills(db) == [] and alerts(db) == []
    enrol(db, utc)
    assert [bill[:3] for bill in bills(db)] == [(2024, 2, "100.000"), (2024, 3, "120.000"), (2024, 4, "280.000")]
    assert sorted(a.tipo for a in alerts(db)) == ["excesso", "variacao"]


def test_settling_twice_leaves_one_bill_per_cycle_and_one_alert_per_cause(db, utc):
    enrol(db, utc)
    deliver(db, utc, HISTORY)
    with db.begin() as session:
        state = session.get(MeterState, 7)
        customer = session.get(Customer, 7)
        settle(session, customer, state, utc, at(2024, 5, 1))
        settle(session, customer, state, utc, at(2024, 5, 1))
    assert len(bills(db)) == 3 and len(alerts(db)) == 2


def test_deleting_a_customer_removes_its_data_and_a_new_registration_starts_empty(db, utc):
    enrol(db, utc)
    deliver(db, utc, HISTORY)
    with db.begin() as session:
        assert delete_customer(session, 7)
        assert not delete_customer(session, 7)
    enrol(db, utc)
    assert bills(db) == [] and alerts(db) == []
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Reading).where(Reading.meter_id == 7)) == 0
    deliver(db, utc, [(at(2024, 5, 1), 10), (at(2024, 5, 2), 20)])
    with db() as session:
        state = session.get(MeterState, 7)
        assert (state.first_ts, state.readings, state.registered) == (at(2024, 5, 1), 2, True)


def test_a_late_reading_before_the_first_freezes_the_cycles_it_closes(db, utc):
    enrol(db, utc)
    deliver(db, utc, HISTORY[2:4])  # Mar 10 and Mar 20: one open cycle (April), nothing closed
    assert bills(db) == []
    deliver(db, utc, HISTORY[:2])  # Jan 15 and Feb 10 arrive late: February and March are closed
    assert [bill[:3] for bill in bills(db)] == [(2024, 2, "100.000"), (2024, 3, "120.000")]
