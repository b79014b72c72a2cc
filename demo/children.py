"""The demo's child processes: each in a session of its own, logging to a file, stopped in order.

Children get their own sessions so that Ctrl-C in the terminal reaches only the demo, which then
stops them one by one in the order that loses nothing: meters first, the broker last, after the
ingest worker has committed and acknowledged what it held.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0


class ChildExited(RuntimeError):
    """A child ended while the demo was running; the message holds the tail of its log."""


@dataclass
class Child:
    """One running program of the demo and its log file."""

    name: str
    popen: subprocess.Popen
    log_path: Path

    @property
    def alive(self) -> bool:
        """Whether it still runs."""
        return self.popen.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        """The last lines of its log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def exited_error(self) -> ChildExited:
        """The error that says this child stopped, with its log."""
        return ChildExited(
            f"{self.name} exited with code {self.popen.returncode}; the end of {self.log_path}:\n{self.log_tail()}"
        )


@dataclass
class Children:
    """Starts, watches and stops the demo's processes."""

    log_dir: Path
    hurry: threading.Event = field(default_factory=threading.Event)  # a second Ctrl-C: kill now
    started: list[Child] = field(default_factory=list)

    def start(self, name: str, args: Sequence[str], env: Mapping[str, str]) -> Child:
        """Start `args` with its output in <log_dir>/<name>.log."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as output:
            popen = subprocess.Popen(list(args), env=dict(env), stdin=subprocess.DEVNULL, stdout=output,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        child = Child(name, popen, log_path)
        self.started.append(child)
        log.info("started %s (pid %s), log in %s", name, popen.pid, log_path)
        return child

    def start_module(self, name: str, module_args: Sequence[str], env: Mapping[str, str]) -> Child:
        """Start `python -m <module_args>` with this interpreter."""
        return self.start(name, [sys.executable, "-m", *module_args], env)

    def check(self) -> None:
        """Raise ChildExited when any child has ended."""
        for child in self.started:
            if not child.alive:
                raise child.exited_error()

    def stop_all(self) -> None:
        """SIGTERM each child, the last started first, waiting for each; SIGKILL those that hang."""
        for child in reversed(self.started):
            if child.alive:
                _stop(child, self.hurry)
            _kill_group(child)  # whatever it left behind (gunicorn workers, for instance)


def _stop(child: Child, hurry: threading.Event) -> None:
    """Ask one child to stop and wait for it, up to STOP_TIMEOUT_S or until `hurry` is set."""
    child.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while child.alive and time.monotonic() < deadline and not hurry.is_set():
        time.sleep(0.05)
    if child.alive:
        log.warning("%s did not stop; killing it", child.name)
        _kill_group(child)
        child.popen.wait()
    else:
        log.info("%s stopped (code %s)", child.name, child.popen.returncode)


def _kill_group(child: Child) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.popen.pid, signal.SIGKILL)
