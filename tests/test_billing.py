"""Pricing with the flat tariff of SPEC §3/§6: half-up cents, lines that add up to the total."""

from decimal import Decimal

from core.billing import price, projection
from core.config import TariffConfig

D = Decimal


def test_default_tariff_is_065_per_kwh_with_one_line():
    bill = price(D("100"), TariffConfig())
    assert bill.valor == D("65.00")
    assert [item.valor for item in bill.itens] == [D("65.00")]
    assert bill.faturado_kwh == D("100.000")


def test_cents_round_half_up():
    # 0.01 kWh costs 0.0065 -> 0.01; 0.007 kWh costs 0.00455 -> 0.00
    assert price(D("0.010"), TariffConfig()).valor == D("0.01")
    assert price(D("0.007"), TariffConfig()).valor == D("0.00")
    assert price(D("1.5"), TariffConfig(price_per_kwh=D("0.5"))).valor == D("0.75")
    assert price(D("0.001"), TariffConfig(price_per_kwh=D("5"))).valor == D("0.01")  # 0.005 -> 0.01


def test_consumption_is_rounded_to_the_watt_hour_before_pricing():
    bill = price(D("10.0004999"), TariffConfig(price_per_kwh=D("1")))
    assert bill.consumo_kwh == D("10.000")
    assert bill.valor == D("10.00")


def test_minimum_and_fixed_charge_are_their_own_lines_and_add_up():
    tariff = TariffConfig(price_per_kwh=D("0.65"), fixed_charge=D("12.345"), minimum_kwh=D("30"))
    bill = price(D("12.5"), tariff)
    assert bill.consumo_kwh == D("12.500")
    assert bill.faturado_kwh == D("30.000")
    assert [item.valor for item in bill.itens] == [D("19.50"), D("12.35")]
    assert bill.valor == D("31.85") == sum(item.valor for item in bill.itens)
    assert "mínimo" in bill.itens[0].descricao


def test_negative_consumption_is_never_billed():
    assert price(D("-5"), TariffConfig()).valor == D("0.00")


def test_projection_extends_the_pace_to_the_whole_cycle():
    day = 86_400_000
    assert projection(D("50"), 10 * day, 30 * day) == D("150.000")
    assert projection(D("50"), 0, 30 * day) == D("50.000")
    assert projection(D("50"), 30 * day, 30 * day) == D("50.000")
