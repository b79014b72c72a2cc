"""Parsing the API's query parameters and the cadastro body (api.params), and the matching
OpenAPI patterns (api.openapi): every valid form, every kind of invalid one."""

import json
import re
from datetime import date, timedelta

import pytest
from werkzeug.datastructures import MultiDict

from api import openapi, params
from api.params import BillMonth, Clock, Day, Page, ParamError


def args(*pairs):
    return MultiDict(pairs)


# --- id -----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [("1", 1), ("7", 7), ("4294967295", 2**32 - 1), ("1000", 1000)])
def test_id_accepts_canonical_decimals_in_range(raw, expected):
    assert params.customer_id(args(("id", raw))) == expected


@pytest.mark.parametrize("raw", [
    "", "0", "-1", "+1", "01", "007", "1e3", "1.0", "abc", " 1", "1 ", "4294967296", "99999999999",
    "0x10", "١", "1\x00", "½",
])
def test_id_rejects_anything_else(raw):
    with pytest.raises(ParamError, match="id"):
        params.customer_id(args(("id", raw)))


def test_id_is_required():
    with pytest.raises(ParamError, match="informe o parâmetro id"):
        params.customer_id(args())


@pytest.mark.parametrize("values", [("3", "3"), ("3", "4")])
def test_a_parameter_given_twice_is_refused_even_with_the_same_value(values):
    with pytest.raises(ParamError, match="mais de uma vez"):
        params.customer_id(args(*(("id", value) for value in values)))


def test_a_nul_byte_is_named_in_the_message():
    with pytest.raises(ParamError, match="NUL"):
        params.customer_id(args(("id", "\x00")))


def test_unknown_parameters_are_ignored():
    assert params.customer_id(args(("id", "5"), ("foo", "bar"), ("x", "\x00"))) == 5


# --- mes / ano ----------------------------------------------------------------------------

@pytest.mark.parametrize("pairs, expected", [
    ([("mes", "3")], BillMonth(3, None)),
    ([("mes", "03")], BillMonth(3, None)),
    ([("mes", "12")], BillMonth(12, None)),
    ([("mes", "1"), ("ano", "2024")], BillMonth(1, 2024)),
    ([("mes", "2024-03")], BillMonth(3, 2024)),
    ([("mes", "2024-03"), ("ano", "2024")], BillMonth(3, 2024)),
    ([("mes", "2024-03"), ("ano", "2023")], BillMonth(3, 2024, conflicting=True)),
    ([("mes", "09"), ("ano", "9999")], BillMonth(9, 9999)),
])
def test_bill_month_forms(pairs, expected):
    assert params.bill_month(args(*pairs)) == expected


@pytest.mark.parametrize("raw", ["", "0", "00", "13", "001", "1.0", "-1", "mar", "2024-3", "2024-13", "2024-00",
                                 "1999-12", "24-03", "2024/03", "03-2024", " 3"])
def test_bill_month_rejects_other_months(raw):
    with pytest.raises(ParamError, match="mes"):
        params.bill_month(args(("mes", raw)))


@pytest.mark.parametrize("raw", ["", "1999", "10000", "24", "02024", "abcd", "2024.0", "-2024"])
def test_year_rejects_other_years(raw):
    with pytest.raises(ParamError, match="ano"):
        params.bill_month(args(("mes", "3"), ("ano", raw)))


def test_mes_is_required():
    with pytest.raises(ParamError, match="informe o parâmetro mes"):
        params.bill_month(args(("ano", "2024")))


# --- data ---------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("2024-03-20", Day(20, 3, 2024)),
    ("20/03/2024", Day(20, 3, 2024)),
    ("20/03/", Day(20, 3, None)),
    ("29/02/", Day(29, 2, None)),
    ("29/02/2024", Day(29, 2, 2024)),
    ("2000-02-29", Day(29, 2, 2000)),
    ("31/12/9999", Day(31, 12, 9999)),
    ("01/01/2000", Day(1, 1, 2000)),
])
def test_day_forms(raw, expected):
    assert params.day(args(("data", raw))) == expected


@pytest.mark.parametrize("raw", [
    "", "2023-02-29", "2023-02-30", "2024-02-30", "2024-04-31", "2024-13-01", "2024-00-10", "2024-01-00",
    "29/02/2023", "30/02/", "31/04/", "32/01/", "00/01/", "01/13/", "1/3/2024", "01/3/2024", "2024-3-20",
    "20-03-2024", "2024/03/20", "20/03/24", "20/03", "1999-12-31", "2100-02-29", "today", "20/03/2024 ",
])
def test_day_rejects_malformed_or_impossible_dates(raw):
    with pytest.raises(ParamError, match="data"):
        params.day(args(("data", raw)))


def test_day_in_every_year_skips_years_without_that_date():
    every_29_feb = Day(29, 2, None)
    assert every_29_feb.on(2023) is None
    assert every_29_feb.on(2024) == date(2024, 2, 29)


# --- horario ------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("14:10:05", Clock(14, 10, 5)),
    ("14:10:", Clock(14, 10, None)),
    ("00:00:00", Clock(0, 0, 0)),
    ("23:59:59", Clock(23, 59, 59)),
    ("23:59:", Clock(23, 59, None)),
])
def test_clock_forms(raw, expected):
    assert params.clock(args(("horario", raw))) == expected


@pytest.mark.parametrize("raw", ["", "24:00:00", "12:60:00", "12:00:60", "1:00:00", "12:0:", "12:00",
                                 "12:00:0", "12:00:000", "12h00", "12:00:00Z", " 12:00:"])
def test_clock_rejects_other_times(raw):
    with pytest.raises(ParamError, match="horario"):
        params.clock(args(("horario", raw)))


def test_a_minute_spans_sixty_seconds_and_a_second_one():
    assert Clock(1, 2, None).span_ms == 60_000
    assert Clock(1, 2, 3).span_ms == 1000


# --- pagination and filters ---------------------------------------------------------------

def test_page_defaults_and_bounds():
    assert params.page(args()) == Page(1000, None)
    assert params.page(args(("limite", "1"), ("apos", "1709261999000"))) == Page(1, 1709261999000)
    assert params.page(args(("limite", "10000"), ("apos", "-5"))) == Page(10000, -5)


@pytest.mark.parametrize("pair", [("limite", "0"), ("limite", "10001"), ("limite", "-1"), ("limite", "1.5"),
                                  ("limite", ""), ("apos", "x"), ("apos", "01"), ("apos", str(2**63)),
                                  ("apos", "")])
def test_page_rejects_bad_values(pair):
    with pytest.raises(ParamError, match=pair[0]):
        params.page(args(pair))


def test_alert_state_filter():
    assert params.alert_state(args()) is None
    assert params.alert_state(args(("estado", "aberto"))) == "aberto"
    with pytest.raises(ParamError, match="estado"):
        params.alert_state(args(("estado", "ABERTO")))


# --- cadastro body ------------------------------------------------------------------------

def body(**fields):
    return json.dumps(fields).encode()


def test_customer_body_accepts_the_spec_example_and_ignores_extra_keys():
    parsed = params.customer_body(body(id=3, nome="vitor", endereco="rua c", extra=[1]))
    assert parsed == params.NewCustomer(3, "vitor", "rua c")
    assert params.customer_body(body(id=2**32 - 1, nome="n" * 200, endereco="Rua São João, 12")).id == 2**32 - 1


@pytest.mark.parametrize("raw, fragment", [
    (b"", "vazio"),
    (b"{", "JSON válido"),
    (b"\xff\xfe\x00", "JSON válido"),
    (b"[1, 2]", "objeto JSON"),
    (b'"texto"', "objeto JSON"),
    (b"[" * 100_000, "JSON válido"),
    (body(id=True, nome="a", endereco="b"), '"id"'),
    (body(id=3.0, nome="a", endereco="b"), '"id"'),
    (body(id="3", nome="a", endereco="b"), '"id"'),
    (body(id=0, nome="a", endereco="b"), '"id"'),
    (body(id=2**32, nome="a", endereco="b"), '"id"'),
    (body(nome="a", endereco="b"), '"id"'),
    (body(id=3, nome="", endereco="b"), '"nome"'),
    (body(id=3, nome="   ", endereco="b"), '"nome"'),
    (body(id=3, nome="n" * 201, endereco="b"), "201 caracteres"),
    (body(id=3, nome=None, endereco="b"), '"nome"'),
    (body(id=3, nome="a\x00b", endereco="b"), '"nome"'),
    (body(id=3, nome="a\nb", endereco="b"), '"nome"'),
    (b'{"id": 3, "nome": "\\ud800", "endereco": "b"}', '"nome"'),
    (body(id=3, nome="a"), '"endereco"'),
    (body(id=3, nome="a", endereco=5), '"endereco"'),
])
def test_customer_body_rejects_anything_else(raw, fragment):
    with pytest.raises(ParamError) as problem:
        params.customer_body(raw)
    assert fragment in str(problem.value)


def test_every_problem_of_a_body_is_named_at_once():
    with pytest.raises(ParamError) as problem:
        params.customer_body(body(id=-1, nome="", endereco=""))
    assert all(name in str(problem.value) for name in ('"id"', '"nome"', '"endereco"'))


# --- the OpenAPI patterns say exactly what the parsers accept ----------------------------

def _accepted(parser, name, raw):
    try:
        parser(args((name, raw)))
    except ParamError:
        return False
    return True


def _ecma_search(pattern, raw):
    return re.search(pattern, raw) is not None


def _every_date_text():
    day = date(1999, 12, 25)
    while day <= date(2101, 3, 5):
        yield day.isoformat()
        yield day.strftime("%d/%m/%Y")
        day += timedelta(days=1)
    for year in (2023, 2024, 2400, 9999):
        for month in range(0, 14):
            for day_number in range(0, 33):
                yield f"{year}-{month:02d}-{day_number:02d}"
                yield f"{day_number:02d}/{month:02d}/{year}"
                yield f"{day_number:02d}/{month:02d}/"


def test_the_data_pattern_agrees_with_the_parser():
    for raw in _every_date_text():
        assert _ecma_search(openapi.DATA_PATTERN, raw) == _accepted(params.day, "data", raw), raw


def test_the_mes_and_horario_patterns_agree_with_the_parsers():
    months = [str(n) for n in range(0, 14)] + [f"{n:02d}" for n in range(0, 14)] + ["001", "2024-03", "1999-01", "2024-13"]
    for raw in months:
        assert _ecma_search(openapi.MES_PATTERN, raw) == _accepted(params.bill_month, "mes", raw), raw
    times = [f"{h:02d}:{m:02d}:{s}" for h in (0, 9, 23, 24) for m in (0, 59, 60) for s in ("", "00", "59", "60", "5")]
    for raw in times:
        assert _ecma_search(openapi.HORARIO_PATTERN, raw) == _accepted(params.clock, "horario", raw), raw
