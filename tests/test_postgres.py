"""The same store, settlement and API code on PostgreSQL (skipped when no server answers)."""

import pytest
from sqlalchemy import func, select

from core.customers import delete_customer
from core.db import make_engine, make_sessionmaker, migrate
from core.models import Alert, Bill, Reading
from tests import test_settlement as scenario

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(pg_url, settings):
    engine = make_engine(pg_url)
    migrate(engine)
    migrate(engine)  # a second start finds the schema current
    yield make_sessionmaker(engine), settings.with_overrides(db_url=pg_url, timezone="UTC")
    engine.dispose()


def test_three_cycles_bill_and_alert_the_same_on_postgresql(pg):
    db, settings = pg
    scenario.enrol(db, settings)
    for reading in scenario.HISTORY:
        scenario.deliver(db, settings, [reading])
    scenario.deliver(db, settings, scenario.HISTORY)  # redelivered: no-ops
    assert scenario.bills(db) == [
        (2024, 2, "100.000", "65.00"), (2024, 3, "120.000", "78.00"), (2024, 4, "280.000", "182.00")]
    assert [(a.tipo, a.mes) for a in scenario.alerts(db)] == [("excesso", 4), ("variacao", 4)]
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Reading)) == len(scenario.HISTORY)


def test_delete_and_register_again_on_postgresql(pg):
    db, settings = pg
    scenario.enrol(db, settings)
    scenario.deliver(db, settings, scenario.HISTORY)
    with db.begin() as session:
        assert delete_customer(session, 7)
    scenario.enrol(db, settings)
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Bill)) == 0
        assert session.scalar(select(func.count()).select_from(Alert)) == 0


def test_early_warnings_and_silence_the_same_on_postgresql(pg):
    from core.silence import raise_silent
    from tests import test_power_alerts as power
    from tests.support import readings

    db, settings = pg
    readings.enrol(db, settings)
    for batch in power.by_minute(power.HEATER):
        readings.deliver(db, settings, batch)
    readings.deliver(db, settings, power.HEATER[::-1])  # redelivered, newest first
    [alert] = readings.alerts(db, "potencia")
    assert (alert.cause, alert.state, alert.detalhes["leitura"]) == (
        "2024-03-20T10:10:00Z", "encerrado", "2024-03-20T10:25:00+00:00")
    last = power.HEATER[-1][0]
    with db.begin() as session:
        assert raise_silent(session, settings, last + 2 * readings.HOUR, listening_since=0) == 1
    readings.deliver(db, settings, [(last + 3 * readings.HOUR, power.HEATER[-1][1] + 1)])
    assert [a.state for a in readings.alerts(db, "silencio")] == ["encerrado"]
