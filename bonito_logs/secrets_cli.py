"""``bonito-logs secrets rotate``: re-encrypt every integration's stored credentials with the
current ``BONITO_SECRET_KEY`` (see ``HELP``)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from dataclasses import dataclass, field

from bonito_logs.config import Settings, get_settings
from bonito_logs.crypto import CredentialsError, decrypt_credentials, rotate
from bonito_logs.errors import BonitoError
from bonito_logs.store import make_client
from bonito_logs.store.integrations import IntegrationConflict, IntegrationStore

log = logging.getLogger(__name__)

TRIES = 5
HELP = """Re-encrypt every integration's stored credentials with the current BONITO_SECRET_KEY.

To rotate the key: set the new one as BONITO_SECRET_KEY and the old one in
BONITO_PREVIOUS_SECRET_KEYS (comma-separated) for the API and the workers, restart them,
run this command, then drop the old key. Credentials stay readable throughout; their
plain values do not change, so forwarders are not reconfigured. Exits 1 when some
credentials cannot be opened with any configured key (their integration ids are listed).
"""


@dataclass
class RotationReport:
    rotated: int = 0
    current: int = 0  # already under the current key
    unreadable: list[str] = field(default_factory=list)  # ids no configured key opens

    def summary(self) -> str:
        text = f"rotated {self.rotated}, already under the current key {self.current}"
        if self.unreadable:
            text += (f", unreadable with every configured key {len(self.unreadable)}: "
                     + ", ".join(self.unreadable))
        return text


async def rotate_all(settings: Settings, *, dry_run: bool = False) -> RotationReport:
    """Re-encrypt, under the current key, every stored credentials token that needs it."""
    report = RotationReport()
    current_only = settings.replace(previous_secret_keys="")
    client = make_client(settings)
    try:
        store = IntegrationStore(client, settings)
        for integration, version in await store.list_all():
            iid = integration.integration_id
            for _ in range(TRIES):
                try:
                    decrypt_credentials(integration.credentials, current_only)
                except CredentialsError:
                    pass
                else:
                    report.current += 1
                    break
                try:
                    token = rotate(integration.credentials, settings)
                except CredentialsError:
                    report.unreadable.append(iid)
                    break
                if dry_run:
                    report.rotated += 1
                    break
                try:  # same revision: the plain credentials are unchanged
                    await store.save(dataclasses.replace(integration, credentials=token), version)
                except IntegrationConflict:  # changed meanwhile: look again
                    found = await store.find(iid)
                    if found is None:
                        break
                    integration, version = found
                    continue
                report.rotated += 1
                break
    finally:
        await client.close()
    return report


def register(subparsers: argparse._SubParsersAction) -> None:
    secrets = subparsers.add_parser("secrets", help="the key that encrypts stored credentials")
    sub = secrets.add_subparsers(dest="secrets_command", metavar="ACTION")
    sub.required = True
    rotate_cmd = sub.add_parser(
        "rotate", help="re-encrypt every integration's credentials with BONITO_SECRET_KEY",
        description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    rotate_cmd.add_argument("--dry-run", action="store_true", help="count, change nothing")
    rotate_cmd.set_defaults(func=_rotate)


def _rotate(args: argparse.Namespace) -> int:
    try:
        report = asyncio.run(rotate_all(get_settings(), dry_run=args.dry_run))
    except BonitoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(("would have " if args.dry_run else "") + report.summary())
    return 1 if report.unreadable else 0
