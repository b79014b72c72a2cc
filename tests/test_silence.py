"""`silencio`: a registered meter silent past its limit (1 hour), raised by the worker's periodic
look and cleared by the meter's next reading. Clocks are given explicitly: `received` is the
worker's clock when a batch arrives, `now` when it looks for silent meters."""

from __future__ import annotations

import pytest

from core.alert_settings import apply
from core.models import AlertWatch, Customer
from core.rules import ACKNOWLEDGED, CLEARED, OPEN, SILENCE
from core.silence import raise_silent
from tests.support.readings import HOUR, MINUTE, alerts, deliver, enrol, utc

RECEIVED = utc(2024, 3, 20, 12)
LISTENING = RECEIVED - 10 * HOUR  # the worker has been subscribed for a long time


@pytest.fixture
def site(db, settings):
    enrol(db, settings)
    deliver(db, settings, [(RECEIVED - 5_000, 1_000)], received_ms=RECEIVED)
    return db, settings


def look(db, settings, now, listening=LISTENING):
    with db.begin() as session:
        return raise_silent(session, settings, now, listening)


def test_silent_past_the_limit_is_raised_once(site):
    db, settings = site
    assert look(db, settings, RECEIVED + HOUR) == 0  # exactly an hour: not longer than it
    assert look(db, settings, RECEIVED + HOUR + 1) == 1
    assert look(db, settings, RECEIVED + 2 * HOUR) == 0
    [alert] = alerts(db, SILENCE)
    assert (alert.state, alert.cause, alert.criado_em, alert.ano, alert.mes) == (OPEN, str(RECEIVED), RECEIVED + HOUR + 1, 2024, 4)
    assert alert.detalhes["ultima_leitura"] == "2024-03-20T08:59:55-03:00"
    assert alert.detalhes["ultimo_recebimento"] == "2024-03-20T09:00:00-03:00"
    assert alert.detalhes["limite_minutos"] == 60.0


def test_the_next_reading_clears_it_and_a_new_silence_is_a_new_alert(site):
    db, settings = site
    look(db, settings, RECEIVED + 2 * HOUR)
    back = RECEIVED + 3 * HOUR
    deliver(db, settings, [(back - 1_000, 1_010)], received_ms=back)
    [alert] = alerts(db, SILENCE)
    assert (alert.state, alert.cleared_at, alert.published_at) == (CLEARED, back, None)
    assert alert.detalhes["voltou_em"] == "2024-03-20T12:00:00-03:00"
    assert look(db, settings, back + HOUR + 1) == 1
    first, second = alerts(db, SILENCE)
    assert (first.state, second.state, second.cause) == (CLEARED, OPEN, str(back))


def test_an_acknowledged_silence_is_cleared_too(site):
    db, settings = site
    look(db, settings, RECEIVED + 2 * HOUR)
    with db.begin() as session:
        [alert] = alerts(db, SILENCE)
        from core.alert_states import acknowledge, find_alert
        acknowledge(find_alert(session, 7, alert.id), RECEIVED + 2 * HOUR)
    assert alerts(db, SILENCE)[0].state == ACKNOWLEDGED
    deliver(db, settings, [(RECEIVED + 3 * HOUR, 1_010)], received_ms=RECEIVED + 3 * HOUR)
    assert alerts(db, SILENCE)[0].state == CLEARED


def test_silence_counts_only_from_when_the_worker_listens(site):
    db, settings = site
    # A worker that started 30 minutes ago cannot tell: the readings may wait in the broker.
    assert look(db, settings, RECEIVED + 2 * HOUR, listening=RECEIVED + 90 * MINUTE) == 0
    assert look(db, settings, RECEIVED + 2 * HOUR + 31 * MINUTE, listening=RECEIVED + 90 * MINUTE) == 1


def test_unregistered_meters_and_customers_who_turned_it_off_are_left_alone(db, settings):
    deliver(db, settings, [(RECEIVED - 5_000, 1_000)], meter=9, received_ms=RECEIVED)  # nobody's meter
    enrol(db, settings, meter=8)
    with db.begin() as session:
        apply(session, session.get(Customer, 8), {"desligados": ["silencio"]}, settings)
    deliver(db, settings, [(RECEIVED - 5_000, 1_000)], meter=8, received_ms=RECEIVED)
    enrol(db, settings, meter=6)  # registered, never reported: not silent, just not installed
    assert look(db, settings, RECEIVED + 5 * HOUR) == 0
    with db() as session:
        assert session.get(AlertWatch, 9) is None


def test_a_customer_limit_applies(site):
    db, settings = site
    with db.begin() as session:
        apply(session, session.get(Customer, 7), {"silencio_minutos": 10}, settings)
    assert look(db, settings, RECEIVED + 10 * MINUTE) == 0
    assert look(db, settings, RECEIVED + 10 * MINUTE + 1) == 1
