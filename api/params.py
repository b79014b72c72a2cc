"""Parsing and validation of query parameters and request bodies (SPEC §5). Pure functions.

Every parser takes the request's multi-valued arguments (anything with `getlist`, such as
Werkzeug's `MultiDict`) and returns a typed value, or raises `ParamError` with a message in
Portuguese that tells a person what to send instead. Unknown parameters are ignored; a known
parameter given twice must carry the same value both times.

Decisions where SPEC §5 is silent:
- `id` is written in canonical decimal, as topics are (SPEC §4): `7`, never `007`, `+7` or `7.0`.
- Years (`ano`, the year of `mes=YYYY-MM` and of `data`) run from 2000 (no reading is older)
  to 9999.
- `mes=YYYY-MM` together with `ano` names the month twice; that is not malformed, but when the
  two years differ no bill matches (the route answers 404).
- The cadastro body may carry extra keys; they are ignored.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from core import quality

MAX_ID = 2**32 - 1
# The operator's lists (api.admin): page size, row-id cursor, and the filters' known values.
ADMIN_DEFAULT_LIMIT, ADMIN_MAX_LIMIT = 100, 1000
MAX_ROW_ID = 2**63 - 1
REASON_PATTERN = f"^(?:{'|'.join(quality.REJECTION_REASONS)})$"
KIND_PATTERN = f"^(?:{'|'.join(quality.FLAG_KINDS)})$"
MIN_YEAR, MAX_YEAR = 2000, 9999
DEFAULT_LIMIT, MAX_LIMIT = 1000, 10_000
MIN_CURSOR, MAX_CURSOR = -(2**63), 2**63 - 1
MAX_TEXT = 200
LEAP_YEAR = 2000  # any leap year: `DD/MM/` accepts 29/02

ID_RE = re.compile(r"[1-9][0-9]{0,9}")
INTEGER_RE = re.compile(r"0|-?[1-9][0-9]{0,18}")
YEAR_RE = re.compile(r"[0-9]{4}")
MES_RE = re.compile(r"(?:(?P<year>[0-9]{4})-(?P<month2>[0-9]{2})|(?P<month>[0-9]{1,2}))")
DATA_RE = re.compile(
    r"(?P<iso_year>[0-9]{4})-(?P<iso_month>[0-9]{2})-(?P<iso_day>[0-9]{2})"
    r"|(?P<day>[0-9]{2})/(?P<month>[0-9]{2})/(?P<year>[0-9]{4})?"
)
HORARIO_RE = re.compile(r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})?")
ESTADO_RE = re.compile(r"[a-z_]{1,16}")
# A name or address: no control characters and not only blanks. The same expression is the
# OpenAPI pattern, so the document and the check agree by construction.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\ufeff\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
TEXT_RE = re.compile(TEXT_PATTERN)


class ParamError(ValueError):
    """Input a person must fix; the message (Portuguese) says how."""


class Args(Protocol):
    """The request's query arguments."""

    def getlist(self, key: str) -> list[str]: ...


@dataclass(frozen=True)
class BillMonth:
    """`mes` and `ano` of the bill route; `ano` None means the latest year with that bill."""

    mes: int
    ano: int | None
    conflicting: bool = False  # `mes=YYYY-MM` and an `ano` that names another year


@dataclass(frozen=True)
class Day:
    """A `data` value: a calendar day, or with `year` None that day in every year with data."""

    day: int
    month: int
    year: int | None

    def on(self, year: int) -> date | None:
        """The date in `year`, or None when it does not exist (29/02 in a common year)."""
        if self.day > calendar.monthrange(year, self.month)[1]:
            return None
        return date(year, self.month, self.day)


@dataclass(frozen=True)
class Clock:
    """A `horario` value: a second, or with `second` None a whole minute."""

    hour: int
    minute: int
    second: int | None

    @property
    def span_ms(self) -> int:
        """How long the window is: one second or one minute."""
        return 60_000 if self.second is None else 1000


@dataclass(frozen=True)
class Page:
    """Pagination: at most `limit` readings, those after the instant `after` (ms) when given."""

    limit: int = DEFAULT_LIMIT
    after: int | None = None


@dataclass(frozen=True)
class NewCustomer:
    """The body of `POST /usuario/cadastro/`."""

    id: int
    nome: str
    endereco: str


def single(args: Args, name: str) -> str | None:
    """The one value of a parameter, or None when absent; a parameter given twice is refused."""
    values = args.getlist(name)
    if not values:
        return None
    if any("\x00" in value for value in values):
        raise ParamError(f"o parâmetro {name} contém um caractere nulo (NUL); remova-o")
    if len(values) > 1:
        raise ParamError(f"o parâmetro {name} aparece mais de uma vez; envie um só valor")
    return values[0]


def required(args: Args, name: str, example: str) -> str:
    """The value of a mandatory parameter."""
    value = single(args, name)
    if not value:
        raise ParamError(f"informe o parâmetro {name} (por exemplo {name}={example})")
    return value


def customer_id(args: Args) -> int:
    """`id`: a customer (meter) id, 1 to 2^32-1, in canonical decimal."""
    raw = required(args, "id", "7")
    if not ID_RE.fullmatch(raw) or int(raw) > MAX_ID:
        raise ParamError(
            f"id inválido ({_show(raw)}): use um número inteiro de 1 a {MAX_ID}, "
            "sem sinal, espaços ou zeros à esquerda (por exemplo id=7)"
        )
    return int(raw)


def year(args: Args, name: str = "ano") -> int | None:
    """`ano`: a four-digit year from 2000 to 9999, or None when absent."""
    raw = single(args, name)
    if raw is None:
        return None
    if not YEAR_RE.fullmatch(raw) or not MIN_YEAR <= int(raw) <= MAX_YEAR:
        raise ParamError(f"{name} inválido ({_show(raw)}): use o ano com quatro dígitos, de {MIN_YEAR} a {MAX_YEAR} (por exemplo {name}=2024)")
    return int(raw)


def bill_month(args: Args) -> BillMonth:
    """`mes` (`MM`, one or two digits, or `YYYY-MM`) and the optional `ano` of the bill route."""
    raw = required(args, "mes", "03")
    match = MES_RE.fullmatch(raw)
    month = int(match.group("month") or match.group("month2")) if match else 0
    year_text = match.group("year") if match else None
    if not match or not 1 <= month <= 12 or (year_text and not MIN_YEAR <= int(year_text) <= MAX_YEAR):
        raise ParamError(
            f"mes inválido ({_show(raw)}): use o número do mês, de 01 a 12 (por exemplo mes=03), "
            f"ou ano e mês como AAAA-MM (por exemplo mes=2024-03), com ano de {MIN_YEAR} a {MAX_YEAR}"
        )
    ano = year(args)
    if year_text is None:
        return BillMonth(month, ano)
    return BillMonth(month, int(year_text), conflicting=ano is not None and ano != int(year_text))


def day(args: Args) -> Day:
    """`data`: `YYYY-MM-DD`, `DD/MM/YYYY`, or `DD/MM/` (that day in every year); a real date."""
    raw = required(args, "data", "2024-03-20")
    match = DATA_RE.fullmatch(raw)
    if not match:
        raise ParamError(
            f"data inválida ({_show(raw)}): use AAAA-MM-DD (2024-03-20), DD/MM/AAAA (20/03/2024) "
            "ou DD/MM/ (20/03/, esse dia em todos os anos com dados)"
        )
    if match.group("iso_year"):
        parts = (match.group("iso_day"), match.group("iso_month"), match.group("iso_year"))
    else:
        parts = (match.group("day"), match.group("month"), match.group("year"))
    day_number, month_number = int(parts[0]), int(parts[1])
    year_number = int(parts[2]) if parts[2] else None
    if year_number is not None and not MIN_YEAR <= year_number <= MAX_YEAR:
        raise ParamError(f"data inválida ({_show(raw)}): o ano vai de {MIN_YEAR} a {MAX_YEAR}")
    if not 1 <= month_number <= 12 or not 1 <= day_number <= calendar.monthrange(year_number or LEAP_YEAR, month_number)[1]:
        raise ParamError(f"data inválida ({_show(raw)}): esse dia não existe no calendário")
    return Day(day_number, month_number, year_number)


def clock(args: Args) -> Clock:
    """`horario`: `HH:MM:SS` (that second) or `HH:MM:` (that minute), local wall time."""
    raw = required(args, "horario", "14:10:")
    match = HORARIO_RE.fullmatch(raw)
    hour, minute = (int(match.group("hour")), int(match.group("minute"))) if match else (99, 99)
    second = int(match.group("second")) if match and match.group("second") else None
    if not match or hour > 23 or minute > 59 or (second is not None and second > 59):
        raise ParamError(
            f"horario inválido ({_show(raw)}): use HH:MM:SS para um segundo (14:10:05) "
            "ou HH:MM: para um minuto inteiro (14:10:), de 00:00:00 a 23:59:59"
        )
    return Clock(hour, minute, second)


def page(args: Args) -> Page:
    """`limite` (1 to 10000, default 1000) and `apos` (the cursor that `proxima` carries)."""
    limit = _integer(args, "limite", 1, MAX_LIMIT, "o número de leituras por página")
    after = _integer(args, "apos", MIN_CURSOR, MAX_CURSOR, "o cursor que vem no link proxima")
    return Page(DEFAULT_LIMIT if limit is None else limit, after)


def alert_state(args: Args) -> str | None:
    """`estado`: only alerts in that state (for example `aberto`), or None for all."""
    raw = single(args, "estado")
    if raw is None:
        return None
    if not ESTADO_RE.fullmatch(raw):
        raise ParamError(f"estado inválido ({_show(raw)}): use letras minúsculas, por exemplo estado=aberto")
    return raw


def customer_body(raw: bytes) -> NewCustomer:
    """The cadastro body `{"id": int, "nome": str, "endereco": str}`; extra keys are ignored."""
    example = '{"id": 3, "nome": "vitor", "endereco": "rua c"}'
    if not raw.strip():
        raise ParamError(f"o corpo está vazio: envie um objeto JSON como {example}")
    try:
        # JSON travels as UTF-8 (RFC 8259 §8.1); json.loads would also guess UTF-16 or UTF-32 from
        # raw bytes, so a filter in front and this API could read the same body differently.
        document = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise ParamError(f"o corpo não é JSON válido em UTF-8: envie um objeto como {example}") from None
    if not isinstance(document, dict):
        raise ParamError(f"o corpo deve ser um objeto JSON como {example}")
    problems = [problem for problem in (
        _id_problem(document.get("id")),
        _text_problem(document, "nome"),
        _text_problem(document, "endereco"),
    ) if problem]
    if problems:
        raise ParamError("; ".join(problems))
    return NewCustomer(document["id"], document["nome"], document["endereco"])


def _id_problem(value: Any) -> str | None:
    """What is wrong with the body's `id`, if anything."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        return f'"id" deve ser um número inteiro JSON de 1 a {MAX_ID} (sem aspas, sem casas decimais)'
    return None


def _text_problem(document: dict, name: str) -> str | None:
    """What is wrong with a body text field, if anything."""
    value = document.get(name)
    if not isinstance(value, str) or not value.strip():
        return f'"{name}" deve ser um texto não vazio'
    if len(value) > MAX_TEXT:
        return f'"{name}" tem {len(value)} caracteres; o máximo é {MAX_TEXT}'
    if not TEXT_RE.fullmatch(value) or not _encodable(value):
        return f'"{name}" não pode conter caracteres de controle nem caracteres inválidos'
    return None


def _encodable(value: str) -> bool:
    """False for a string with lone surrogates (`"\\ud800"` in JSON), which no database stores."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _integer(args: Args, name: str, low: int, high: int, meaning: str) -> int | None:
    """An optional integer parameter in canonical decimal within `[low, high]`."""
    raw = single(args, name)
    if raw is None:
        return None
    if not INTEGER_RE.fullmatch(raw) or not low <= int(raw) <= high:
        raise ParamError(f"{name} inválido ({_show(raw)}): {name} é {meaning}, um inteiro de {low} a {high}")
    return int(raw)


def _show(raw: str) -> str:
    """A parameter as quoted in a message, cut short so an error never echoes kilobytes."""
    return repr(raw if len(raw) <= 40 else raw[:40] + "…")
