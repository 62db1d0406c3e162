"""``bonito-logs stack up|down|status``."""

from __future__ import annotations

import argparse
import json
import sys

from bonito_logs.config import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    stack = subparsers.add_parser("stack", help="run the local Kafka + OpenSearch (no Docker)")
    sub = stack.add_subparsers(dest="stack_command", metavar="ACTION")
    sub.required = True

    up = sub.add_parser("up", help="fetch once, start Kafka and OpenSearch, wait until healthy")
    up.add_argument("--timeout", type=float, default=None,
                    help="seconds to wait for each service (default: BONITO_STACK_START_TIMEOUT_S)")
    up.set_defaults(func=_up)

    down = sub.add_parser("down", help="stop both services (data is kept)")
    down.set_defaults(func=_down)

    status = sub.add_parser("status", help="report each service; exit 0 only if both are healthy")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=_status)


def _up(args: argparse.Namespace) -> int:
    from bonito_logs.stack import StackError, up

    try:
        statuses = up(get_settings(), timeout_s=args.timeout)
    except StackError as exc:
        print(f"stack up failed: {exc}", file=sys.stderr)
        return 1
    for st in statuses.values():
        print(st.line())
    return 0 if all(st.healthy for st in statuses.values()) else 1


def _down(args: argparse.Namespace) -> int:
    from bonito_logs.stack import StackError, down

    try:
        stopped = down(get_settings())
    except StackError as exc:
        print(f"stack down failed: {exc}", file=sys.stderr)
        return 1
    for name, was_running in stopped.items():
        print(f"{name:<11} {'stopped' if was_running else 'was not running'}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from bonito_logs.stack import status

    statuses = status(get_settings())
    if args.json:
        print(json.dumps({n: s.as_dict() for n, s in statuses.items()}, indent=2))
    else:
        for st in statuses.values():
            print(st.line())
    return 0 if all(st.healthy for st in statuses.values()) else 1
