"""``bonito-logs secrets rotate``: credentials re-encrypted under the new key, still readable
and masked, unreadable ones named; the command itself wired into the CLI."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import uuid

from bonito_logs.crypto import CredentialsError, decrypt_credentials, encrypt_credentials
from bonito_logs.secrets_cli import rotate_all
from bonito_logs.store import make_client
from bonito_logs.store.integrations import IntegrationStore
from tests.integration.forwarding_support import forwarding_api, forwarding_settings, webhook_body
from tests.integration.support import ROOT
from tests.peers.fixtures import webhook_peer  # noqa: F401
from tests.peers.webhook import DEFAULT_SECRET

OLD, NEW = "old-secret-key-0123456789", "new-secret-key-9876543210"


async def _tokens(settings) -> dict[str, str]:
    client = make_client(settings)
    try:
        return {i.integration_id: i.credentials for i, _ in await IntegrationStore(client, settings).list_all()}
    finally:
        await client.close()


async def test_rotation_re_encrypts_under_the_new_key(settings, webhook_peer):  # noqa: F811
    old = forwarding_settings(settings, secret_key=OLD)
    async with forwarding_api(old, {"a": str(uuid.uuid4()), "b": str(uuid.uuid4())}, topics=False) as api:
        first = await api.create(webhook_body(webhook_peer))
        second = await api.create(webhook_body(webhook_peer, secret="another-webhook-secret-1"))
        lost = await api.create(webhook_body(webhook_peer))
        new = old.replace(secret_key=NEW, previous_secret_keys=f"some-other-key,{OLD}")
        # One integration's token under a key nobody configures any more: named, left alone.
        stray = old.replace(secret_key="a-forgotten-key-000000")
        client = make_client(old)
        try:
            store = IntegrationStore(client, old)
            found, version = await store.find(lost["id"])
            token = encrypt_credentials({"secret": DEFAULT_SECRET}, stray)
            await store.save(dataclasses.replace(found, credentials=token), version)
        finally:
            await client.close()

        dry = await rotate_all(new, dry_run=True)
        assert (dry.rotated, dry.current, dry.unreadable) == (2, 0, [lost["id"]])
        report = await rotate_all(new)
        assert (report.rotated, report.current, report.unreadable) == (2, 0, [lost["id"]])
        tokens = await _tokens(new)
        only_new = new.replace(previous_secret_keys="")
        assert decrypt_credentials(tokens[first["id"]], only_new) == {"secret": DEFAULT_SECRET}
        assert decrypt_credentials(tokens[second["id"]], only_new) == {"secret": "another-webhook-secret-1"}
        try:
            decrypt_credentials(tokens[first["id"]], old.replace(previous_secret_keys=""))
            raise AssertionError("the old key still opens rotated credentials")
        except CredentialsError:
            pass
        again = await rotate_all(new)
        assert (again.rotated, again.current) == (0, 2)

        env = dict(os.environ, **new.to_env())
        done = subprocess.run([sys.executable, "-m", "bonito_logs.cli", "secrets", "rotate", "--dry-run"],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 1, done.stderr
        assert done.stdout.strip() == (f"would have rotated 0, already under the current key 2, unreadable "
                                       f"with every configured key 1: {lost['id']}")
        assert OLD not in done.stdout + done.stderr and NEW not in done.stdout + done.stderr
        # The API still shows them, masked, revision unchanged.
        shown = await api.get(first["id"])
        assert shown["credentials"] == {"secret": "****peer"} and shown["revision"] == first["revision"]
