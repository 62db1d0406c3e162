"""``bonito-logs api`` (serve the API) and ``bonito-logs keys create|list|revoke``.

``keys create`` prints the new key on stdout and nothing else, so
``KEY=$(bonito-logs keys create --org ... --role admin)`` just works; logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from bonito_logs.config import Settings, get_settings
from bonito_logs.errors import BonitoError

ROLE_CHOICES = ("admin", "member", "viewer")


def register(subparsers: argparse._SubParsersAction) -> None:
    api = subparsers.add_parser("api", help="serve the HTTP API (uvicorn)")
    api.add_argument("--host", default=None, help="bind address (default: BONITO_API_HOST)")
    api.add_argument("--port", type=int, default=None, help="port (default: BONITO_API_PORT)")
    api.set_defaults(func=_serve)

    keys = subparsers.add_parser("keys", help="create, list and revoke API keys")
    sub = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    sub.required = True

    create = sub.add_parser("create", help="create a key; prints only the key on stdout")
    create.add_argument("--org", required=True, type=org_id, metavar="ORG_ID", help="organisation UUID")
    create.add_argument("--role", required=True, choices=ROLE_CHOICES)
    create.add_argument("--name", default=None, help="a label for the key")
    create.add_argument("--email", default=None, help="where export links for this key are sent")
    create.set_defaults(func=_create)

    listing = sub.add_parser("list", help="the organisation's keys (never their secrets)")
    listing.add_argument("--org", required=True, type=org_id, metavar="ORG_ID", help="organisation UUID")
    listing.set_defaults(func=_list)

    revoke = sub.add_parser("revoke", help="revoke a key, effective on its next request")
    revoke.add_argument("key_id", metavar="KEY_ID", help="the key id (the part after bnt_)")
    revoke.set_defaults(func=_revoke)


def org_id(value: str) -> str:
    """An organisation id: a UUID, returned in canonical lower-case form."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a UUID, got {value!r}") from None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bonito_logs.api.app import create_app

    if not args.verbose:
        logging.getLogger("opensearch").setLevel(logging.WARNING)  # one line per request otherwise
    settings = get_settings()
    settings = settings.replace(api_host=args.host or settings.api_host,
                                api_port=args.port or settings.api_port)
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port,
                log_level="debug" if args.verbose else "info")
    return 0


def _create(args: argparse.Namespace) -> int:
    async def create(keys: Any) -> int:
        created = await keys.create(args.org, args.role, name=args.name, email=args.email)
        print(created.token)
        return 0

    return _run(create)


def _list(args: argparse.Namespace) -> int:
    async def show(keys: Any) -> int:
        rows = [("KEY_ID", "ROLE", "NAME", "CREATED", "REVOKED")]
        for key in await keys.list(args.org):
            rows.append((key.key_id, key.role, key.name or "-", key.created_at or "-",
                         key.revoked_at or "-"))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        return 0

    return _run(show)


def _revoke(args: argparse.Namespace) -> int:
    async def revoke(keys: Any) -> int:
        key = await keys.revoke(args.key_id)
        print(f"revoked {key.key_id} ({key.role}, org {key.org_id}) at {key.revoked_at}")
        return 0

    return _run(revoke)


def _run(action: Callable[[Any], Awaitable[int]]) -> int:
    """Run ``action(KeyStore)`` against OpenSearch; typed errors become one stderr line."""
    from bonito_logs.store import make_client
    from bonito_logs.store.keys import KeyStore

    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger("opensearch").setLevel(logging.WARNING)  # one line per request otherwise
    settings: Settings = get_settings()

    async def main() -> int:
        client = make_client(settings)
        try:
            return await action(KeyStore(client, settings))
        finally:
            await client.close()

    try:
        return asyncio.run(main())
    except BonitoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
