"""Command line: `python -m meter --id N` for one meter, `python -m meter neighbourhood` for many,
`python -m meter health` for a container's health check.

Only wiring lives here: arguments, the id prompt, logging, signals. Exit status 2 is a usage or
configuration error, 1 a meter that cannot start (an unusable state file, a folder that cannot be
written), 0 a clean stop by SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Callable, Sequence
from zoneinfo import ZoneInfo

from core.config import ConfigError, Settings
from core.periods import iso, now_ms
from core.wire import encode, encode_json
from meter import health
from meter.anomalies import Anomaly, Script, parse_anomaly, scripts_for
from meter.neighbourhood import MAX_METER_ID, build_stations, raise_file_limit
from meter.premises import FACTORIES
from meter.publisher import Publisher
from meter.register import StateError
from meter.timeline import DEFAULT_STEP_MS, History, parse_duration, parse_since, parse_speed

log = logging.getLogger(__name__)

PROMPT = "Digite o id do cliente associado ao medidor: "
INVALID_ID = f"Id inválido: digite um número inteiro de 1 a {MAX_METER_ID}."
NEIGHBOURHOOD = ("neighbourhood", "neighborhood")
MAX_METERS = 100_000
UTC = ZoneInfo("UTC")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one meter or a neighbourhood until SIGINT or SIGTERM; the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["health"]:
        return health.main(argv[1:])
    many = bool(argv) and argv[0] in NEIGHBOURHOOD
    args = _parse_neighbourhood(argv[1:]) if many else _parse_meter(argv)
    configure_logging(args.verbose)
    try:
        settings = _settings(args)
    except ConfigError as error:
        print(f"meter: {error}", file=sys.stderr)
        return 2
    if many:
        ids = range(args.first_id, args.first_id + args.meters)
    else:
        chosen = args.id if args.id is not None else ask_meter_id()
        if chosen is None:
            return 2
        ids = range(chosen, chosen + 1)
    try:
        history, scripts = plan(args, settings, ids, now_ms())
    except ValueError as error:
        print(f"meter: {error}", file=sys.stderr)
        return 2
    return run(ids, settings, args, history, scripts)


def plan(args: argparse.Namespace, settings: Settings, ids: range,
         now_ms: int) -> tuple[History | None, dict[int, Script]]:
    """The history to replay and each meter's anomalies, placed on the clock; `ValueError` says what is wrong."""
    history = None
    if args.since:
        speed = parse_speed(args.speed)
        history = History(parse_since(args.since, settings.zone, now_ms), args.history_step, speed)
        if history.since_ms >= now_ms:
            raise ValueError(f"--since {args.since} is not in the past")
    anomalies = []
    for text in args.anomaly:
        anomaly = parse_anomaly(text, settings.zone)
        meter_id = anomaly.meter_id if anomaly.meter_id is not None else (ids[0] if len(ids) == 1 else None)
        if meter_id is None:
            raise ValueError(f"--anomaly {anomaly.kind}: say which meter, e.g. --anomaly {ids[0]}:{anomaly.kind}")
        if meter_id not in ids:
            raise ValueError(f"--anomaly for meter {meter_id}, which is not one of ids {ids[0]}-{ids[-1]}")
        anomalies.append(Anomaly(meter_id, anomaly.kind, anomaly.anchor, anomaly.at_ms,
                                 anomaly.duration_ms, anomaly.amount))
    start_ms = history.origin_ms if history else now_ms
    return history, scripts_for(anomalies, start_ms, now_ms)


def run(ids: range, settings: Settings, args: argparse.Namespace, history: History | None = None,
        scripts: dict[int, Script] | None = None) -> int:
    """Build the meters, publish until a signal, and stop cleanly."""
    raise_file_limit(len(ids))
    kinds = {meter_id: kind for meter_id, kind in args.premises if meter_id in ids}
    try:
        stations = build_stations(ids, settings, args.seed, kinds, scripts)
    except StateError as error:
        log.error("%s", error)
        return 1
    except OSError as error:
        log.error("cannot write meter state under %s: %s", settings.data_dir, error)
        return 1
    publisher = Publisher(stations, args.interval, encode_json if args.json else encode,
                          summary=len(ids) > 1, history=history)
    _stop_on_signals(publisher.stop)  # before the start line: whoever sees it may signal at once
    broker = f"{settings.mqtt_host}:{settings.mqtt_port}"
    if len(ids) == 1:
        meter, link = stations[0].meter, stations[0].link
        log.info("meter %d publishing to %s every %g s as user %s %s, register at %d Wh (state in %s)",
                 meter.meter_id, broker, args.interval, link.login.username,
                 "with a password" if link.login.password else "without a password",
                 meter.register.wh, meter.state_file)
    else:
        log.info("neighbourhood of %d meters (ids %d-%d) publishing to %s every %g s",
                 len(ids), ids[0], ids[-1], broker, args.interval)
    for meter_id, script in sorted((scripts or {}).items()):
        for fault in script.faults:
            log.info("meter %d: anomaly %s from %s to %s", meter_id, fault.kind,
                     iso(fault.start_ms, settings.zone), iso(fault.end_ms, settings.zone))
    publisher.run()
    log.info("stopped")
    return 0


def meter_parser() -> argparse.ArgumentParser:
    """Arguments of `python -m meter`."""
    parser = argparse.ArgumentParser(
        prog="python -m meter",
        description="A simulated smart energy meter publishing readings over MQTT. "
        "Run `python -m meter neighbourhood --help` for many meters in one process.",
    )
    parser.add_argument("--id", type=meter_id, help=f"meter (customer) id, 1 to {MAX_METER_ID}; "
                        "asked for when omitted and standard input is a terminal")
    _common_arguments(parser)
    return parser


def neighbourhood_parser() -> argparse.ArgumentParser:
    """Arguments of `python -m meter neighbourhood`."""
    parser = argparse.ArgumentParser(
        prog="python -m meter neighbourhood",
        description="Many simulated meters in one process, each with its own id, login and connection.",
    )
    parser.add_argument("--meters", type=_bounded_int(1, MAX_METERS), required=True,
                        help="how many meters")
    parser.add_argument("--first-id", type=meter_id, default=1, help="id of the first meter (default 1)")
    _common_arguments(parser)
    return parser


def _parse_meter(argv: list[str]) -> argparse.Namespace:
    parser = meter_parser()
    args = parser.parse_args(argv)
    if args.id is None and not stdin_is_terminal():
        parser.error("--id is required when standard input is not a terminal")
    return args


def _parse_neighbourhood(argv: list[str]) -> argparse.Namespace:
    parser = neighbourhood_parser()
    args = parser.parse_args(argv)
    if args.first_id + args.meters - 1 > MAX_METER_ID:
        parser.error(f"ids would pass {MAX_METER_ID}: lower --first-id or --meters")
    return args


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interval", type=_positive_float, default=5.0,
                        help="seconds between readings (default 5)")
    parser.add_argument("--json", action="store_true", help="publish the JSON form instead of the 21-byte payload")
    parser.add_argument("--seed", type=int, default=0, help="seed of the households and their noise (default 0)")
    parser.add_argument("--host", help="broker host (default MQTT_HOST, else 127.0.0.1)")
    parser.add_argument("--port", type=_bounded_int(1, 65535), help="broker port (default MQTT_PORT, else 1883)")
    parser.add_argument("--verbose", "-v", action="store_true", help="log every connection and more")
    history = parser.add_argument_group("history, then live")
    history.add_argument("--since", help="replay history from this long ago (90d, 36h) or this date (2026-08-01) "
                         "before going live; a meter whose state file is newer continues from it")
    history.add_argument("--speed", default="max", help="simulated seconds per real second while replaying, "
                         "or max: as fast as the broker acknowledges (default max)")
    history.add_argument("--history-step", type=_duration, default=DEFAULT_STEP_MS, metavar="DURATION",
                         help="simulated time between history readings (default 15m); --interval applies once live")
    faults = parser.add_argument_group("anomalies and premises")
    faults.add_argument("--anomaly", type=_anomaly, action="append", default=[], metavar="ID:KIND[@AT][,OPT=V]",
                        help="a fault of one meter, repeatable: stuck-heater[,for=1h,kw=9.5], reset, "
                        "replaced[,kwh=12345], offline[,for=30m], clock-skew[,by=+10m,for=1h], "
                        "duplicates[,for=1m,copies=3]; AT: 2h after the start, -30m before now, or an ISO time. "
                        "E.g. 7:stuck-heater, 12:reset@2h")
    faults.add_argument("--premises", type=_premises, action="append", default=[], metavar="ID:KIND",
                        help=f"what a meter measures, repeatable: {', '.join(FACTORIES)} "
                        "(default: drawn from the seed, mostly homes)")


def meter_id(text: str) -> int:
    """A meter id from the command line: a decimal integer from 1 to 2^32-1."""
    value = parse_meter_id(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"must be an integer from 1 to {MAX_METER_ID}, not {text!r}")
    return value


def parse_meter_id(text: str) -> int | None:
    """The id typed or given, or None when it is not an integer from 1 to 2^32-1."""
    text = text.strip()
    if not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 1 <= value <= MAX_METER_ID else None


def ask_meter_id(read: Callable[[str], str] = input) -> int | None:
    """Ask for the id until a valid one is typed, as the original meter did; None at end of input."""
    while True:
        try:
            answer = read(PROMPT)
        except EOFError:
            print(file=sys.stderr)
            return None
        except KeyboardInterrupt:
            print(file=sys.stderr)
            raise SystemExit(130) from None
        value = parse_meter_id(answer)
        if value is not None:
            return value
        print(INVALID_ID, file=sys.stderr)


def stdin_is_terminal() -> bool:
    """Whether someone can type an id."""
    return sys.stdin is not None and sys.stdin.isatty()


def configure_logging(verbose: bool) -> None:
    """Log lines with time, level and origin on standard error."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    overrides = {}
    if args.host:
        overrides["mqtt_host"] = args.host
    if args.port:
        overrides["mqtt_port"] = args.port
    return settings.with_overrides(**overrides)


def _stop_on_signals(stop: Callable[[], None]) -> None:
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda signum, frame: stop())


def _duration(text: str) -> int:
    try:
        value = parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text!r}")
    return value


def _anomaly(text: str) -> str:
    """An anomaly checked for its syntax; `plan` parses it again in the configured zone."""
    try:
        parse_anomaly(text, UTC)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _premises(text: str) -> tuple[int, str]:
    meter_text, _, kind = text.partition(":")
    if parse_meter_id(meter_text) is None or kind.strip() not in FACTORIES:
        raise argparse.ArgumentTypeError(f"expected ID:KIND with KIND one of {', '.join(FACTORIES)}, not {text!r}")
    return int(meter_text), kind.strip()


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text!r}")
    return value


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.strip().isdigit() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}, not {text!r}")
        return int(text)
    return parse
