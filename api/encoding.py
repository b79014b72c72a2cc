"""The one place where values become JSON: kWh `Decimal`s leave as numbers (SPEC §5, STYLE 4).

Money leaves the documents as decimal strings already; every `Decimal` that reaches the encoder
is energy in kWh, written as a JSON number rounded half-up to the watt-hour. Keys keep the
order the documents give them. A value that is JSON text already (`Encoded`: a page of readings,
written by f-strings in half the time the encoder takes) is spliced into the answer as it is.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Response
from flask.json.provider import DefaultJSONProvider

from core.money import kwh

COMPACT = (",", ":")  # jsonify's separators outside debug mode


class Encoded(str):
    """A value written as compact JSON text already, spliced into `jsonify`'s answer as it is."""


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

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """`jsonify`'s answer; a document with `Encoded` values gets them spliced in, the rest encoded."""
        document = self._prepare_response_obj(args, kwargs)
        if not (isinstance(document, dict) and any(isinstance(value, Encoded) for value in document.values())):
            return super().response(document)
        if self.compact is False or (self.compact is None and self._app.debug):  # indented: encode it all
            return super().response({key: json.loads(value) if isinstance(value, Encoded) else value
                                     for key, value in document.items()})
        # One encoder for every member, as `self.dumps` would build it (it builds one per call).
        encode = json.JSONEncoder(ensure_ascii=self.ensure_ascii, sort_keys=self.sort_keys, separators=COMPACT,
                                  default=self.default).encode
        members = ",".join(f"{encode(key)}:{value if isinstance(value, Encoded) else encode(value)}"
                           for key, value in document.items())
        return self._app.response_class(f"{{{members}}}\n", mimetype=self.mimetype)
