"""`python -m meter` at the command line: the id prompt, refusals, exit statuses."""

from __future__ import annotations

import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from meter.cli import INVALID_ID, PROMPT, ask_meter_id, main, parse_meter_id

ROOT = Path(__file__).resolve().parents[1]


def unused_port() -> int:
    """A local port nothing listens on (the meter will just keep retrying)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def meter_env(data_dir: Path) -> dict[str, str]:
    """Environment of a meter process that talks to no real broker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MQTT_", "ENERGY_"))}
    env.update(MQTT_HOST="127.0.0.1", MQTT_PORT=str(unused_port()), ENERGY_DATA_DIR=str(data_dir),
               PYTHONUNBUFFERED="1")
    return env


class Terminal:
    """A child process on a pseudo-terminal, read and typed into like a person would."""

    def __init__(self, args: list[str], env: dict[str, str]):
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
                                        close_fds=True, start_new_session=True)
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until `text` has appeared `count` times in all the output so far."""
        deadline = time.monotonic() + timeout
        while self.seen.count(text) < count:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                raise AssertionError(f"{text!r} not seen {count}x within {timeout} s; output:\n{self.seen}")
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                raise AssertionError(f"process ended before {text!r}; output:\n{self.seen}")
            self.seen += chunk.decode(errors="replace")

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


def test_asks_for_the_id_on_a_terminal_until_it_is_valid(tmp_path):
    terminal = Terminal([sys.executable, "-m", "meter", "--interval", "0.2"], meter_env(tmp_path))
    try:
        terminal.expect(PROMPT)
        terminal.type("abc")
        terminal.expect(INVALID_ID)
        terminal.expect(PROMPT, count=2)
        terminal.type("0")
        terminal.expect(INVALID_ID, count=2)
        terminal.expect(PROMPT, count=3)
        terminal.type("7")
        terminal.expect("meter 7 publishing to 127.0.0.1:")
        started = time.monotonic()
        terminal.process.send_signal(signal.SIGTERM)
        assert terminal.process.wait(timeout=5) == 0
        assert time.monotonic() - started < 2
    finally:
        terminal.close()
    assert (tmp_path / "meters" / "7.json").exists()


def test_without_a_terminal_and_without_an_id_it_exits_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "meter"], stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, env=meter_env(tmp_path), cwd=ROOT, timeout=30)
    assert result.returncode == 2
    assert "--id is required when standard input is not a terminal" in result.stderr


@pytest.mark.parametrize("argv", [
    ["--id", "0"], ["--id", "4294967296"], ["--id", "-3"], ["--id", "x"], ["--interval", "0"],
    ["neighbourhood"], ["neighbourhood", "--meters", "0"],
    ["neighbourhood", "--meters", "2", "--first-id", "4294967295"],
    ["neighbourhood", "--meters", "2", "--anomaly", "1:meltdown"], ["neighbourhood", "--meters", "2", "--anomaly", "1:reset,x=1"],
    ["neighbourhood", "--meters", "2", "--premises", "1:castle"], ["neighbourhood", "--meters", "2", "--history-step", "0s"],
])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--id", "1", *argv] if argv[0] == "--interval" else argv)
    assert stopped.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["neighbourhood", "--meters", "3", "--anomaly", "7:reset"], "not one of ids 1-3"),
    (["neighbourhood", "--meters", "3", "--anomaly", "reset@2h"], "say which meter"),
    (["--id", "4", "--since", "2099-01-01"], "not in the past"),
    (["--id", "4", "--since", "soon"], "neither a duration"),
    (["--id", "4", "--since", "2d", "--speed", "slow"], "neither max nor a number"),
])
def test_a_plan_that_cannot_run_exits_2_saying_why(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ENERGY_DATA_DIR", str(tmp_path))
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_health_says_whether_a_meter_read_lately(tmp_path):
    def health() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "meter", "health", "--within", "30"], capture_output=True,
                              text=True, env=meter_env(tmp_path), cwd=ROOT, timeout=30)

    assert health().returncode == 1 and "no meter state" in health().stderr
    state = tmp_path / "meters" / "3.json"
    state.parent.mkdir()
    state.write_text("{}")
    assert health().returncode == 0
    os.utime(state, (time.time() - 120, time.time() - 120))
    stale = health()
    assert stale.returncode == 1 and "s old" in stale.stderr


def test_an_unusable_state_file_stops_the_meter_with_a_message_naming_it(tmp_path):
    state = tmp_path / "meters" / "7.json"
    state.parent.mkdir(parents=True)
    state.write_text("{garbage")
    result = subprocess.run([sys.executable, "-m", "meter", "--id", "7"], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, env=meter_env(tmp_path), cwd=ROOT, timeout=30)
    assert result.returncode == 1
    assert str(state) in result.stderr and "delete it" in result.stderr
    assert state.read_text() == "{garbage"


@pytest.mark.parametrize("text, expected", [
    ("7", 7), (" 42 \n", 42), ("4294967295", 4294967295),
    ("0", None), ("4294967296", None), ("-1", None), ("1.5", None), ("", None), ("sete", None), ("٣", None),
])
def test_parse_meter_id(text, expected):
    assert parse_meter_id(text) == expected


def test_ask_meter_id_repeats_until_valid_and_gives_up_at_end_of_input(capsys):
    answers = iter(["", "abc", "12"])
    assert ask_meter_id(lambda prompt: next(answers)) == 12
    assert capsys.readouterr().err.count(INVALID_ID) == 2

    def end_of_input(prompt: str) -> str:
        raise EOFError

    assert ask_meter_id(end_of_input) is None
