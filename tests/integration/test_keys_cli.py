"""``bonito-logs keys create|list|revoke`` as a real process against OpenSearch."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

import pytest

from bonito_logs.store.keys import parse_key
from tests.integration.test_api_support import (
    api_session,
    bearer,
    delete_everything,
    wait_for_opensearch,
)


def run_cli(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env()}
    return subprocess.run([sys.executable, "-m", "bonito_logs.cli", "keys", *args], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
async def cli_settings(settings):
    await wait_for_opensearch(settings)
    yield settings
    await delete_everything(settings)


async def test_create_list_revoke(cli_settings):
    settings = cli_settings
    org = str(uuid.uuid4())
    created = run_cli(settings, "create", "--org", org.upper(), "--role", "admin", "--name", "ops",
                      "--email", "ops@example.com")
    assert created.returncode == 0, created.stderr
    # stdout is the key and nothing else
    assert re.fullmatch(r"bnt_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}\n", created.stdout), created.stdout
    token = created.stdout.strip()
    key_id, _ = parse_key(token)

    listed = run_cli(settings, "list", "--org", org)
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["KEY_ID", "ROLE", "NAME", "CREATED", "REVOKED"]
    assert row.split()[:3] == [key_id, "admin", "ops"] and row.split()[4] == "-"
    assert token.rsplit("_", 1)[1] not in listed.stdout

    async with api_session(settings) as (_, client):
        assert (await client.get("/api/keys", headers=bearer(token))).status_code == 200
        revoked = run_cli(settings, "revoke", key_id)
        assert revoked.returncode == 0, revoked.stderr
        assert key_id in revoked.stdout
        assert (await client.get("/api/keys", headers=bearer(token))).status_code == 401
        listed = run_cli(settings, "list", "--org", org)
        assert listed.stdout.splitlines()[1].split()[4] != "-"


async def test_org_must_be_a_uuid_and_unknown_keys_fail_clearly(cli_settings):
    settings = cli_settings
    bad = run_cli(settings, "create", "--org", "acme", "--role", "admin")
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert "must be a UUID" in bad.stderr
    missing = run_cli(settings, "revoke", "AAAAAAAAAAAA")
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert "not found" in missing.stderr
