"""The benchmarks under bench/ run from this checkout and check what they measure (issue 9).

Each runs as its one documented command, shrunk to a few seconds: the figures are not judged
here (they live in bench/RESULTS.md), but each benchmark's own checks are (every reading stored
exactly once, every bill closed, no error answered), and so is what it prints.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def bench(script: str, *args: str, timeout: float = 240) -> str:
    """Run `python bench/<script> args`; its output, after asserting it succeeded."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"{script} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def figure(pattern: str, text: str) -> float:
    """The number the pattern's group catches, commas dropped."""
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in:\n{text}"
    return float(found.group(1).replace(",", ""))


def test_storage_measures_bytes_per_reading_and_extrapolates_the_day(tmp_path):
    folder = tmp_path / "storage"
    out = bench("storage.py", "--meters", "50", "--hours", "1", "--dir", str(folder))
    assert "50 meters every 5 s for 1 h: 36,000 readings" in out
    for order in ("arrival order (time-major batches, as the worker)", "key order (meter-major, bulk load)",
                  "arrival order, then VACUUM INTO"):
        assert 8 < figure(re.escape(order) + r": ([\d.]+) bytes per reading", out) < 60, order
    assert figure(r"rollup ([\d.]+) bytes per reading", out) > 0  # the worker's rollup is written too
    assert out.count("(extrapolated from this run)") == 2 and "file after the simulated day" not in out
    assert not folder.exists(), "the files are removed without --keep"


def test_billing_closes_every_customers_cycle(tmp_path):
    folder = tmp_path / "billing"
    out = bench("billing.py", "--customers", "40", "--dir", str(folder))
    assert figure(r"closed (\d+) cycles", out) == 40
    assert re.search(r"sample bill: customer \d+: [\d.]+ kWh, R\$ [\d.]+, \d+ lines", out), out
    assert not folder.exists()


def on(backend, tmp_path) -> list[str]:
    """The benchmark's database option for the run's engine (it makes a fresh database of that server)."""
    return ["--db-url", backend.url(tmp_path / "data")] if backend.postgresql else []


def test_ingest_drains_a_backlog_exactly_once_beside_a_bare_subscriber(backend, tmp_path):
    out = bench("ingest.py", "--readings", "3000", "--meters", "30", "--publishers", "1", *on(backend, tmp_path))
    assert figure(r"bare paho subscriber drained ([\d,]+)", out) == 3000
    assert figure(r"ingest worker drained ([\d,]+)", out) == 3000
    assert figure(r"ratio worker/bare: ([\d.]+)", out) > 0
    # 30 meters' first readings were stored before the backlog: 3,030 rows, each once
    assert re.search(r"^checked: readings 3,030, distinct 3,030, counted 3,030, rejected 0, armed 30, watched 30$",
                     out, re.MULTILINE), out
    assert f"database: {'postgresql' if backend.postgresql else 'sqlite'}" in out


def test_live_load_keeps_up_and_reports_cpu_per_reading(backend, tmp_path):
    out = bench("live.py", "--meters", "100", "--rate", "100", "--seconds", "4", "--every", "1", "--publishers", "1",
                *on(backend, tmp_path))
    assert figure(r"stored ([\d,]+)/s", out) > 0
    assert "FAILED" not in out  # the backlog did not grow (the benchmark exits 1 and says so otherwise)
    assert re.search(r"^worker: CPU \d+ µs a reading", out, re.MULTILINE), out
    assert re.search(r"^broker: CPU \d+ µs a reading", out, re.MULTILINE), out


@pytest.mark.timeout(400)
def test_api_loads_each_route_and_every_answer_checks_out(tmp_path):
    folder = tmp_path / "api"
    out = bench("api.py", "--customers", "3", "--days", "40", "--seconds", "1", "--clients", "2", "--procs", "1",
                "--dir", str(folder), "--remove", timeout=360)
    # route (customers)  req/s  p50  p99  max  errors  ...: an answer that is not the asked
    # customer's, month or count is an error
    rows = re.findall(r"^(bill|day|minute) \((15-min customers|5-s customer)\)\s+([\d,]+)\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+(\d+)\s",
                      out, re.MULTILINE)
    assert {(route, who) for route, who, *_ in rows} == {(route, who) for route in ("bill", "day", "minute")
                                                        for who in ("15-min customers", "5-s customer")}, out
    assert all(int(rate.replace(",", "")) > 0 and errors == "0" for *_, rate, errors in rows), out
    assert "4 customers" in out and "rollup table filled" in out
    assert not folder.exists()
