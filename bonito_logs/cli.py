"""The ``bonito-logs`` command.

Each subsystem registers its own subcommands (``register(subparsers)``), so this
module stays a thin dispatcher and importing it stays cheap.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# (module, ...) each exposing register(subparsers); imported lazily only to build the parser.
_SUBSYSTEMS = (
    "bonito_logs.stack.cli",
    "bonito_logs.client.cli",
    "bonito_logs.api.cli",
    "bonito_logs.streams.cli",
    "bonito_logs.demo",
    "bonito_logs.secrets_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bonito-logs",
        description="Bonito Logs: structured, tenant-scoped logs from Kafka to OpenSearch and beyond.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug output to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _SUBSYSTEMS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        # One line per HTTP request is noise at INFO, and opensearch-py logs every
        # failed request with a traceback: our own components already report an
        # unreachable OpenSearch once per retry, in one line.
        for chatty in ("httpx", "aiokafka"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
        logging.getLogger("opensearch").setLevel(logging.ERROR)
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
