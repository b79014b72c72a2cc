"""The operator's routes (admin token only): readings the worker rejected or flagged (SPEC §4).

`GET /admin/leituras/rejeitadas` lists what the worker refused, with its reason and the payload
as received; `GET /admin/leituras/sinalizadas` the register steps flagged for review (jumps,
resets, replacements), with the power they imply and what they count. Both are newest first,
filtered by `motivo`/`tipo` and `medidor`, paginated by `limite` and the `apos` cursor that
`proxima` carries. Checks run in the order of SPEC §5: 401, 400, 403.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request

from api import access, auth, db, params
from api.errors import Forbidden
from api.params import ParamError
from core import quality, review
from core.wire import MAX_METER_ID

bp = Blueprint("admin", __name__)

METER_RE = re.compile(r"0|[1-9][0-9]{0,9}")
LIMIT_RE = re.compile(r"[1-9][0-9]{0,3}")
ROW_ID_RE = re.compile(r"[1-9][0-9]{0,18}")


@bp.get("/admin/leituras/rejeitadas", strict_slashes=False)
def rejeitadas() -> Response:
    """Rejected readings, newest first."""
    principal = access.principal()
    reason = _choice(request.args, "motivo", quality.REJECTION_REASONS)
    meter_id = _meter(request.args)
    limit = _limit(request.args)
    before = _row_id(request.args)
    _require_admin(principal)
    listing = review.rejected(db.session(), db.context().settings.zone, reason=reason, meter_id=meter_id,
                              limit=limit, before_id=before)
    return _page(listing, "rejeitadas", ("motivo", "medidor", "limite"))


@bp.get("/admin/leituras/sinalizadas", strict_slashes=False)
def sinalizadas() -> Response:
    """Flagged register steps, newest reading first."""
    principal = access.principal()
    kind = _choice(request.args, "tipo", quality.FLAG_KINDS)
    meter_id = _meter(request.args)
    limit = _limit(request.args)
    after = _flag_key(request.args)
    _require_admin(principal)
    listing = review.flagged(db.session(), db.context().settings.zone, kind=kind, meter_id=meter_id,
                             limit=limit, after=after)
    return _page(listing, "sinalizadas", ("tipo", "medidor", "limite"))


def _require_admin(principal: auth.Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("só o token de administrador vê as leituras rejeitadas e sinalizadas")


def _page(listing: review.Listing, name: str, kept: tuple[str, ...]) -> Response:
    """The list under `name`, the total, and `proxima` (absolute URL of the next page, or null)."""
    following = None
    if listing.next_cursor is not None:
        cursor = listing.next_cursor.text() if isinstance(listing.next_cursor, review.FlagKey) else str(listing.next_cursor)
        query = [(key, request.args[key]) for key in kept if key in request.args] + [("apos", cursor)]
        following = f"{request.base_url}?{urlencode(query)}"
    return jsonify({"total": listing.total, name: listing.items, "proxima": following})


def _choice(args: params.Args, name: str, allowed: tuple[str, ...]) -> str | None:
    """An optional parameter that must be one of `allowed`."""
    raw = params.single(args, name)
    if raw is None or raw in allowed:
        return raw
    raise ParamError(f"{name} inválido ({raw[:40]!r}): use um destes: {', '.join(allowed)}")


def _meter(args: params.Args) -> int | None:
    raw = params.single(args, "medidor")
    if raw is None:
        return None
    if not METER_RE.fullmatch(raw) or int(raw) > MAX_METER_ID:
        raise ParamError(f"medidor inválido ({raw[:40]!r}): use o id do medidor, de 0 a {MAX_METER_ID}, sem zeros à esquerda")
    return int(raw)


def _limit(args: params.Args) -> int:
    raw = params.single(args, "limite")
    if raw is None:
        return params.ADMIN_DEFAULT_LIMIT
    if not LIMIT_RE.fullmatch(raw) or int(raw) > params.ADMIN_MAX_LIMIT:
        raise ParamError(f"limite inválido ({raw[:40]!r}): use um inteiro de 1 a {params.ADMIN_MAX_LIMIT}")
    return int(raw)


def _row_id(args: params.Args) -> int | None:
    raw = params.single(args, "apos")
    if raw is None:
        return None
    if not ROW_ID_RE.fullmatch(raw) or int(raw) > params.MAX_ROW_ID:
        raise ParamError(f"apos inválido ({raw[:40]!r}): use o cursor que vem no link proxima")
    return int(raw)


def _flag_key(args: params.Args) -> review.FlagKey | None:
    raw = params.single(args, "apos")
    if raw is None:
        return None
    key = review.parse_flag_key(raw)
    if key is None:
        raise ParamError(f"apos inválido ({raw[:40]!r}): use o cursor que vem no link proxima")
    return key
