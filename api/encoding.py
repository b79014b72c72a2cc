"""The one place where values become JSON: kWh `Decimal`s leave as numbers (SPEC §5, STYLE 4).

Money leaves the documents as decimal strings already; every `Decimal` that reaches the encoder
is energy in kWh, written as a JSON number rounded half-up to the watt-hour. Keys keep the
order the documents give them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask.json.provider import DefaultJSONProvider

from core.money import kwh


def _default(value: Any) -> Any:
    """kWh as numbers, dates as ISO text; anything else as Flask does."""
    if isinstance(value, Decimal):
        return float(kwh(value))
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return DefaultJSONProvider.default(value)


class JSONProvider(DefaultJSONProvider):
    """Flask's provider with kWh as numbers, insertion-ordered keys and UTF-8 text."""

    default = staticmethod(_default)
    sort_keys = False
    ensure_ascii = False
