"""How much a neighbourhood costs: CPU and memory of `python -m meter neighbourhood` on this machine.

    .venv/bin/python bench/neighbourhood.py --meters 1000 --seconds 60
    .venv/bin/python bench/neighbourhood.py --meters 5 --since 95d           # history throughput

Starts the project's Mosquitto on a free port with the meters' accounts, the ingest worker and
the neighbourhood, all as real processes, lets the meters connect, then samples each process's
CPU time and resident memory from /proc over the window and counts the readings stored. With
--since, it times the replay instead: from start until every replayed reading is stored.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, select  # noqa: E402

from core.models import MeterState  # noqa: E402
from tests.support.broker import RunningBroker  # noqa: E402
from tests.support.procs import ProcessTracker  # noqa: E402

TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    """Resident memory of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stored(engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.coalesce(func.sum(MeterState.readings), 0))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60, help="measuring window once all are connected")
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--since", help="time a history replay instead (e.g. 95d)")
    parser.add_argument("--history-step", default="15m")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-neighbourhood-"))
    with RunningBroker(work / "broker", meters=range(1, args.meters + 1), data_dir=work / "data") as broker:
        procs = ProcessTracker(work / "logs")
        try:
            worker = procs(["ingest"], broker.env(), name="ingest")
            worker.wait_for_log("subscribed to", 30)
            engine = create_engine(f"sqlite:///{work / 'data' / 'energy.db'}")
            command = ["meter", "neighbourhood", "--meters", str(args.meters), "--interval", str(args.interval)]
            if args.since:
                return replay(procs, broker, engine, command + ["--since", args.since, "--history-step", args.history_step])
            street = procs(command, broker.env(), name="neighbourhood")
            street.wait_for_log(rf"{args.meters}/{args.meters} meters connected", 120)
            pids = {"neighbourhood": street.pid, "ingest": worker.pid, "mosquitto": broker.pid}
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            readings_before, started = stored(engine), time.monotonic()
            peak = {name: 0.0 for name in pids}
            while time.monotonic() - started < args.seconds:
                time.sleep(1)
                for name, pid in pids.items():
                    peak[name] = max(peak[name], rss_mib(pid))
            elapsed = time.monotonic() - started
            rate = (stored(engine) - readings_before) / elapsed
            print(f"{args.meters} meters every {args.interval:g} s, {elapsed:.0f} s measured; "
                  f"{rate:.0f} readings/s stored (expected {args.meters / args.interval:.0f})")
            for name, pid in pids.items():
                share = (cpu_seconds(pid) - before[name]) / elapsed * 100
                print(f"  {name:<14} CPU {share:5.1f} % of one core   RSS {peak[name]:6.1f} MiB")
            print(street.log_tail(2))
            return 0
        finally:
            procs.cleanup()


def replay(procs, broker, engine, command: list[str]) -> int:
    """Time a history replay from the start of the neighbourhood to the last replayed reading stored."""
    started = time.monotonic()
    street = procs(command, broker.env(), name="neighbourhood")
    taken = int(street.wait_for_log(r"history replayed: (\d+) readings", 3600).group(1))
    replayed = time.monotonic() - started
    while stored(engine) < taken:  # live readings count too, but they are a handful beside the history
        time.sleep(0.2)
    done = time.monotonic() - started
    print(f"{command[command.index('--meters') + 1]} meters, --since {command[command.index('--since') + 1]}: "
          f"{taken} readings published in {replayed:.1f} s, all stored after {done:.1f} s "
          f"({taken / done:.0f} readings/s end to end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
