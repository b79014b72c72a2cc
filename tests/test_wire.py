"""The wire codec of SPEC §4: round trips and every malformed form."""

import json
import struct

import pytest
from hypothesis import given, strategies as st

from core import wire
from core.wire import Reading, Rejected, decode, encode


def test_binary_round_trip_is_21_bytes_big_endian():
    reading = Reading(7, 1_679_321_400_000, 12_345)
    payload = encode(reading)
    assert len(payload) == 21
    assert payload == struct.pack("!BIqQ", 1, 7, 1_679_321_400_000, 12_345)
    assert decode("meters/7/reading", payload) == reading


@given(
    meter_id=st.integers(0, 2**32 - 1),
    ts=st.integers(-(2**63), 2**63 - 1),
    wh=st.integers(0, 2**63 - 1),
)
def test_any_valid_binary_reading_round_trips(meter_id, ts, wh):
    reading = Reading(meter_id, ts, wh)
    assert decode(wire.topic_for(meter_id), encode(reading)) == reading


def test_json_form_with_unix_seconds_rounds_half_up_to_the_watt_hour():
    payload = b'{"id": 1, "ts": 1679321400.0, "kwh": 12.3455}'
    assert decode("meters/1/reading", payload) == Reading(1, 1_679_321_400_000, 12_346)


def test_json_form_with_an_iso_time_and_offset():
    payload = b'{"id": 1, "ts": "2023-03-20T14:10:00-03:00", "kwh": 0.0005}'
    assert decode("meters/1/reading", payload) == Reading(1, 1_679_332_200_000, 1)


def test_json_round_trip_of_encode_json():
    reading = Reading(9, 1_700_000_000_123, 987_654)
    assert decode("meters/9/reading", wire.encode_json(reading)) == reading


@pytest.mark.parametrize("payload", [
    b"{", b"{}", b"[1, 2, 3]", b'"text"',
    b'{"id": 1, "ts": 1}',
    b'{"id": 1, "ts": 1, "kwh": 1, "extra": 2}',
    b'{"id": "1", "ts": 1, "kwh": 1}',
    b'{"id": 1.0, "ts": 1, "kwh": 1}',
    b'{"id": true, "ts": 1, "kwh": 1}',
    b'{"id": -1, "ts": 1, "kwh": 1}',
    b'{"id": 4294967296, "ts": 1, "kwh": 1}',
    b'{"id": 1, "ts": "2023-03-20T14:10:00", "kwh": 1}',
    b'{"id": 1, "ts": "yesterday", "kwh": 1}',
    b'{"id": 1, "ts": null, "kwh": 1}',
    b'{"id": 1, "ts": 1, "kwh": -0.001}',
    b'{"id": 1, "ts": 1, "kwh": "1.5"}',
    b'{"id": 1, "ts": NaN, "kwh": 1}',
    b'{"id": 1, "ts": 1, "kwh": Infinity}',
    b'{"id": 1, "ts": 1e999999999, "kwh": 1}',
    b"\xff\xfe{}",
])
def test_malformed_json_is_rejected_as_malformed(payload):
    with pytest.raises(Rejected) as caught:
        decode("meters/1/reading", payload)
    assert caught.value.reason == wire.MALFORMED


def test_absurd_register_in_json_is_an_overflow_without_building_a_huge_integer():
    with pytest.raises(Rejected) as caught:
        decode("meters/1/reading", b'{"id": 1, "ts": 1, "kwh": 1e999999999}')
    assert caught.value.reason == wire.REGISTER_OVERFLOW


@pytest.mark.parametrize("payload, reason", [
    (b"", wire.MALFORMED),
    (b"\x01" * 20, wire.MALFORMED),
    (b"\x01" * 22, wire.MALFORMED),
    (b"garbage", wire.MALFORMED),
    (struct.pack("!BIqQ", 2, 1, 0, 0), wire.UNKNOWN_VERSION),
    (struct.pack("!BIqQ", 0, 1, 0, 0), wire.UNKNOWN_VERSION),
    (b"\x02" + b"\x00" * 30, wire.UNKNOWN_VERSION),
    (struct.pack("!BIqQ", 1, 2, 0, 0), wire.ID_MISMATCH),
    (struct.pack("!BIqQ", 1, 1, 0, 2**63), wire.REGISTER_OVERFLOW),
    (struct.pack("!BIqQ", 1, 1, 0, 2**64 - 1), wire.REGISTER_OVERFLOW),
])
def test_bad_binary_payloads_are_rejected_with_their_reason(payload, reason):
    with pytest.raises(Rejected) as caught:
        decode("meters/1/reading", payload)
    assert caught.value.reason == reason


def test_register_just_below_two_to_the_63_is_accepted():
    reading = Reading(1, 0, 2**63 - 1)
    assert decode("meters/1/reading", encode(reading)) == reading


@pytest.mark.parametrize("topic", [
    "meters/007/reading", "meters/-1/reading", "meters/1.0/reading", "meters//reading",
    "meters/1/reading/x", "meter/1/reading", "meters/4294967296/reading", "meters/+/reading",
])
def test_non_canonical_topics_are_rejected(topic):
    with pytest.raises(Rejected) as caught:
        decode(topic, encode(Reading(7, 0, 0)))
    assert caught.value.reason == wire.BAD_TOPIC


def test_json_id_must_match_the_topic():
    with pytest.raises(Rejected) as caught:
        decode("meters/2/reading", json.dumps({"id": 1, "ts": 1, "kwh": 1}).encode())
    assert caught.value.reason == wire.ID_MISMATCH


@given(st.binary(max_size=64))
def test_random_bytes_never_escape_as_anything_but_rejected(payload):
    try:
        reading = decode("meters/1/reading", payload)
    except Rejected as problem:
        assert problem.reason in {wire.MALFORMED, wire.UNKNOWN_VERSION, wire.ID_MISMATCH, wire.REGISTER_OVERFLOW}
    else:
        assert reading.meter_id == 1 and 0 <= reading.wh < 2**63
