"""``bonito-logs emit``: validate and send one record from the shell; prints its id.

Exit status: 0 sent and acknowledged; 1 Kafka did not acknowledge in time (the
record is spooled and the next client started with the same spool sends it);
2 the input broke a rule (each broken rule on stderr as ``field: rule``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

from bonito_logs.config import Settings, get_settings
from bonito_logs.errors import ValidationError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "emit", help="validate and send one log record; prints its id",
        description="Validate one log record, send it to Kafka and print its id. Exit 0 when "
                    "Kafka acknowledged it, 1 when it did not in time (the record is then "
                    "spooled), 2 when the input breaks a rule.")
    p.add_argument("--org", dest="org_id", required=True, metavar="ORG_ID", help="org id (a UUID)")
    p.add_argument("--type", dest="log_type", required=True, metavar="TYPE",
                   help="gateway, agent, auth, admin, kb, deployment or billing")
    p.add_argument("--event", dest="event_type", required=True, metavar="EVENT",
                   help="event type, snake_case (e.g. request, login)")
    p.add_argument("--severity", required=True, metavar="SEV",
                   help="debug, info, warn, error or critical")
    p.add_argument("--message", help="human-readable text")
    p.add_argument("--metadata", metavar="JSON", help="a JSON object")
    p.add_argument("--trace-id")
    p.add_argument("--user-id")
    p.add_argument("--resource-id")
    p.add_argument("--resource-type")
    p.add_argument("--action", help="create, read, update, delete, execute or search")
    p.add_argument("--timestamp", help="ISO 8601 (default: now)")
    p.add_argument("--duration-ms", metavar="MS")
    p.add_argument("--cost")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long to wait for Kafka's acknowledgement (default 10)")
    p.set_defaults(func=run)


def parse_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The emit() fields from the arguments; ValidationError for JSON and numbers."""
    fields: dict[str, Any] = {
        name: getattr(args, name)
        for name in ("org_id", "log_type", "event_type", "severity", "message", "trace_id",
                     "user_id", "resource_id", "resource_type", "action", "timestamp")
    }
    problems = []
    if args.metadata is not None:
        try:
            fields["metadata"] = json.loads(args.metadata)
        except json.JSONDecodeError as exc:
            problems.append({"field": "metadata", "rule": f"must be a JSON object (invalid JSON: {exc})"})
    for name in ("duration_ms", "cost"):
        raw = getattr(args, name)
        if raw is None:
            continue
        try:
            fields[name] = float(raw)
        except ValueError:
            problems.append({"field": name, "rule": "must be a number"})
    if problems:
        raise ValidationError(problems=problems)
    return fields


def run(args: argparse.Namespace, settings: Settings | None = None) -> int:
    if not getattr(args, "verbose", False):
        # aiokafka logs every failed connection attempt; our own message says it once.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        fields = parse_fields(args)
    except ValidationError as exc:
        _print_problems(exc)
        return 2
    return asyncio.run(_emit(settings or get_settings(), fields, args.timeout))


async def _emit(settings: Settings, fields: dict[str, Any], wait_s: float) -> int:
    from bonito_logs.client.service import LogService

    service = LogService(settings, ensure_topics=True)
    try:
        record_id = await service.emit(**fields)
    except ValidationError as exc:
        _print_problems(exc)
        return 2
    print(record_id, flush=True)
    delivered = await service.flush(timeout=wait_s)
    error = service.stats().last_error
    await service.close(timeout=0 if not delivered else None)
    if delivered:
        return 0
    print(f"Kafka at {settings.kafka_bootstrap} did not acknowledge the record within "
          f"{wait_s:g} s{f' ({error})' if error else ''}. It is spooled in {settings.spool_path} "
          "and will be sent by the next client started with that spool.", file=sys.stderr)
    return 1


def _print_problems(exc: ValidationError) -> None:
    for problem in exc.problems:
        print(f"{problem['field']}: {problem['rule']}", file=sys.stderr)
