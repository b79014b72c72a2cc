"""Bills computed, frozen and settled through the real store and settlement, on a real SQLite file.

Most registers here climb at a steady 1 kW (1 kWh every hour), so a cycle's consumption is the
number of hours it lasts: a DST change or a leap day shows up directly in the kWh billed.
"""

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.customers import lock_meter, register
from core.models import Bill, Customer
from core.periods import to_ms
from core.settlement import settle
from core.terms import apply_terms
from core.wire import Reading as Wire
from core.wire import encode, topic_for
from ingest.store import Message, store_batch

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
HOUR = 3_600_000


def local(*parts, zone=SAO_PAULO):
    return to_ms(datetime(*parts, tzinfo=zone))


def utc(*parts):
    return to_ms(datetime(*parts, tzinfo=timezone.utc))


def configured(backend, tmp_path, text="", zone="America/Sao_Paulo"):
    """Settings on the `db` fixture's database (tmp_path/"data") with `text` as the TOML file."""
    path = tmp_path / "energy.toml"
    path.write_text(text)
    return backend.settings(tmp_path / "data", ENERGY_TIMEZONE=zone, ENERGY_CONFIG=path)


def deliver(db, settings, readings, meter=7):
    """Store readings as the worker does, in one batch received just after the last of them."""
    received = max(ts for ts, _ in readings) + 1_000
    batch = [Message(topic_for(meter), encode(Wire(meter, ts, wh)), received) for ts, wh in readings]
    with db.begin() as session:
        store_batch(session, batch, settings, received)


def enrol(db, settings, meter=7, closing_day=None, **terms):
    with db.begin() as session:
        customer, _ = register(session, meter, "Ana", "Rua A, 1", settings, utc(2000, 1, 1), closing_day=closing_day)
        if terms:
            apply_terms(customer, terms)


def steady(start, end, every=HOUR):
    """A register climbing 1 kWh per hour from 0 at `start`, read every `every` ms up to `end`."""
    return [(ts, (ts - start) // 3600) for ts in range(start, end + 1, every)]


def bills(db, meter=7):
    with db() as session:
        return list(session.scalars(select(Bill).where(Bill.customer_id == meter).order_by(Bill.ano, Bill.mes)))


def rows(db, meter=7):
    """Every column of every frozen bill, to show that none ever changes."""
    return [{c.name: getattr(b, c.name) for c in Bill.__table__.columns} for b in bills(db, meter)]


def summary(db, meter=7):
    return [(b.ano, b.mes, b.consumo_kwh, b.valor) for b in bills(db, meter)]


def test_cycles_across_both_dst_changes_of_2018_in_sao_paulo(db, backend, tmp_path):
    # Closing day 4. DST began on 2018-11-04 at 00:00 (clocks to 01:00) and ended on 2019-02-17
    # at 00:00 (clocks back to 23:00 of the 16th).
    #   2018-11: [10-04 00:00 -03, 11-04 01:00 -02): 744 h -> 744 kWh x 0.65 = 483.60 (the day
    #            of the change starts at 01:00, the first instant that exists)
    #   2018-12: [11-04 01:00 -02, 12-04 00:00 -02): 30 days less the lost hour = 719 h -> 467.35
    #   2019-03: [02-04 00:00 -02, 03-04 00:00 -03): 28 days plus the repeated hour = 673 h -> 437.45
    settings = configured(backend, tmp_path)
    enrol(db, settings, closing_day=4)
    deliver(db, settings, steady(local(2018, 10, 4), local(2019, 3, 5)))
    found = {(b.ano, b.mes): b for b in bills(db)}
    assert (found[(2018, 11)].consumo_kwh, found[(2018, 11)].valor) == ("744.000", "483.60")
    assert (found[(2018, 12)].consumo_kwh, found[(2018, 12)].valor) == ("719.000", "467.35")
    assert (found[(2019, 3)].consumo_kwh, found[(2019, 3)].valor) == ("673.000", "437.45")
    december = found[(2018, 12)]
    assert december.inicio == utc(2018, 11, 4, 3) and december.fim == utc(2018, 12, 4, 2)
    assert december.detalhes["leitura_anterior"]["em"] == "2018-11-04T01:00:00-02:00"
    assert december.detalhes["vencimento"] == "2018-12-14"  # 10 days after the closing day


def test_closing_day_31_across_a_leap_february(db, backend, tmp_path):
    # Closing day 31, clamped to the month's last day:
    #   2024-02: [01-31, 02-29): 29 days = 696 h;  2024-03: [02-29, 03-31): 31 days = 744 h;
    #   2024-04: [03-31, 04-30): 30 days = 720 h.  At 0.65: 452.40, 483.60, 468.00
    settings = configured(backend, tmp_path)
    enrol(db, settings, closing_day=31)
    deliver(db, settings, steady(local(2024, 1, 31), local(2024, 4, 30)))
    assert summary(db) == [(2024, 2, "696.000", "452.40"), (2024, 3, "744.000", "483.60"),
                           (2024, 4, "720.000", "468.00")]
    february, march, _ = bills(db)
    assert (february.fim, march.inicio) == (local(2024, 2, 29), local(2024, 2, 29))


BRANCA = """
[tariff]
default_plan = "branca"
holidays = [2024-01-01]
[[tariff.plans.branca]]
valid_from = 2024-01-01
peak = ["18:00", "21:00"]
intermediate = [["17:00", "18:00"], ["21:00", "22:00"]]
ponta = { price_per_kwh = "1.00" }
intermediario = { price_per_kwh = "0.70" }
fora_ponta = { price_per_kwh = "0.40" }
"""


def test_a_meter_reset_inside_a_time_of_use_cycle_loses_no_energy(db, backend, tmp_path):
    # 1 kW for the week of 2024-01-01 (a holiday) read every 15 min; the meter resets to zero at
    # 01-03 11:45 and reads 250 Wh at 12:00, so the adjusted register never stops climbing.
    # Closing day 8: bill 2024-01 holds the 168 kWh of the week, split as in test_pricing:
    #   peak 12 kWh x 1.00 + intermediate 8 x 0.70 + off-peak 148 x 0.40 = 12.00 + 5.60 + 59.20 = 76.80
    settings = configured(backend, tmp_path, BRANCA)
    enrol(db, settings, closing_day=8)
    reset_at = local(2024, 1, 3, 12)
    readings = []
    for ts, _ in steady(local(2024, 1, 1), local(2024, 1, 8), every=HOUR // 4):
        true_wh = (ts - local(2024, 1, 1)) // 3600
        readings.append((ts, true_wh if ts < reset_at else true_wh - (reset_at - local(2024, 1, 1)) // 3600 + 250))
    deliver(db, settings, readings)
    [january] = bills(db)
    assert (january.consumo_kwh, january.valor) == ("168.000", "76.80")
    assert [(item["descricao"], item["valor"]) for item in january.itens] == [
        ("Energia elétrica ponta", "12.00"), ("Energia elétrica intermediário", "5.60"),
        ("Energia elétrica fora de ponta", "59.20")]
    assert january.review is True  # the reset is flagged for the operator


MID_CYCLE = """
[tariff]
default_plan = "cemig"
[[tariff.plans.cemig]]
valid_from = 2024-01-01
tusd = "0.40"
te = "0.30"
[[tariff.plans.cemig]]
valid_from = 2024-05-28
tusd = "0.43"
te = "0.32"
"""


def test_a_tariff_change_mid_cycle_is_pro_rata_by_consumption_date(db, backend, tmp_path):
    # 100 kWh from 05-10 to 05-28, 200 kWh from 05-28 to 06-10:
    #   40.00 + 30.00 (old prices) + 86.00 + 64.00 (new) = 220.00; the cycle before is all old:
    #   2024-05 [04-10, 05-10): 50 kWh x 0.70 = 35.00
    settings = configured(backend, tmp_path, MID_CYCLE)
    enrol(db, settings)
    deliver(db, settings, [(local(2024, 4, 10), 0), (local(2024, 5, 10), 50_000), (local(2024, 5, 28), 150_000),
                           (local(2024, 6, 10), 350_000)])
    assert summary(db) == [(2024, 5, "50.000", "35.00"), (2024, 6, "300.000", "220.00")]
    june = bills(db)[1]
    assert [item["valor"] for item in june.itens] == ["40.00", "30.00", "86.00", "64.00"]
    assert june.detalhes["tarifa"] == {"plano": "cemig", "versoes": ["2024-01-01", "2024-05-28"],
                                       "proporcional": "consumption"}


def test_a_late_reading_is_settled_on_the_next_bill_as_an_adjustment(db, backend, tmp_path):
    # UTC, closing day 10. Bill 2024-02 closes with the register at 02-10 00:00 interpolated
    # between 02-09 12:00 (100 000 Wh) and 02-11 00:00 (110 000): 100 000 + 10 000 x 12/36 =
    # 103 333.33 Wh -> 103.333 kWh, R$ 67.17.
    settings = configured(backend, tmp_path, zone="UTC")
    enrol(db, settings)
    deliver(db, settings, [(utc(2024, 1, 10), 0), (utc(2024, 2, 9, 12), 100_000), (utc(2024, 2, 11), 110_000)])
    before = rows(db)
    assert [(r["consumo_kwh"], r["valor"]) for r in before] == [("103.333", "67.17")]
    # A reading of 02-09 23:00 arrives late: the register at 02-10 is now
    # 109 000 + 1 000 x 1/25 = 109 040 Wh. The closed bill does not change in any field.
    deliver(db, settings, [(utc(2024, 2, 9, 23), 109_000)])
    assert rows(db) == before
    # Bill 2024-03 (closes at 03-10 with 200 000 Wh): its own consumption is 200 000 - 109 040 =
    # 90.960 kWh x 0.65 = 59.124 -> 59.12; the 5 706.67 Wh the previous bill missed are
    # 5.707 kWh x 0.65 = 3.70955 -> 3.71; total 62.83.
    deliver(db, settings, [(utc(2024, 3, 10), 200_000)])
    assert rows(db)[0] == before[0]
    march = bills(db)[1]
    assert (march.consumo_kwh, march.valor) == ("90.960", "62.83")
    assert [(item["descricao"], item["valor"]) for item in march.itens] == [
        ("Energia elétrica", "59.12"), ("Ajuste de leitura do ciclo 02/2024", "3.71")]
    # It starts where the frozen bill ended: previous reading 103.333 kWh, current 200.000
    assert Decimal(march.start_register) == Decimal(before[0]["end_register"])
    assert march.detalhes["leitura_anterior"] == before[0]["detalhes"]["leitura_atual"]
    assert march.detalhes["ajuste_kwh"] == 5.707


def test_changing_the_closing_day_never_alters_closed_bills(db, backend, tmp_path):
    # UTC, 10 kWh a day from 2024-01-10, closing day 10: 2024-02 [01-10, 02-10) 31 days = 310 kWh,
    # 2024-03 [02-10, 03-10) 29 days = 290 kWh.
    settings = configured(backend, tmp_path, zone="UTC")
    enrol(db, settings)
    daily = [(utc(2024, 1, 10) + day * 24 * HOUR, day * 10_000) for day in range(0, 120)]
    deliver(db, settings, [r for r in daily if r[0] <= utc(2024, 3, 15)])
    frozen = rows(db)
    assert [(r["mes"], r["consumo_kwh"]) for r in frozen] == [(2, "310.000"), (3, "290.000")]
    change_terms(db, settings, dia_fechamento=20)
    # The open cycle now runs from the last frozen bill's end to the new closing day:
    # 2024-04 [03-10, 04-20), 41 days = 410 kWh. Nothing is lost or billed twice.
    deliver(db, settings, [r for r in daily if utc(2024, 3, 15) < r[0] <= utc(2024, 4, 25)])
    assert rows(db)[:2] == frozen
    april = bills(db)[2]
    assert (april.mes, april.inicio, april.fim, april.consumo_kwh) == (4, utc(2024, 3, 10), utc(2024, 4, 20), "410.000")
    # Back to an earlier day: 2024-05 [04-20, 05-05), 15 days = 150 kWh
    change_terms(db, settings, dia_fechamento=5)
    deliver(db, settings, [r for r in daily if utc(2024, 4, 25) < r[0] <= utc(2024, 5, 6)])
    may = bills(db)[3]
    assert (may.inicio, may.fim, may.consumo_kwh) == (utc(2024, 4, 20), utc(2024, 5, 5), "150.000")
    assert rows(db)[:3] == [*frozen, rows(db)[2]]


def change_terms(db, settings, **changes):
    """What the configuration route does: change the terms and settle again."""
    with db.begin() as session:
        state = lock_meter(session, 7)
        customer = session.get(Customer, 7)
        apply_terms(customer, changes)
        settle(session, customer, state, settings, utc(2024, 3, 15))


def test_a_plan_and_connection_per_customer(db, backend, tmp_path):
    # Customer 7 on the default flat 0.65 (no minimum); customer 8 three phase (100 kWh minimum)
    # on "cemig": 40 kWh measured, 100 billed at 0.40 + 0.30 = 40.00 + 30.00
    settings = configured(backend, tmp_path, MID_CYCLE.replace('default_plan = "cemig"\n', ""))
    enrol(db, settings, meter=7)
    enrol(db, settings, meter=8, plano="cemig", ligacao="trifasico")
    for meter in (7, 8):
        deliver(db, settings, [(local(2024, 3, 10), 0), (local(2024, 4, 10), 40_000)], meter=meter)
    assert summary(db, 7) == [(2024, 4, "40.000", "26.00")]
    [bill] = bills(db, 8)
    assert (bill.consumo_kwh, bill.faturado_kwh, bill.valor) == ("40.000", "100.000", "70.00")
    assert bill.detalhes["ligacao"] == "trifasico"
