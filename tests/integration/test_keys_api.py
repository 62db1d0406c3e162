"""API keys through the routes: roles, org isolation, secrets shown once, revocation at once."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.integration.test_api_support import api_session, bearer, new_key

ORG = str(uuid.uuid4())
OTHER_ORG = str(uuid.uuid4())


@pytest.fixture
async def api(settings):
    async with api_session(settings) as (app, client):
        tokens = await asyncio.gather(*(new_key(app, ORG, role) for role in ("viewer", "member", "admin")),
                                      new_key(app, OTHER_ORG, "admin"))
        yield app, client, dict(zip(("viewer", "member", "admin", "other"), tokens, strict=True))


async def test_admin_creates_lists_and_revokes(api):
    _, client, keys = api
    created = await client.post("/api/keys", headers=bearer(keys["admin"]),
                                json={"role": "member", "name": "ci", "email": "ops@example.com"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["key"].startswith(f"bnt_{body['key_id']}_")
    assert body["org_id"] == ORG and body["role"] == "member" and body["name"] == "ci"
    assert body["email"] == "ops@example.com" and body["revoked_at"] is None

    # The new key works at once, with its own role.
    assert (await client.post("/api/logs/query", headers=bearer(body["key"]), json={})).status_code == 200
    assert (await client.get("/api/keys", headers=bearer(body["key"]))).status_code == 403

    listing = await client.get("/api/keys", headers=bearer(keys["admin"]))
    assert listing.status_code == 200
    items = listing.json()["items"]
    assert body["key_id"] in {k["key_id"] for k in items}
    assert {k["org_id"] for k in items} == {ORG}  # never another org's keys
    assert len(items) == 4
    secret = body["key"].rsplit("_", 1)[-1]
    assert "secret_hash" not in listing.text and secret not in listing.text
    assert all("key" not in item for item in items)

    revoked = await client.delete(f"/api/keys/{body['key_id']}", headers=bearer(keys["admin"]))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"]
    # Revocation takes effect on the very next request.
    after = await client.post("/api/logs/query", headers=bearer(body["key"]), json={})
    assert after.status_code == 401
    assert "revoked" in after.json()["error"]["message"]


async def test_a_key_can_revoke_itself_and_is_refused_right_after(api):
    _, client, keys = api
    key_id = keys["admin"][4:16]
    assert (await client.delete(f"/api/keys/{key_id}", headers=bearer(keys["admin"]))).status_code == 200
    assert (await client.get("/api/keys", headers=bearer(keys["admin"]))).status_code == 401


@pytest.mark.parametrize("role", ["viewer", "member"])
async def test_only_admins_manage_keys(api, role):
    _, client, keys = api
    headers = bearer(keys[role])
    assert (await client.post("/api/keys", headers=headers, json={"role": "viewer"})).status_code == 403
    assert (await client.get("/api/keys", headers=headers)).status_code == 403
    response = await client.delete(f"/api/keys/{keys['admin'][4:16]}", headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    # ...while both may query.
    assert (await client.post("/api/logs/query", headers=headers, json={})).status_code == 200


async def test_another_orgs_key_is_not_found_like_a_missing_one(api):
    _, client, keys = api
    other_id = keys["other"][4:16]
    foreign = await client.delete(f"/api/keys/{other_id}", headers=bearer(keys["admin"]))
    missing = await client.delete("/api/keys/AAAAAAAAAAAA", headers=bearer(keys["admin"]))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    # ...and it still works for its own org.
    assert (await client.get("/api/keys", headers=bearer(keys["other"]))).status_code == 200


async def test_create_validates_and_ignores_any_org_in_the_body(api):
    _, client, keys = api
    headers = bearer(keys["admin"])
    bad = await client.post("/api/keys", headers=headers, json={"role": "owner", "org_id": OTHER_ORG})
    assert bad.status_code == 422
    fields = {p["field"] for p in bad.json()["error"]["problems"]}
    assert fields == {"org_id"}  # unknown keys are refused before anything else
    bad = await client.post("/api/keys", headers=headers, json={"role": "owner", "email": "nope"})
    assert {p["field"] for p in bad.json()["error"]["problems"]} == {"role", "email"}
    missing_role = await client.post("/api/keys", headers=headers, json={})
    assert missing_role.status_code == 422
    not_json = await client.post("/api/keys", headers=headers, content=b"role=admin")
    assert not_json.status_code == 400
