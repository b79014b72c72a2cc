"""Child processes of a test: `python -m <module> ...` with stdout and stderr in a log file.

Each child runs in a session of its own, so a test can signal it like `kill PID` would, and the
clean-up can kill whatever it started (gunicorn workers, for instance) with its process group.
The child's environment is this process's without the project's variables (MQTT_*, ENERGY_*,
INGEST_*), plus the ones the test passes: a developer's shell settings never leak into a test.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, Mapping, Sequence

from tests.support.waiting import wait_until

log = logging.getLogger(__name__)

PROJECT_VARIABLES = ("MQTT_", "ENERGY_", "INGEST_")


class ProcessExited(RuntimeError):
    """The child ended while a test was waiting for it; the message holds its log's tail."""


class Proc:
    """A running `python -m` child and its log."""

    def __init__(self, args: list[str], popen: subprocess.Popen, log_path: Path, log_offset: int):
        self.args = args
        self.popen = popen
        self.log_path = log_path
        self._offset = log_offset

    @property
    def pid(self) -> int:
        """The child's pid (also its process group id)."""
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit code once it has ended (negative: killed by that signal), else None."""
        return self.popen.poll()

    @property
    def alive(self) -> bool:
        """Whether the child is still running."""
        return self.returncode is None

    def log_text(self) -> str:
        """What this child wrote to stdout and stderr so far."""
        with self.log_path.open("rb") as handle:
            handle.seek(self._offset)
            return handle.read().decode(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the log, for error messages."""
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_for_log(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """Wait until the log matches the regular expression `pattern`; return the match.

        Raises ProcessExited if the child ends first, TimeoutError after `timeout` seconds.
        """
        compiled = re.compile(pattern, re.MULTILINE)

        def matched() -> re.Match[str] | None:
            running = self.alive  # read before the log, so a last line written at exit is seen
            found = compiled.search(self.log_text())
            if not found and not running:
                raise ProcessExited(f"{self} exited with {self.returncode} before logging "
                                    f"{pattern!r}; log tail:\n{self.log_tail()}")
            return found

        return wait_until(matched, timeout, lambda: f"{pattern!r} in the log of {self}:\n{self.log_tail()}")

    def send_signal(self, sig: int) -> None:
        """Send a signal to the child itself (not its group), as `kill -SIG PID` would."""
        if self.alive:
            os.kill(self.pid, sig)

    def wait(self, timeout: float = 10.0) -> int:
        """Wait for the child to end; TimeoutError if it does not within `timeout` seconds."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{self} still runs after {timeout} s; log tail:\n{self.log_tail()}") from None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send `sig` and wait; after `timeout` seconds kill the whole group. Returns the exit code."""
        self.send_signal(sig)
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s ignored signal %s for %s s; killing it", self, sig, timeout)
            self.kill()
            return self.popen.wait()
        self._kill_group()  # children it left behind
        return code

    def kill(self) -> int:
        """SIGKILL the child and everything in its process group; returns the exit code."""
        self._kill_group()
        return self.popen.wait()

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def __repr__(self) -> str:
        return f"<Proc {' '.join(self.args)} pid={self.pid}>"


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the project's variables, plus `env`."""
    base = {name: value for name, value in os.environ.items() if not name.startswith(PROJECT_VARIABLES)}
    base["PYTHONUNBUFFERED"] = "1"  # prints reach the log at once, for wait_for_log
    base.update(env or {})
    return base


def start_process(
    module_args: Sequence[str] | str,
    env: Mapping[str, str] | None,
    log_path: Path,
    cwd: Path | None = None,
) -> Proc:
    """Start `python -m <module_args...>` with this interpreter; output is appended to `log_path`.

    `cwd` defaults to the log's folder, so a child that ignores ENERGY_DATA_DIR writes into the
    test's temporary folder, never into the repository.
    """
    args = [module_args] if isinstance(module_args, str) else list(module_args)
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    offset = log_path.stat().st_size if log_path.exists() else 0
    with log_path.open("ab") as output:
        popen = subprocess.Popen(
            [sys.executable, "-m", *args], env=child_env(env), cwd=cwd or log_path.parent,
            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )
    proc = Proc(args, popen, log_path, offset)
    log.info("started %s, log in %s", proc, log_path)
    return proc


class ProcessTracker:
    """Starts processes for one test and kills every one of them at the end (the `procs` fixture).

    `complete_env`, when given, adds to each child's env what the test run decides (the
    database of its data folder: `tests.support.backend.Backend.complete`).
    """

    def __init__(self, log_dir: Path, complete_env: Callable[[Mapping[str, str]], Mapping[str, str]] | None = None):
        self.log_dir = Path(log_dir)
        self.complete_env = complete_env
        self.started: list[Proc] = []

    def __call__(self, module_args: Sequence[str] | str, env: Mapping[str, str] | None = None,
                 name: str | None = None) -> Proc:
        """Start a child; its log is `<log_dir>/<nn>-<name or module>.log`."""
        args = [module_args] if isinstance(module_args, str) else list(module_args)
        log_path = self.log_dir / f"{len(self.started) + 1:02d}-{name or args[0]}.log"
        if self.complete_env is not None:
            env = self.complete_env(env or {})
        proc = start_process(args, env, log_path)
        self.started.append(proc)
        return proc

    def cleanup(self) -> None:
        """Kill every child still running, and anything left in their process groups."""
        for proc in self.started:
            proc.kill()
