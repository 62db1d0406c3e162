"""``python -m bonito_logs.stack up|down|status``: the stack commands alone.

Works even when another subsystem's CLI module is broken, so CI can always stop the stack.
"""

from __future__ import annotations

import argparse
import logging
import sys

from bonito_logs.stack.cli import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bonito_logs.stack")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    register(sub)
    args = parser.parse_args(["stack", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
