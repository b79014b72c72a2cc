"""`python -m broker`: make, change and run a local Mosquitto set-up."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from broker import provision
from broker.provision import ProvisionError
from broker.tls import TlsListener
from core.config import DEFAULT_CLIENT_ID


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    if getattr(args, "first", None) is not None:  # add-meters / remove-meters --first F --count C
        args.ids = range(args.first, args.first + max(args.count, 0))
    try:
        return args.command(args)
    except ProvisionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def cmd_setup(args: argparse.Namespace) -> int:
    """Render the config and write passwords, ACL and folders."""
    tls = None
    if args.tls_port is not None or args.tls_cert or args.tls_key:
        if args.tls_port is None or not args.tls_cert or not args.tls_key:
            raise ProvisionError("a TLS listener needs --tls-port, --tls-cert and --tls-key together")
        tls = TlsListener(args.tls_port, Path(args.tls_cert), Path(args.tls_key), args.tls_host)
    guard = {"auto": None, "on": True, "off": False}[args.session_guard]
    reserved = {DEFAULT_CLIENT_ID, os.environ.get("INGEST_CLIENT_ID") or DEFAULT_CLIENT_ID,
                *(args.reserve_client_id or [])}
    made = provision.setup(_directory(args), args.port, _data_dir(args), args.meters, host=args.host,
                           tls=tls, guard=guard, reserved_ids=reserved)
    listeners = f"{made.host}:{made.port}" + (f", TLS on port {made.tls_port}" if made.tls_port else "")
    print(f"broker set-up in {made.directory} (listener {listeners}, {len(provision.meters(made))} meters, "
          f"session guard {'on' if provision.guarded(made) else 'OFF'})")
    print(f"run it with: python -m broker run --dir {made.directory}")
    return 0


def cmd_accounts(args: argparse.Namespace) -> int:
    """Write only the password file and the ACL (compose's init service)."""
    made = provision.write_accounts(_directory(args), _data_dir(args), args.meters)
    print(f"accounts of ingest, watcher and {len(args.meters)} meters in {made.directory}")
    return 0


def cmd_add_meters(args: argparse.Namespace) -> int:
    """Give meters their accounts and reload a running broker."""
    made = _load(args)
    count = provision.add_meters(made, args.ids)
    print(f"{count} meter account(s) written; {_reloaded(made)}")
    return 0


def cmd_remove_meters(args: argparse.Namespace) -> int:
    """Delete meters' accounts and reload a running broker."""
    made = _load(args)
    count = provision.remove_meters(made, args.ids)
    print(f"{count} meter account(s) removed; {_reloaded(made)}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Replace this process with Mosquitto, so signals reach the broker itself."""
    made = _load(args)
    command = made.command()
    os.execv(command[0], command)
    return 0  # not reached


def cmd_password(args: argparse.Namespace) -> int:
    """Print one account's password (for `mosquitto_sub -P "$(...)"`)."""
    print(provision.credentials(_data_dir(args), args.account)[1])
    return 0


def parse_ids(text: str) -> list[int]:
    """Meter ids from "1-5,8,10-12"; an empty string is none."""
    ids: list[int] = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        first, _, last = part.partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not an id or a range like 1-5") from None
        ids.extend(range(low, high + 1))
    return ids


def _reloaded(made: provision.BrokerSetup) -> str:
    if provision.reload(made):
        return "the running broker reloaded its accounts"
    return "no broker is running; the accounts apply at its next start"


def _load(args: argparse.Namespace) -> provision.BrokerSetup:
    return provision.load(_directory(args), _data_dir(args))


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir or os.environ.get("ENERGY_DATA_DIR") or "data")


def _directory(args: argparse.Namespace) -> Path:
    return Path(args.dir) if args.dir else _data_dir(args) / "broker"


_EXAMPLES = """examples:
  python -m broker setup --port 1883 --meters 1-5     # in data/broker, secrets from data/secrets
  python -m broker setup --tls-port 8883 --tls-cert server.crt --tls-key server.key
  python -m broker run                                # Mosquitto in the foreground
  python -m broker add-meters --first 6 --count 995   # the running broker reloads, no restart
  python -m broker accounts --dir /mosquitto/config --meters 1-200   # compose: passwd and acl only
  mosquitto_sub -u watcher -P "$(python -m broker password watcher)" -t 'alerts/+'
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m broker", description=__doc__, epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", help="the set-up folder (default: <data dir>/broker)")
    common.add_argument("--data-dir", help="folder of the generated secrets (default: $ENERGY_DATA_DIR or ./data)")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    make = commands.add_parser("setup", parents=[common], help="write config, passwords, ACL and folders")
    make.add_argument("--port", type=int, default=1883, help="listener port (default 1883)")
    make.add_argument("--host", default="127.0.0.1", help="listener address (default 127.0.0.1)")
    make.add_argument("--meters", type=parse_ids, default=[], help='meter ids to provision, e.g. "1-5,8"')
    make.add_argument("--tls-port", type=int, help="also listen with TLS on this port (needs --tls-cert, --tls-key)")
    make.add_argument("--tls-cert", help="PEM file of the server certificate (chain)")
    make.add_argument("--tls-key", help="PEM file of the server's private key")
    make.add_argument("--tls-host", help="address of the TLS listener (default: that of --host)")
    make.add_argument("--session-guard", choices=("auto", "on", "off"), default="auto",
                      help="the plugin that stops session take-overs: auto builds it when it can (default)")
    make.add_argument("--reserve-client-id", action="append", metavar="ID",
                      help="a client id of the ingest account from the start (repeatable; energy-ingest "
                           "and $INGEST_CLIENT_ID always are); others are claimed on first use")
    make.set_defaults(command=cmd_setup)

    accounts = commands.add_parser(
        "accounts", parents=[common],
        help="write only the password file and ACL, for a broker that runs the project's mosquitto.conf "
        "as it is (the compose init service)")
    accounts.add_argument("--meters", type=parse_ids, default=[], help='meter ids to provision, e.g. "1-1000"')
    accounts.set_defaults(command=cmd_accounts)

    add = commands.add_parser("add-meter", parents=[common], help="add one meter and reload the broker")
    add.add_argument("ids", type=int, nargs="+", metavar="N")
    add.set_defaults(command=cmd_add_meters)
    remove = commands.add_parser("remove-meter", parents=[common], help="remove one meter and reload the broker")
    remove.add_argument("ids", type=int, nargs="+", metavar="N")
    remove.set_defaults(command=cmd_remove_meters)
    for name, command in (("add-meters", cmd_add_meters), ("remove-meters", cmd_remove_meters)):
        bulk = commands.add_parser(name, parents=[common], help=f"{name.split('-')[0]} a range of meters")
        bulk.add_argument("--first", type=int, required=True)
        bulk.add_argument("--count", type=int, required=True)
        bulk.set_defaults(command=command)

    run = commands.add_parser("run", parents=[common], help="run the broker in the foreground")
    run.set_defaults(command=cmd_run)
    password = commands.add_parser("password", parents=[common], help="print an account's password")
    password.add_argument("account", help='"ingest", "watcher" or a meter id')
    password.set_defaults(command=cmd_password)
    return parser


if __name__ == "__main__":
    sys.exit(main())
