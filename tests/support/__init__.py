"""Helpers for the test suite; the fixtures in tests/conftest.py are built on them.

- `net`: `free_port()`, `port_open()`, `wait_for_port()`.
- `waiting`: `wait_until(condition, timeout, message)`, the one polling loop of the suite.
- `broker`: `RunningBroker`, the project's Mosquitto on a free port with generated accounts;
  `broker_folder()`, a folder the broker's user can read (pytest's tmp folders are 0700).
- `mqtt`: `MqttClient`, a paho-mqtt v5 client that waits for acknowledgements and collects
  messages; `connack()`, the broker's answer to a login.
- `procs`: `start_process()` / `Proc` and `ProcessTracker`, `python -m <module>` children that
  log to a file and are always killed at the end of a test.
- `postgres`: `create_database()` / `drop_database()` / `temporary_database()`, a throw-away
  PostgreSQL database per test.

Import them as `from tests.support.broker import RunningBroker` (pytest runs from the root).
"""
