"""`python -m ingest decode`: mosquitto_sub output made readable."""

import struct
import subprocess
import sys
from zoneinfo import ZoneInfo

from ingest.__main__ import describe

ZONE = ZoneInfo("America/Sao_Paulo")


def test_a_binary_reading_is_shown_with_local_time_meter_and_kwh():
    payload = struct.pack("!BIqQ", 1, 7, 1_679_321_400_000, 12_345).hex()
    assert describe(f"meters/7/reading {payload}\n", ZONE) == (
        "2023-03-20T11:10:00-03:00  meter 7              12.345 kWh")


def test_a_json_reading_typed_by_hand_is_decoded_too():
    payload = b'{"id": 3, "ts": "2023-03-20T14:10:00-03:00", "kwh": 1.5}'.hex()
    assert "meter 3" in describe(f"meters/3/reading {payload}", ZONE)


def test_anything_else_is_named_not_a_reading_and_the_filter_goes_on():
    lines = "meters/7/reading 00ff\nnonsense\nmeters/7/reading " + struct.pack("!BIqQ", 1, 7, 0, 1).hex() + "\n"
    result = subprocess.run([sys.executable, "-m", "ingest", "decode"], input=lines, text=True,
                            capture_output=True, timeout=30, check=True, env={"ENERGY_TIMEZONE": "UTC"})
    shown = result.stdout.splitlines()
    assert shown[0].startswith("meters/7/reading  not a reading: malformed")
    assert shown[1] == "? nonsense"
    assert shown[2] == "1970-01-01T00:00:00+00:00  meter 7               0.001 kWh"
