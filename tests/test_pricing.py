"""Hand-computed bills for each tariff kind and their combination (DOMAIN.md), without a database.

Each test writes its tariffs as a config file would, measures a cycle from a register given as
a few readings (linear between them, as SPEC §6 interpolates), and checks every line against
figures worked out in the comments. Line values round half-up to the cent; totals are the sum
of the rounded lines.
"""

import tomllib
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core.config import Settings, apply_toml
from core.periods import to_ms
from core.pricing import Adjustment, Terms, allocate, price
from core.intervals import Point, register_at
from core.usage import layout

D = Decimal
ZONE = ZoneInfo("America/Sao_Paulo")


def local(*parts):
    return to_ms(datetime(*parts, tzinfo=ZONE))


def schedule(text):
    return apply_toml(Settings(), tomllib.loads(text)).schedule


def bill(text, start, end, readings, plan=None, connection=None, social=False, adjustment=None):
    """Price the cycle `[start, end)` whose register passes through `readings` [(ms, Wh)]."""
    tariffs = schedule(text)
    usage = layout(start, end, ZONE, tariffs, plan)
    points = [Point(ts, wh) for ts, wh in readings]
    measured = usage.measured({instant: register_at(points, instant) for instant in usage.instants()})
    terms = Terms(plan, tariffs.minimum_for(connection or tariffs.default_connection), social)
    return price(measured, tariffs, terms, adjustment)


def lines(priced):
    return [(item.descricao, str(item.valor)) for item in priced.itens]


def assert_adds_up(priced):
    assert priced.valor == sum((item.valor for item in priced.itens), D(0))


WORKED_EXAMPLE = """
[tariff]
default_plan = "residencial"
default_connection = "monofasico"
[[tariff.plans.residencial]]
valid_from = 2024-01-01
tusd = "0.45"
te = "0.35"
[[tariff.taxes]]
valid_from = 2024-01-01
icms = "0.18"
pis = "0.010"
cofins = "0.046"
formula = "{formula}"
[[tariff.flags]]
valid_from = 2024-04-01
amarela = "1.885"
vermelha_1 = "4.463"
vermelha_2 = "7.877"
[tariff.flag_months]
"2025-05" = "amarela"
"2025-06" = "amarela"
[[tariff.cip]]
valid_from = 2024-01-01
amount = "15.00"
"""
MAY_10, JUN_10 = local(2025, 5, 10), local(2025, 6, 10)


def test_domain_worked_example_with_the_classic_divisor():
    # 200 kWh, single phase (minimum 30: bills 200), amarela in May and June.
    # Divisor 1 - (0.18 + 0.01 + 0.046) = 0.764:
    #   TUSD 200 x 0.45 / 0.764 = 117.80105 -> 117.80;  TE 200 x 0.35 / 0.764 = 91.62304 -> 91.62
    #   flag 200 x 0.01885 / 0.764 = 4.93455 -> 4.93;   CIP 15.00 (no taxes)
    #   total 117.80 + 91.62 + 4.93 + 15.00 = 229.35 (the unrounded sum would give 229.36)
    priced = bill(WORKED_EXAMPLE.format(formula="classic"), MAY_10, JUN_10, [(MAY_10, 0), (JUN_10, 200_000)])
    assert lines(priced) == [("Consumo TUSD", "117.80"), ("Consumo TE", "91.62"), ("Bandeira amarela", "4.93"),
                             ("Contribuição de iluminação pública (CIP)", "15.00")]
    assert priced.valor == D("229.35")
    assert_adds_up(priced)
    # Taxes contained in 117.80 + 91.62 + 4.93 = 214.35: ICMS 38.583 -> 38.58, PIS 2.1435 -> 2.14,
    # COFINS 9.8601 -> 9.86 (shown apart, not added again)
    taxes = priced.tributos
    assert (taxes.base, taxes.icms, taxes.pis, taxes.cofins) == (D("214.35"), D("38.58"), D("2.14"), D("9.86"))
    assert priced.itens[0].tarifa.quantize(D("0.00000001")) == D("0.58900524")  # 0.45 / 0.764


def test_domain_worked_example_with_the_two_stage_formula():
    # Divisor (1 - 0.056) x (1 - 0.18) = 0.77408:
    #   TUSD 90 / 0.77408 = 116.26705 -> 116.27; TE 70 / 0.77408 = 90.42993 -> 90.43;
    #   flag 3.77 / 0.77408 = 4.87030 -> 4.87;  + CIP 15.00 = 226.57
    priced = bill(WORKED_EXAMPLE.format(formula="two_stage"), MAY_10, JUN_10, [(MAY_10, 0), (JUN_10, 200_000)])
    assert [value for _, value in lines(priced)] == ["116.27", "90.43", "4.87", "15.00"]
    assert priced.valor == D("226.57")
    # base 211.57: ICMS 211.57 x 0.18 = 38.0826 -> 38.08; PIS/COFINS on the base without ICMS,
    # 211.57 x 0.82 = 173.4874: PIS x 0.01 = 1.7349 -> 1.73, COFINS x 0.046 = 7.9804 -> 7.98
    taxes = priced.tributos
    assert (taxes.icms, taxes.pis, taxes.cofins) == (D("38.08"), D("1.73"), D("7.98"))


BLOCKS = """
[tariff]
default_plan = "faixas"
[[tariff.plans.faixas]]
valid_from = 2024-01-01
blocks = [
  { up_to_kwh = 100, price_per_kwh = "0.40" },
  { up_to_kwh = 200, price_per_kwh = "0.60" },
  { price_per_kwh = "0.80" },
]
"""


def test_blocks_fill_from_the_lowest():
    # 250 kWh: 100 x 0.40 = 40.00, 100 x 0.60 = 60.00, 50 x 0.80 = 40.00; total 140.00
    start, end = local(2024, 3, 10), local(2024, 4, 10)
    priced = bill(BLOCKS, start, end, [(start, 0), (end, 250_000)])
    assert lines(priced) == [("Energia elétrica até 100 kWh", "40.00"), ("Energia elétrica de 100 a 200 kWh", "60.00"),
                             ("Energia elétrica acima de 200 kWh", "40.00")]
    assert [item.quantidade_kwh for item in priced.itens] == [100, 100, 50]
    # 80 kWh stays in the first block: 80 x 0.40 = 32.00
    assert lines(bill(BLOCKS, start, end, [(start, 0), (end, 80_000)])) == [("Energia elétrica até 100 kWh", "32.00")]


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
JAN_1, JAN_8 = local(2024, 1, 1), local(2024, 1, 8)  # Monday (a holiday) to the next Monday
STEADY_WEEK = [(JAN_1, 0), (JAN_8, 168_000)]  # 1 kW all week: 1 kWh every hour


def test_time_of_use_splits_the_energy_by_period_of_working_days():
    # Working days: Tue 2 to Fri 5 (Mon 1 is a holiday, Sat and Sun are off-peak): 4 days.
    # peak 4 x 3 h = 12 kWh x 1.00 = 12.00; intermediate 4 x 2 h = 8 kWh x 0.70 = 5.60;
    # off-peak 168 - 20 = 148 kWh x 0.40 = 59.20; total 76.80
    priced = bill(BRANCA, JAN_1, JAN_8, STEADY_WEEK)
    assert lines(priced) == [("Energia elétrica ponta", "12.00"), ("Energia elétrica intermediário", "5.60"),
                             ("Energia elétrica fora de ponta", "59.20")]
    assert [item.quantidade_kwh for item in priced.itens] == [12, 8, 148]
    assert priced.valor == D("76.80")


def test_time_of_use_follows_when_the_energy_was_used():
    # All 10 kWh used on Tuesday 18:00-19:00 (peak); nothing else: 10 x 1.00 = 10.00
    readings = [(JAN_1, 0), (local(2024, 1, 2, 18), 0), (local(2024, 1, 2, 19), 10_000), (JAN_8, 10_000)]
    assert lines(bill(BRANCA, JAN_1, JAN_8, readings)) == [("Energia elétrica ponta", "10.00")]


FLAGS = """
[tariff]
proration = "{proration}"
[[tariff.flags]]
valid_from = 2024-04-01
amarela = "1.885"
vermelha_1 = "4.463"
vermelha_2 = "7.877"
[tariff.flag_months]
"2025-09" = "vermelha_2"
"2025-10" = "vermelha_1"
"""
SEP_10, OCT_1, OCT_10 = local(2025, 9, 10), local(2025, 10, 1), local(2025, 10, 10)
SEPTEMBER_HEAVY = [(SEP_10, 0), (OCT_1, 200_000), (OCT_10, 300_000)]


def test_flags_of_two_months_split_by_use():
    # 200 kWh used in September (P2), 100 in October (P1), on the SPEC's flat 0.65:
    # energy 300 x 0.65 = 195.00; P2 200 x 0.07877 = 15.754 -> 15.75; P1 100 x 0.04463 = 4.463 -> 4.46
    priced = bill(FLAGS.format(proration="consumption"), SEP_10, OCT_10, SEPTEMBER_HEAVY)
    assert lines(priced) == [("Energia elétrica", "195.00"),
                             ("Bandeira vermelha patamar 2 (10/09 a 30/09)", "15.75"),
                             ("Bandeira vermelha patamar 1 (01/10 a 09/10)", "4.46")]
    assert priced.valor == D("215.21")


def test_flags_of_two_months_split_by_days():
    # 21 days in September, 9 in October: 300 x 21/30 = 210 kWh at P2 = 16.5417 -> 16.54,
    # 90 kWh at P1 = 4.0167 -> 4.02
    priced = bill(FLAGS.format(proration="days"), SEP_10, OCT_10, SEPTEMBER_HEAVY)
    assert [value for _, value in lines(priced)] == ["195.00", "16.54", "4.02"]


def test_a_month_without_a_flag_adds_nothing():
    start, end = local(2025, 11, 10), local(2025, 12, 10)
    assert lines(bill(FLAGS.format(proration="consumption"), start, end, [(start, 0), (end, 100_000)])) == [
        ("Energia elétrica", "65.00")]


MINIMUM = """
[tariff]
price_per_kwh = "0.50"
[[tariff.flags]]
valid_from = 2024-04-01
amarela = "2"
[tariff.flag_months]
"2025-03" = "amarela"
"2025-04" = "amarela"
[[tariff.cip]]
valid_from = 2024-01-01
bands = [{ up_to_kwh = 50, amount = "0" }, { up_to_kwh = 100, amount = "3" }, { up_to_kwh = 200, amount = "6" },
         { amount = "9" }]
"""
MAR_10, APR_10 = local(2025, 3, 10), local(2025, 4, 10)


@pytest.mark.parametrize("connection, measured, expected", [
    # three phase bills at least 100 kWh: 100 x 0.50 = 50.00, flag on the billed 100 kWh: 2.00, CIP band 50-100: 3.00
    ("trifasico", 40_000, [("Energia elétrica (mínimo de 100 kWh)", "50.00"), ("Bandeira amarela", "2.00"),
                           ("Contribuição de iluminação pública (CIP)", "3.00")]),
    # two phase: 50 kWh x 0.50 = 25.00, flag 1.00, CIP 0 (up to 50 kWh is exempt: no line)
    ("bifasico", 40_000, [("Energia elétrica (mínimo de 50 kWh)", "25.00"), ("Bandeira amarela", "1.00")]),
    # single phase, above its 30 kWh: 40 x 0.50 = 20.00, flag 0.80
    ("monofasico", 40_000, [("Energia elétrica", "20.00"), ("Bandeira amarela", "0.80")]),
    # 150 kWh: 75.00, flag 3.00, CIP band 100-200: 6.00; 250 kWh: 125.00, 5.00, 9.00
    ("monofasico", 150_000, [("Energia elétrica", "75.00"), ("Bandeira amarela", "3.00"),
                             ("Contribuição de iluminação pública (CIP)", "6.00")]),
    ("monofasico", 250_000, [("Energia elétrica", "125.00"), ("Bandeira amarela", "5.00"),
                             ("Contribuição de iluminação pública (CIP)", "9.00")]),
])
def test_availability_minimum_per_connection_and_cip_by_band(connection, measured, expected):
    priced = bill(MINIMUM, MAR_10, APR_10, [(MAR_10, 0), (APR_10, measured)], connection=connection)
    assert lines(priced) == expected
    assert priced.consumo_kwh == D(measured) / 1000
    assert_adds_up(priced)


def test_without_a_connection_type_the_spec_minimum_applies():
    text = MINIMUM.replace('price_per_kwh = "0.50"', 'price_per_kwh = "0.50"\nminimum_kwh = 45')
    priced = bill(text, MAR_10, APR_10, [(MAR_10, 0), (APR_10, 10_000)])
    assert priced.faturado_kwh == D("45.000") and priced.itens[0].valor == D("22.50")  # 45 x 0.50


MID_CYCLE = """
[tariff]
default_plan = "cemig"
proration = "{proration}"
[[tariff.plans.cemig]]
valid_from = 2024-01-01
tusd = "0.40"
te = "0.30"
[[tariff.plans.cemig]]
valid_from = 2024-05-28
tusd = "0.43"
te = "0.32"
"""
MAY_10_24, MAY_28_24, JUN_10_24 = local(2024, 5, 10), local(2024, 5, 28), local(2024, 6, 10)
LATE_HEAVY = [(MAY_10_24, 0), (MAY_28_24, 100_000), (JUN_10_24, 300_000)]


def test_a_tariff_that_changes_mid_cycle_applies_to_the_energy_used_after_it():
    # 100 kWh before 28 May at 0.40 + 0.30, 200 kWh after at 0.43 + 0.32:
    # 40.00 + 30.00 + 86.00 + 64.00 = 220.00
    priced = bill(MID_CYCLE.format(proration="consumption"), MAY_10_24, JUN_10_24, LATE_HEAVY)
    assert lines(priced) == [("Consumo TUSD (10/05 a 27/05)", "40.00"), ("Consumo TE (10/05 a 27/05)", "30.00"),
                             ("Consumo TUSD (28/05 a 09/06)", "86.00"), ("Consumo TE (28/05 a 09/06)", "64.00")]
    assert priced.tarifa["versoes"] == ["2024-01-01", "2024-05-28"]


def test_a_tariff_that_changes_mid_cycle_split_by_days():
    # 18 days before, 13 after, of 31: 300 000 Wh x 18/31 = 174 193.5 -> 174 194 Wh, the rest 125 806 Wh.
    # TUSD 174.194 x 0.40 = 69.6776 -> 69.68; TE x 0.30 = 52.2582 -> 52.26;
    # TUSD 125.806 x 0.43 = 54.09658 -> 54.10; TE x 0.32 = 40.25792 -> 40.26; total 216.30
    priced = bill(MID_CYCLE.format(proration="days"), MAY_10_24, JUN_10_24, LATE_HEAVY)
    assert [item.quantidade_kwh for item in priced.itens] == [D("174.194"), D("174.194"), D("125.806"), D("125.806")]
    assert [value for _, value in lines(priced)] == ["69.68", "52.26", "54.10", "40.26"]
    assert priced.valor == D("216.30")


def test_a_bill_before_a_plan_exists_uses_its_first_version():
    start, end = local(2023, 5, 10), local(2023, 6, 10)
    priced = bill(MID_CYCLE.format(proration="consumption"), start, end, [(start, 0), (end, 100_000)])
    assert [value for _, value in lines(priced)] == ["40.00", "30.00"]


COMBINED = """
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
[[tariff.taxes]]
valid_from = 2023-01-01
icms = "0.18"
pis = "0.01"
cofins = "0.06"
[[tariff.flags]]
valid_from = 2023-01-01
amarela = "1.885"
[tariff.flag_months]
"2024-01" = "amarela"
[[tariff.cip]]
valid_from = 2023-01-01
amount = "10"
"""


def test_time_of_use_with_flags_taxes_and_cip():
    # The steady week above with taxes 0.18 + 0.01 + 0.06 (divisor 0.75):
    #   peak 12 x 1.00 / 0.75 = 16.00; intermediate 8 x 0.70 / 0.75 = 7.4667 -> 7.47;
    #   off-peak 148 x 0.40 / 0.75 = 78.9333 -> 78.93; flag 168 x 0.01885 / 0.75 = 4.2224 -> 4.22;
    #   CIP 10.00; total 116.62. Taxes in 106.62: ICMS 19.1916 -> 19.19, PIS 1.0662 -> 1.07,
    #   COFINS 6.3972 -> 6.40
    priced = bill(COMBINED, JAN_1, JAN_8, STEADY_WEEK)
    assert [value for _, value in lines(priced)] == ["16.00", "7.47", "78.93", "4.22", "10.00"]
    assert priced.valor == D("116.62")
    assert_adds_up(priced)
    taxes = priced.tributos
    assert (taxes.base, taxes.icms, taxes.pis, taxes.cofins) == (D("106.62"), D("19.19"), D("1.07"), D("6.40"))


def test_time_of_use_below_the_minimum_bills_the_shortfall_off_peak():
    # 10 kWh at peak, three phase (100 kWh): off-peak gets the other 90 kWh.
    # peak 10 / 0.75 = 13.3333 -> 13.33; off-peak 90 x 0.40 / 0.75 = 48.00; flag 100 x 0.01885 / 0.75
    # = 2.5133 -> 2.51; CIP 10.00
    readings = [(JAN_1, 0), (local(2024, 1, 2, 18), 0), (local(2024, 1, 2, 19), 10_000), (JAN_8, 10_000)]
    priced = bill(COMBINED, JAN_1, JAN_8, readings, connection="trifasico")
    assert lines(priced) == [("Energia elétrica ponta", "13.33"),
                             ("Energia elétrica fora de ponta (mínimo de 100 kWh)", "48.00"),
                             ("Bandeira amarela", "2.51"), ("Contribuição de iluminação pública (CIP)", "10.00")]


ICMS_BANDS = """
[tariff]
price_per_kwh = "0.50"
[[tariff.taxes]]
valid_from = 2024-01-01
icms = [{ up_to_kwh = 150, rate = "0.12" }, { rate = "0.17" }]
"""


@pytest.mark.parametrize("measured, value", [
    (100_000, "56.82"),   # 100 x 0.50 / 0.88 = 56.8182
    (150_000, "85.23"),   # 75 / 0.88 = 85.2273
    (200_000, "120.48"),  # 100 / 0.83 = 120.4819
])
def test_icms_rate_by_consumption_band(measured, value):
    start, end = local(2024, 3, 10), local(2024, 4, 10)
    assert lines(bill(ICMS_BANDS, start, end, [(start, 0), (end, measured)])) == [("Energia elétrica", value)]


SOCIAL = """
[[tariff.social]]
valid_from = 2010-01-01
bands = [{ up_to_kwh = 30, discount = "0.65" }, { up_to_kwh = 100, discount = "0.40" },
         { up_to_kwh = 220, discount = "0.10" }]
[[tariff.social]]
valid_from = 2025-07-05
bands = [{ up_to_kwh = 80, discount = "1" }]
"""


def test_social_tariff_before_and_after_july_2025():
    # Lei 12.212: 150 kWh at 0.65 = 97.50; discounted kWh 30 x 0.65 + 70 x 0.40 + 50 x 0.10 = 52.5
    # at 0.65 = 34.125 -> -34.13 (half-up, away from zero); total 63.37
    start, end = local(2025, 3, 10), local(2025, 4, 10)
    priced = bill(SOCIAL, start, end, [(start, 0), (end, 150_000)], social=True)
    assert lines(priced) == [("Energia elétrica", "97.50"), ("Desconto tarifa social", "-34.13")]
    assert priced.valor == D("63.37")
    # From 2025-07-05 the first 80 kWh are free: 100 kWh = 65.00 - 52.00 = 13.00
    start, end = local(2025, 8, 10), local(2025, 9, 10)
    assert bill(SOCIAL, start, end, [(start, 0), (end, 100_000)], social=True).valor == D("13.00")
    assert bill(SOCIAL, start, end, [(start, 0), (end, 100_000)]).valor == D("65.00")  # not eligible


def test_an_adjustment_is_priced_at_the_base_rate_and_taxed():
    # 2.5 kWh missed by the previous bill at 0.65 = 1.625 -> 1.63; a 1 kWh credit is -0.65
    start, end = local(2024, 3, 10), local(2024, 4, 10)
    priced = bill("", start, end, [(start, 0), (end, 100_000)], adjustment=Adjustment(D(2500), "02/2024"))
    assert lines(priced) == [("Energia elétrica", "65.00"), ("Ajuste de leitura do ciclo 02/2024", "1.63")]
    priced = bill("", start, end, [(start, 0), (end, 100_000)], adjustment=Adjustment(D(-1000), "02/2024"))
    assert priced.valor == D("64.35")


def test_every_line_rounds_half_up_and_the_total_is_their_sum():
    # 0.1 kWh at TUSD 0.45 and TE 0.35, no taxes: 0.045 -> 0.05 (half-up; half-even would give
    # 0.04) and 0.035 -> 0.04. The total is 0.09, the sum of the lines, not round(0.08).
    text = '[tariff]\ndefault_plan = "r"\n[[tariff.plans.r]]\nvalid_from = 2024-01-01\ntusd = "0.45"\nte = "0.35"\n'
    priced = bill(text, MAY_10, JUN_10, [(MAY_10, 0), (JUN_10, 100)])
    assert lines(priced) == [("Consumo TUSD", "0.05"), ("Consumo TE", "0.04")]
    assert priced.valor == D("0.09")
    # 0.001 kWh x 5 = 0.005 -> 0.01
    assert bill('[tariff]\nprice_per_kwh = "5"\n', MAY_10, JUN_10, [(MAY_10, 0), (JUN_10, 1)]).valor == D("0.01")


def test_allocation_keeps_whole_watt_hours_that_add_up():
    assert allocate(10, [D(1), D(1), D(1)]) == [4, 3, 3]  # ties go to the first
    assert allocate(300_000, [D(18), D(13)]) == [174_194, 125_806]
    assert allocate(5, [D(0), D(0)]) == [0, 0]
