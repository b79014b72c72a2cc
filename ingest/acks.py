"""Acknowledging a batch's QoS 1 messages in one write instead of one per message.

paho 2.x's `Client.ack` queues each PUBACK as a packet of its own: a dict, a wake-up byte on a
socket pair, a debug-log call, and later a `send` of 4 bytes from the network thread. At a
drain of 10,000 messages a batch that is two system calls and a few microseconds of Python per
reading, on the same interpreter lock the storing code needs. Here the batch's PUBACKs are
packed together and queued as one packet on the same queue, so the broker receives exactly the
same bytes, in the same order, through the same path (and a packet of a closed connection is
dropped with that connection's queue, as before).
"""

from __future__ import annotations

import struct
from typing import Sequence

import paho.mqtt.client as mqtt

PUBACK = 0x40
_PUBACK = struct.Struct("!BBH")  # fixed header, remaining length 2, packet id


def acknowledge(client: mqtt.Client, mids: Sequence[int]) -> None:
    """Queue PUBACKs for `mids`, in order, as one write."""
    if not mids:
        return
    packet = b"".join([_PUBACK.pack(PUBACK, 2, mid) for mid in mids])
    client._packet_queue(PUBACK, packet, mids[-1], 1)  # noqa: SLF001 - paho has no public batch ack
