"""The demo's one-line summary every 10 s: meters online, readings/s, bills closed, open alerts.

Meters online are those heard on the broker in the last period (a read-only `watcher`
subscription, QoS 0); readings/s, bills and alerts come from the database the worker writes
(read-only queries, which SQLite in WAL mode serves beside the writer).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from sqlalchemy import Engine, func, select

from core.models import Alert, Bill, Customer, MeterState
from core.wire import TOPIC_FILTER, meter_id_from_topic

OPEN = "aberto"


@dataclass(frozen=True)
class Figures:
    """What the database says at one moment."""

    stored: int  # readings stored since the start
    bills: int  # closed bills
    fewest_bills: int  # closed bills of the customer with the fewest
    open_alerts: int


def figures(engine: Engine) -> Figures:
    """Count stored readings, closed bills (in all and per customer) and open alerts."""
    with engine.connect() as connection:
        stored = connection.scalar(select(func.coalesce(func.sum(MeterState.readings), 0)))
        per_customer = select(Customer.id, func.count(Bill.id).label("bills")).outerjoin(
            Bill, Bill.customer_id == Customer.id).group_by(Customer.id).subquery()
        bills, fewest = connection.execute(
            select(func.coalesce(func.sum(per_customer.c.bills), 0), func.coalesce(func.min(per_customer.c.bills), 0))
        ).one()
        alerts = connection.scalar(select(func.count()).select_from(Alert).where(Alert.state == OPEN))
    return Figures(int(stored), int(bills), int(fewest), int(alerts))


class Listener:
    """Which meters published lately, as the watcher sees them on the broker."""

    def __init__(self, host: str, port: int, login: tuple[str, str]):
        self._seen: set[int] = set()
        self._lock = threading.Lock()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv5)
        self._client.username_pw_set(*login)
        self._client.on_connect = lambda client, *_: client.subscribe(TOPIC_FILTER, qos=0)
        self._client.on_message = self._on_message
        self._client.connect_async(host, port, keepalive=30)
        self._client.loop_start()

    def heard(self) -> set[int]:
        """The meters heard since the previous call."""
        with self._lock:
            seen, self._seen = self._seen, set()
        return seen

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        try:
            meter_id = meter_id_from_topic(message.topic)
        except ValueError:
            return
        with self._lock:
            self._seen.add(meter_id)


class Summary:
    """Builds the line printed every period from the listener and the database."""

    def __init__(self, engine: Engine, listener: Listener, meters: int):
        self.engine = engine
        self.listener = listener
        self.meters = meters
        self.started = time.monotonic()
        self._last = (self.started, 0)

    def line(self) -> str:
        """`[m:ss] meters online 5/5 · readings/s 4,210 · bills closed 15 (3 per customer) · open alerts 1`."""
        now = time.monotonic()
        counted = figures(self.engine)
        then, stored_then = self._last
        rate = (counted.stored - stored_then) / max(now - then, 1e-3)
        self._last = (now, counted.stored)
        elapsed = int(now - self.started)
        return (f"[{elapsed // 60}:{elapsed % 60:02d}] meters online {len(self.listener.heard())}/{self.meters}"
                f" · readings/s {rate:,.0f} · bills closed {counted.bills} ({counted.fewest_bills} per customer"
                f" at least) · open alerts {counted.open_alerts}")
