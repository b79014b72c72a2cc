"""Decoder fuzzing through the real pipeline: random and mutated payloads, published by meters
through Mosquitto to the running worker, never crash it, and each bad one lands in the rejected
store with its payload as received (SPEC §4).

One broker and one worker serve every example (starting them per example would take minutes).
After each example the test waits until the worker has processed every message published so far
(its `energy_ingest_received_total`), then checks each payload's fate against the wire codec:
a payload the codec refuses is in the rejected store with the codec's reason; one it accepts has
its reading stored, or is in the rejected store as a conflict (its timestamp was taken) or a
register overflow (its drop would push the meter's corrections past 2^63 Wh).
A failing example is reported as generated, not shrunk: each try waits on real processes.
"""

from __future__ import annotations

import json
import struct
import time

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from core import quality, wire
from tests.support.broker import RunningBroker
from tests.support.load import Ledger
from tests.support.net import free_port
from tests.support.observe import scrape
from tests.support.procs import ProcessTracker
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

METERS = range(1, 6)
NOW_MS = int(time.time()) * 1000


class Stack:
    """The broker, one worker with its metrics port, a publisher per meter, and what was sent."""

    def __init__(self, broker: RunningBroker, worker, metrics_port: int, db_url: str):
        self.broker = broker
        self.worker = worker
        self.metrics_port = metrics_port
        self.clients = {meter_id: broker.client(meter_id, timeout=30) for meter_id in METERS}
        self.ledger = Ledger(db_url)
        self.published = 0

    def publish(self, meter_id: int, payloads: list[bytes]) -> None:
        codes = self.clients[meter_id].publish_many([(wire.topic_for(meter_id), payload) for payload in payloads])
        assert all(code == 0 for code in codes)
        self.published += len(payloads)
        wait_until(self._caught_up, timeout=15,
                   message=lambda: f"the worker to process {self.published} messages:\n{self.worker.log_tail()}")

    def _caught_up(self) -> bool:
        if not self.worker.alive:
            raise AssertionError(f"the worker died:\n{self.worker.log_tail()}")
        metrics = scrape(self.metrics_port)
        return metrics.get("energy_ingest_received_total", 0) >= self.published and metrics["energy_ingest_held_messages"] == 0

    def fate(self, meter_id: int, payload: bytes) -> tuple[bool, list[str]]:
        """Whether the payload's reading is stored, and the reasons it is in the rejected store for."""
        reasons = self.ledger.rejected_reasons(wire.topic_for(meter_id), payload)
        try:
            reading = wire.decode(wire.topic_for(meter_id), payload)
        except wire.Rejected:
            return False, reasons
        return self.ledger.stored(meter_id, reading.ts_ms), reasons


@pytest.fixture(scope="module")
def stack(tmp_path_factory, backend):
    root = tmp_path_factory.mktemp("fuzz")
    tracker = ProcessTracker(root / "logs", backend.complete)
    with RunningBroker(root / "broker", meters=METERS, data_dir=root / "data") as broker:
        port = free_port()
        worker = tracker(["ingest"], broker.env(INGEST_METRICS_PORT=port), name="ingest")
        worker.wait_for_log("subscribed to meters/", timeout=20)
        try:
            yield Stack(broker, worker, port, backend.url(broker.data_dir))
        finally:
            tracker.cleanup()


def valid_payload(meter_id: int, ts_offset_s: int, wh: int) -> bytes:
    return wire.encode(wire.Reading(meter_id, NOW_MS - ts_offset_s * 1000, wh))


@st.composite
def mutated(draw, meter_id: int) -> bytes:
    """A valid binary reading with bytes flipped, cut, added or the version changed."""
    payload = bytearray(valid_payload(meter_id, draw(st.integers(0, 10**6)), draw(st.integers(0, 10**9))))
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["flip", "cut", "extend", "version"]))
        if action == "flip" and payload:
            index = draw(st.integers(0, len(payload) - 1))
            payload[index] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del payload[draw(st.integers(0, len(payload))):]
        elif action == "extend":
            payload += draw(st.binary(min_size=1, max_size=8))
        elif action == "version" and payload:
            payload[0] = draw(st.integers(0, 255))
    return bytes(payload)


@st.composite
def flipped(draw, meter_id: int) -> bytes:
    """A valid binary reading with one to three bits of its id, time or register flipped."""
    payload = bytearray(valid_payload(meter_id, draw(st.integers(0, 10**6)), draw(st.integers(0, 10**9))))
    for _ in range(draw(st.integers(1, 3))):
        payload[draw(st.integers(1, 20))] ^= 1 << draw(st.integers(0, 7))
    return bytes(payload)


JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
    st.text(max_size=30), st.lists(st.integers(), max_size=3), st.just("2024-03-20T12:00:00-03:00"),
)


@st.composite
def json_payload(draw, meter_id: int) -> bytes:
    """JSON that is nearly a reading: keys kept, dropped or added, values of any type."""
    document = {
        "id": draw(st.one_of(st.just(meter_id), JSON_VALUES)),
        "ts": draw(st.one_of(st.just(NOW_MS / 1000 - 60), JSON_VALUES)),
        "kwh": draw(st.one_of(st.just(12.345), JSON_VALUES)),
    }
    for key in draw(st.lists(st.sampled_from(["id", "ts", "kwh"]), max_size=2)):
        document.pop(key, None)
    if draw(st.booleans()):
        document[draw(st.text(max_size=5))] = draw(JSON_VALUES)
    return json.dumps(document).encode()


def payloads(meter_id: int):
    return st.one_of(
        st.binary(max_size=64),
        mutated(meter_id),
        flipped(meter_id),
        flipped(meter_id),
        json_payload(meter_id),
        st.text(max_size=40).map(lambda text: ("{" + text).encode()),
        st.binary(min_size=1100, max_size=3000),  # longer than the 1 KiB the rejected store keeps
        st.builds(lambda version: struct.pack("!B", version) + bytes(20), st.integers(2, 31)),
    )


@st.composite
def examples(draw) -> tuple[int, list[bytes]]:
    meter_id = draw(st.sampled_from(list(METERS)))
    return meter_id, draw(st.lists(payloads(meter_id), min_size=5, max_size=40))


def expected_rejection(meter_id: int, payload: bytes, received_ms: int) -> str | None:
    """The reason the codec and the time checks give, or None for a usable reading."""
    try:
        reading = wire.decode(wire.topic_for(meter_id), payload)
    except wire.Rejected as problem:
        return problem.reason
    problem = quality.time_rejection(reading, received_ms)
    return problem[0] if problem else None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(example=examples())
@example(example=(1, [valid_payload(1, 60, 1_000), valid_payload(1, 55, 2**62)]))  # 3.3e21 W: once stalled the worker
def test_random_and_mutated_payloads_never_crash_the_worker_and_land_in_the_rejected_store(stack, example):
    meter_id, sent = example
    before = time.time_ns() // 1_000_000
    stack.publish(meter_id, sent)
    for payload in sent:
        reason = expected_rejection(meter_id, payload, before)
        stored, reasons = stack.fate(meter_id, payload)
        if reason is None:
            assert stored or {"conflict", "register_overflow"} & set(reasons), f"a valid reading was lost: {payload!r}"
        else:
            assert reason in reasons, f"{payload[:60]!r} should be rejected as {reason}, found {reasons}"
    metrics = scrape(stack.metrics_port)
    rejected = sum(value for name, value in metrics.items() if name.startswith("energy_ingest_rejected_total"))
    assert metrics["energy_ingest_received_total"] == (
        metrics["energy_ingest_stored_total"] + metrics["energy_ingest_duplicates_total"] + rejected)
    assert stack.ledger.rejected() == rejected
    assert 'energy_ingest_rejected_total{reason="internal_error"}' not in metrics


def test_the_worker_outlived_every_example(stack):
    assert stack.worker.alive
    metrics = scrape(stack.metrics_port)
    reasons = {name.split('"')[1]: int(value) for name, value in metrics.items()
               if name.startswith("energy_ingest_rejected_total")}
    print(f"\nfuzzing: {stack.published} payloads, {metrics['energy_ingest_stored_total']:.0f} stored, "
          f"{metrics['energy_ingest_duplicates_total']:.0f} duplicates, rejected {reasons}")
