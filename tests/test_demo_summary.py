"""The demo's summary line: what it counts in the database and how it starts the neighbourhood."""

from __future__ import annotations

from sqlalchemy import insert

from core.customers import register
from core.models import Alert, Bill, MeterState
from demo.__main__ import LIVE_HEATER_METER, STUCK_HEATER, neighbourhood_args
from demo.summary import Figures, figures
from meter.cli import neighbourhood_parser


def bill(customer_id: int, mes: int) -> dict:
    return {"customer_id": customer_id, "ano": 2026, "mes": mes, "inicio": 0, "fim": 1, "start_register": "0",
            "end_register": "1", "consumo_kwh": "1", "faturado_kwh": "1", "valor": "0.65", "itens": [],
            "detalhes": {}, "review": False, "closed_at": 0}


def alert(customer_id: int, cause: str, state: str) -> dict:
    return {"customer_id": customer_id, "tipo": "excesso", "cause": cause, "ano": 2026, "mes": 11,
            "state": state, "criado_em": 0, "detalhes": {}}


def test_figures_count_readings_bills_per_customer_and_open_alerts(db, settings):
    engine = db.kw["bind"]
    assert figures(engine) == Figures(0, 0, 0, 0)
    with db.begin() as session:
        for customer_id in (1, 2):
            register(session, customer_id, "Ana", "Rua A", settings, 0)
        session.execute(insert(Bill), [bill(1, 9), bill(1, 10), bill(1, 11), bill(2, 9)])
        session.execute(insert(Alert), [alert(1, "2026-11", "aberto"), alert(2, "2026-11", "encerrado")])
        session.query(MeterState).filter(MeterState.meter_id == 1).update({"readings": 9000})
        session.query(MeterState).filter(MeterState.meter_id == 2).update({"readings": 120})
    counted = figures(engine)
    assert (counted.stored, counted.bills, counted.fewest_bills, counted.open_alerts) == (9120, 4, 1, 1)


def test_the_demo_replays_history_with_a_stuck_heater_and_can_run_live_only():
    args = neighbourhood_parser().parse_args(neighbourhood_args(5, "95d", "max", "2026-11-24T18:00:30")[2:])
    live_heater = f"{LIVE_HEATER_METER}:stuck-heater@2026-11-24T18:00:30,for=1h"
    assert (args.meters, args.since, args.speed, args.anomaly) == (5, "95d", "max", [STUCK_HEATER, live_heater])
    live = neighbourhood_parser().parse_args(neighbourhood_args(5, "0", "max")[2:])
    assert live.since is None and live.anomaly == []
