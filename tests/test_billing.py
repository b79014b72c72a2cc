"""The SPEC §3/§6 flat tariff through the pricing: half-up cents, lines that add up to the total."""

from decimal import Decimal
from zoneinfo import ZoneInfo

from core.billing import projection, projection_factor
from core.config import TariffConfig
from core.pricing import Terms, price
from core.tariffs import Schedule
from core.usage import layout

D = Decimal
UTC = ZoneInfo("UTC")
START, END = 1_704_067_200_000, 1_706_745_600_000  # 2024-01-01 and 2024-02-01, 00:00 UTC


def flat_bill(consumo_kwh, tariff=TariffConfig()):
    """Price `consumo_kwh` measured over January 2024 with the SPEC keys of `tariff`."""
    schedule = Schedule().with_base(tariff.price_per_kwh, tariff.fixed_charge, tariff.minimum_kwh)
    usage = layout(START, END, UTC, schedule, None)
    measured = usage.measured({START: D(0), END: D(consumo_kwh) * 1000})
    return price(measured, schedule, Terms(None, schedule.minimum_for(None)))


def test_default_tariff_is_065_per_kwh_with_one_line():
    bill = flat_bill(D("100"))
    assert bill.valor == D("65.00")
    assert [item.valor for item in bill.itens] == [D("65.00")]
    assert bill.faturado_kwh == D("100.000")
    assert bill.tributos is None  # no taxes unless the config names them


def test_cents_round_half_up():
    # 0.01 kWh costs 0.0065 -> 0.01; 0.007 kWh costs 0.00455 -> 0.00
    assert flat_bill(D("0.010")).valor == D("0.01")
    assert flat_bill(D("0.007")).valor == D("0.00")
    assert flat_bill(D("1.5"), TariffConfig(price_per_kwh=D("0.5"))).valor == D("0.75")
    assert flat_bill(D("0.001"), TariffConfig(price_per_kwh=D("5"))).valor == D("0.01")  # 0.005 -> 0.01


def test_consumption_is_rounded_to_the_watt_hour_before_pricing():
    bill = flat_bill(D("10.0004999"), TariffConfig(price_per_kwh=D("1")))
    assert bill.consumo_kwh == D("10.000")
    assert bill.valor == D("10.00")
    assert flat_bill(D("10.0005"), TariffConfig(price_per_kwh=D("1"))).consumo_kwh == D("10.001")  # half-up


def test_minimum_is_billed_on_the_energy_line_and_the_fixed_charge_is_its_own():
    tariff = TariffConfig(price_per_kwh=D("0.65"), fixed_charge=D("12.345"), minimum_kwh=D("30"))
    bill = flat_bill(D("12.5"), tariff)
    assert bill.consumo_kwh == D("12.500")
    assert bill.faturado_kwh == D("30.000")
    # 30 kWh x 0.65 = 19.50; the fixed charge 12.345 rounds half-up to 12.35
    assert [item.valor for item in bill.itens] == [D("19.50"), D("12.35")]
    assert bill.valor == D("31.85") == sum(item.valor for item in bill.itens)
    assert "mínimo de 30 kWh" in bill.itens[0].descricao
    assert bill.itens[0].quantidade_kwh == D("30")


def test_negative_consumption_is_never_billed():
    assert flat_bill(D("-5")).valor == D("0.00")


def test_a_line_shows_quantity_and_unit_price():
    item = flat_bill(D("100")).itens[0].as_dict()
    assert item == {"descricao": "Energia elétrica", "valor": "65.00", "quantidade_kwh": 100.0, "tarifa": "0.65000000"}


def test_projection_extends_the_pace_to_the_whole_cycle():
    day = 86_400_000
    assert projection(D("50"), 10 * day, 30 * day) == D("150.000")
    assert projection(D("50"), 0, 30 * day) == D("50.000")
    assert projection(D("50"), 30 * day, 30 * day) == D("50.000")
    assert projection_factor(10 * day, 30 * day) == 3 and projection_factor(0, 30 * day) == 1
