"""Wire format of a reading (SPEC §4): the 21-byte v1 payload, its JSON form, and the topic."""

from __future__ import annotations

import functools
import json
import re
import struct
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

PAYLOAD = struct.Struct("!BIqQ")
VERSION = 1
MAX_PLAUSIBLE_VERSION = 31  # a first byte above this (text, noise) is a malformed payload, not a version
MAX_METER_ID = 2**32 - 1
MAX_REGISTER_WH = 2**63 - 1
TOPIC_FILTER = "meters/+/reading"
# Mosquitto's broker-wide counters (retained, renewed every sys_interval): messages dropped by its
# queue limits, and messages held in its store. The worker reads them; the ACL lets it.
SYS_DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"
SYS_STORED_TOPIC = "$SYS/broker/store/messages/count"
_TOPIC = re.compile(r"meters/(0|[1-9][0-9]{0,9})/reading")
_JSON_KEYS = frozenset({"id", "ts", "kwh"})
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# Reasons a payload is rejected; stored with the rejected reading and counted in metrics.
MALFORMED = "malformed"
UNKNOWN_VERSION = "unknown_version"
BAD_TOPIC = "bad_topic"
ID_MISMATCH = "id_mismatch"
REGISTER_OVERFLOW = "register_overflow"


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading: meter id, UTC time in milliseconds, cumulative register in watt-hours."""

    meter_id: int
    ts_ms: int
    wh: int


class Rejected(ValueError):
    """A payload that cannot be stored, with a stable reason code and a readable detail."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def topic_for(meter_id: int) -> str:
    """The topic a meter publishes on."""
    return f"meters/{meter_id}/reading"


def alert_topic(meter_id: int) -> str:
    """The topic alerts of a customer are published on."""
    return f"alerts/{meter_id}"


def meter_id_from_topic(topic: str) -> int:
    """The canonical decimal id in `meters/<id>/reading`, or `Rejected(bad_topic)`."""
    meter_id = _topic_id(topic)
    if meter_id is None:
        raise Rejected(BAD_TOPIC, f"topic {topic[:80]!r} is not meters/<decimal id>/reading")
    return meter_id


@functools.lru_cache(maxsize=65_536)  # a worker sees the same meters' topics again and again
def _topic_id(topic: str) -> int | None:
    match = _TOPIC.fullmatch(topic)
    if not match or int(match.group(1)) > MAX_METER_ID:
        return None
    return int(match.group(1))


def encode(reading: Reading) -> bytes:
    """The 21-byte v1 payload of a reading."""
    return PAYLOAD.pack(VERSION, reading.meter_id, reading.ts_ms, reading.wh)


def encode_json(reading: Reading) -> bytes:
    """The JSON form of a reading, as a person would type it for mosquitto_pub."""
    kwh = Decimal(reading.wh) / 1000
    return json.dumps({"id": reading.meter_id, "ts": reading.ts_ms / 1000, "kwh": float(kwh)}).encode()


def decode(topic: str, payload: bytes) -> Reading:
    """Parse a payload received on `topic`; raise `Rejected` with the reason when it is unusable."""
    topic_id = meter_id_from_topic(topic)
    reading = decode_json(payload) if payload[:1] == b"{" else decode_binary(payload)
    if reading.meter_id != topic_id:
        raise Rejected(ID_MISMATCH, f"payload id {reading.meter_id} differs from topic id {topic_id}")
    if reading.wh > MAX_REGISTER_WH:
        raise Rejected(REGISTER_OVERFLOW, f"register {reading.wh} Wh is 2^63 Wh or more")
    return reading


def decode_binary(payload: bytes) -> Reading:
    """Unpack the struct form `!BIqQ`."""
    if len(payload) != PAYLOAD.size:
        if payload and VERSION < payload[0] <= MAX_PLAUSIBLE_VERSION:
            raise Rejected(UNKNOWN_VERSION, f"version byte {payload[0]} is not {VERSION}")
        raise Rejected(MALFORMED, f"payload has {len(payload)} bytes, expected {PAYLOAD.size}")
    version, meter_id, ts_ms, wh = PAYLOAD.unpack(payload)
    if version != VERSION:
        raise Rejected(UNKNOWN_VERSION, f"version byte {version} is not {VERSION}")
    return Reading(meter_id, ts_ms, wh)


def decode_json(payload: bytes) -> Reading:
    """Parse `{"id": int, "ts": seconds or ISO-8601 with offset, "kwh": non-negative number}`."""
    try:
        document = json.loads(payload, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise Rejected(MALFORMED, f"invalid JSON: {str(error)[:120]}") from None
    if not isinstance(document, dict) or set(document) != _JSON_KEYS:
        raise Rejected(MALFORMED, 'JSON must be an object with exactly "id", "ts" and "kwh"')
    return Reading(_json_id(document["id"]), _json_ts(document["ts"]), _json_wh(document["kwh"]))


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def _json_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_METER_ID:
        raise Rejected(MALFORMED, f'"id" must be an integer from 0 to {MAX_METER_ID}')
    return value


def _json_ts(value: object) -> int:
    if isinstance(value, str):
        return _iso_ms(value)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise Rejected(MALFORMED, '"ts" must be Unix seconds or an ISO-8601 string with an offset')
    try:
        ms = (Decimal(value) * 1000).to_integral_value(rounding=ROUND_HALF_UP)
    except ArithmeticError:  # decimal Overflow / InvalidOperation on absurd exponents
        raise Rejected(MALFORMED, '"ts" is out of range') from None
    if not -(2**63) <= ms < 2**63:
        raise Rejected(MALFORMED, '"ts" is out of range')
    return int(ms)


def _iso_ms(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Rejected(MALFORMED, f'"ts" {text[:40]!r} is not an ISO-8601 time') from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise Rejected(MALFORMED, f'"ts" {text[:40]!r} has no UTC offset')
    delta = moment - _EPOCH
    whole_ms = (delta.days * 86_400 + delta.seconds) * 1000
    return whole_ms + int((Decimal(delta.microseconds) / 1000).to_integral_value(rounding=ROUND_HALF_UP))


def _json_wh(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise Rejected(MALFORMED, '"kwh" must be a number')
    if value < 0:
        raise Rejected(MALFORMED, '"kwh" must not be negative')
    try:
        wh = (Decimal(value) * 1000).to_integral_value(rounding=ROUND_HALF_UP)
    except ArithmeticError:
        raise Rejected(REGISTER_OVERFLOW, '"kwh" is 2^63 Wh or more') from None
    if wh > MAX_REGISTER_WH:  # checked before int(): 1e999999999 must not become a huge integer
        raise Rejected(REGISTER_OVERFLOW, f'"kwh" {value} is 2^63 Wh or more')
    return int(wh)
