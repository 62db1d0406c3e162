"""``bonito-logs worker``: run the stream workers (the same as ``faust -A bonito_logs.streams.app worker``)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "worker",
        help="run the stream workers (indexer, retention) until interrupted",
        description="Consume the logs topic and index it into OpenSearch, with the dead-letter "
                    "topic for bad records. Start several to share the partitions. Settings come "
                    "from BONITO_* variables (see the README).",
    )
    p.add_argument("--loglevel", "-l", default="info",
                   choices=["debug", "info", "warning", "error"], help="log level (default: info)")
    p.set_defaults(func=_run_worker)


def _run_worker(args: argparse.Namespace) -> int:
    import faust

    from bonito_logs.streams.app import app

    worker = faust.Worker(app, loglevel=args.loglevel)
    worker.execute_from_commandline()  # returns only on shutdown (it exits the process itself)
    return 0
