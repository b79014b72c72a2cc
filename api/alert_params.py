"""Parsing the parameters of the alert routes (issue 4). Pure functions, like `api.params`.

The regular expressions are the OpenAPI patterns too (`api.alert_openapi`), so what the
document calls valid is never answered 400 and what it calls invalid always is.

- `tipo`: one kind of alert, or several separated by commas (`tipo=potencia,consumo_diario`).
- `desde`: alerts raised at or after an instant: a date `YYYY-MM-DD` (its local midnight) or a
  time `YYYY-MM-DDTHH:MM[:SS[.ffffff]]` with an offset (`Z`, `-03:00`) or without one (local
  time, the first of a repeated hour). A `+` sent unescaped arrives as a space; it is read as `+`.
- `alerta_id`: an alert's id, 1 to 2^63-1, in canonical decimal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from api.openapi import ISO_MONTH_DAY, LEAP_YEAR, YEAR
from api.params import Args, ParamError, _show, required, single
from core.periods import day_start
from core.rules import KINDS

MAX_ALERT_ID = 2**63 - 1
KIND = "(?:" + "|".join(KINDS) + ")"
TIPO_PATTERN = f"^{KIND}(?:,{KIND})*$"
DATE = f"(?:{YEAR}-{ISO_MONTH_DAY}|{LEAP_YEAR}-02-29)"
CLOCK = r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
OFFSET = "(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
DESDE_PATTERN = f"^{DATE}(?:T{CLOCK}{OFFSET}?)?$"
ALERT_ID_RE = re.compile(r"[1-9][0-9]{0,18}")
EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class AlertFilter:
    """Which of a customer's alerts to list: kinds (None: all), a state, raised since an instant."""

    kinds: tuple[str, ...] | None = None
    estado: str | None = None
    since_ms: int | None = None


def kinds(args: Args) -> tuple[str, ...] | None:
    """`tipo`: the kinds to list, or None for every kind."""
    raw = single(args, "tipo")
    if raw is None:
        return None
    if not re.fullmatch(TIPO_PATTERN, raw):
        raise ParamError(f"tipo inválido ({_show(raw)}): use um ou mais destes, separados por vírgula: {', '.join(KINDS)}")
    return tuple(dict.fromkeys(raw.split(",")))


def since(args: Args, zone: ZoneInfo) -> int | None:
    """`desde`: the instant (ms) from which alerts are listed, or None."""
    raw = single(args, "desde")
    if raw is None:
        return None
    text = raw.replace(" ", "+") if "T" in raw else raw  # a `+` sent unescaped arrives as a space
    if not re.fullmatch(DESDE_PATTERN, text):
        raise ParamError(
            f"desde inválido ({_show(raw)}): use uma data AAAA-MM-DD (2024-03-20) ou data e hora "
            "AAAA-MM-DDTHH:MM[:SS] com ou sem fuso (2024-03-20T14:00:00-03:00)"
        )
    if "T" not in text:
        return day_start(datetime.fromisoformat(text).date(), zone)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    offset = moment.utcoffset() if moment.tzinfo else zone.utcoffset(moment.replace(fold=0))
    elapsed = moment.replace(tzinfo=None) - EPOCH - (offset or timedelta(0))  # never past datetime's range
    return (elapsed.days * 86_400 + elapsed.seconds) * 1000 + elapsed.microseconds // 1000


def alert_filter(args: Args, zone: ZoneInfo, estado: str | None) -> AlertFilter:
    """The filters of the all-kinds route."""
    return AlertFilter(kinds(args), estado, since(args, zone))


def alert_id(args: Args) -> int:
    """`alerta_id`: the id of one alert."""
    raw = required(args, "alerta_id", "12")
    if not ALERT_ID_RE.fullmatch(raw) or int(raw) > MAX_ALERT_ID:
        raise ParamError(
            f"alerta_id inválido ({_show(raw)}): use o número do alerta (o campo alerta_id da lista), "
            "sem sinal, espaços ou zeros à esquerda"
        )
    return int(raw)


def settings_body(raw: bytes) -> dict[str, Any]:
    """The body of the configuration route: a JSON object of thresholds (numbers kept exact)."""
    example = '{"potencia_kw": 11, "desligados": ["consumo_diario"]}'
    try:
        document = json.loads(raw, parse_float=Decimal) if raw.strip() else None
    except (ValueError, RecursionError):
        raise ParamError(f"o corpo não é JSON válido: envie um objeto como {example}") from None
    if not isinstance(document, dict) or not document:
        raise ParamError(f"envie um objeto JSON com o que mudar, como {example} (null volta um limite ao padrão)")
    return document
