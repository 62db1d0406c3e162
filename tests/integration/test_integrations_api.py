"""The integrations API: roles, org isolation, validation naming every problem, credentials
encrypted and masked, the SSRF guard on create, PATCH and test, and real destination checks."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from bonito_logs.api.app import create_app
from bonito_logs.config import Settings
from bonito_logs.crypto import decrypt_credentials
from bonito_logs.store import make_client
from tests.integration.forwarding_support import (
    Api,
    datadog_body,
    forwarding_api,
    forwarding_settings,
    splunk_body,
    webhook_body,
)
from tests.peers.datadog import DEFAULT_API_KEY
from tests.peers.fixtures import datadog_peer, splunk_peer, webhook_peer  # noqa: F401
from tests.peers.webhook import DEFAULT_SECRET

BASE = "/api/logs/integrations"


@pytest.fixture
async def api(settings):
    s = forwarding_settings(settings)
    async with forwarding_api(s, {"a": str(uuid.uuid4()), "b": str(uuid.uuid4())}, topics=False) as api:
        yield api


@contextlib.asynccontextmanager
async def strict_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the same indices, with private destinations refused (the default)."""
    app = create_app(settings.replace(allow_private_destinations=False))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") as c:
            yield c
    finally:
        await app.state.services.aclose()


def _calls(iid: str, peer) -> list[tuple[str, str, dict | None, dict[str, int]]]:
    """(method, path, body, {role: expected status}) for every route, DELETE last."""
    one = f"{BASE}/{iid}"
    return [
        ("POST", BASE, webhook_body(peer), {"admin": 201, "member": 403, "viewer": 403}),
        ("GET", BASE, None, {"admin": 200, "member": 200, "viewer": 403}),
        ("GET", one, None, {"admin": 200, "member": 200, "viewer": 403}),
        ("PATCH", one, {"name": "renamed"}, {"admin": 200, "member": 403, "viewer": 403}),
        ("POST", f"{one}/test", None, {"admin": 200, "member": 403, "viewer": 403}),
        ("GET", f"{one}/dlq", None, {"admin": 200, "member": 200, "viewer": 403}),
        ("POST", f"{one}/dlq/replay", None, {"admin": 202, "member": 403, "viewer": 403}),
        ("DELETE", one, None, {"admin": 204, "member": 403, "viewer": 403}),
    ]


async def test_role_matrix(api: Api, webhook_peer):  # noqa: F811
    iid = (await api.create(webhook_body(webhook_peer)))["id"]
    for method, path, body, expected in _calls(iid, webhook_peer):
        for role in ("viewer", "member", "admin"):
            response = await api.client.request(method, path, json=body, headers=api.headers(role))
            assert response.status_code == expected[role], (method, path, role, response.text)
            if response.status_code == 403:
                assert response.json()["error"]["code"] == "forbidden"
    anonymous = await api.client.get(BASE)
    assert anonymous.status_code == 401


async def test_another_orgs_integration_is_not_found_like_a_missing_one(api: Api, webhook_peer):  # noqa: F811
    iid = (await api.create(webhook_body(webhook_peer)))["id"]
    missing = str(uuid.uuid4())
    for method, path, body, _ in _calls(iid, webhook_peer)[2:]:
        foreign = await api.client.request(method, path, json=body, headers=api.headers("admin_b"))
        absent = await api.client.request(method, path.replace(iid, missing), json=body,
                                          headers=api.headers("admin_b"))
        assert foreign.status_code == absent.status_code == 404, (method, path)
        assert foreign.json() == absent.json()
    assert (await api.client.get(BASE, headers=api.headers("admin_b"))).json()["items"] == []
    assert (await api.get(iid))["name"] == "Webhook"  # untouched by org B


async def test_validation_names_every_problem(api: Api, datadog_peer):  # noqa: F811
    def problems(response: httpx.Response) -> set[str]:
        assert response.status_code == 422, response.text
        return {p["field"] for p in response.json()["error"]["problems"]}

    bad = {"name": "", "integration_type": "datadog",
           "config": {"site": "datadoghq.nope", "service": "", "tags": ["has space"], "colour": "red"},
           "credentials": {"api_key": "short-and-secret", "password": "x"},
           "filters": {"log_types": ["gateway", "nope"], "severities": "error", "colour": []}}
    response = await api.client.post(BASE, json=bad, headers=api.headers())
    assert problems(response) == {
        "name", "config.site", "config.service", "config.tags[0]", "config.colour",
        "credentials.api_key", "credentials.password", "filters.log_types[1]", "filters.severities",
        "filters.colour"}
    assert "short-and-secret" not in response.text
    unknown = await api.client.post(BASE, json={**datadog_body(datadog_peer), "org_id": "x", "id": "y"},
                                    headers=api.headers())
    assert problems(unknown) == {"org_id", "id"}
    empty = await api.client.post(BASE, json={}, headers=api.headers())
    assert problems(empty) == {"name", "integration_type", "config", "credentials"}
    kind = await api.client.post(BASE, json={**datadog_body(datadog_peer), "integration_type": "syslog"},
                                 headers=api.headers())
    assert problems(kind) == {"integration_type"}
    shapes = await api.client.post(BASE, json={**datadog_body(datadog_peer), "config": [], "enabled": "yes"},
                                   headers=api.headers())
    assert problems(shapes) == {"config", "enabled"}
    assert (await api.client.post(BASE, content=b"{", headers=api.headers())).status_code == 400

    iid = (await api.create(datadog_body(datadog_peer)))["id"]
    patch = await api.client.patch(f"{BASE}/{iid}", json={"integration_type": "splunk", "owner": 1},
                                   headers=api.headers())
    assert problems(patch) == {"integration_type", "owner"}
    assert problems(await api.client.patch(f"{BASE}/{iid}", json={}, headers=api.headers())) == {"body"}
    patch = await api.client.patch(f"{BASE}/{iid}", json={"config": {"site": "datadoghq.com"}},
                                   headers=api.headers())
    assert problems(patch) == {"config.service"}
    patch = await api.client.patch(f"{BASE}/{iid}", json={"credentials": {}}, headers=api.headers())
    assert problems(patch) == {"credentials.api_key"}


async def test_credentials_are_encrypted_at_rest_and_only_ever_shown_masked(api: Api, datadog_peer):  # noqa: F811
    secret = "abcdef0123456789abcdef0123456789"
    created = await api.create(datadog_body(datadog_peer, api_key=secret))
    assert created["credentials"] == {"api_key": "****6789"}
    iid = created["id"]
    texts = [(await api.client.get(f"{BASE}/{iid}", headers=api.headers())).text,
             (await api.client.get(BASE, headers=api.headers("member"))).text]
    patched = await api.client.patch(f"{BASE}/{iid}", json={"credentials": {"api_key": DEFAULT_API_KEY}},
                                     headers=api.headers())
    texts.append(patched.text)
    assert patched.json()["credentials"] == {"api_key": "****cdef"}
    assert patched.json()["revision"] == 2
    for text in texts:
        assert secret not in text and DEFAULT_API_KEY not in text
        assert "credentials_masked" not in text and "gAAAA" not in text  # nor the token
    client = make_client(api.app.state.settings)
    try:
        stored = (await client.get(index=f"{api.app.state.settings.meta_prefix}integrations", id=iid))["_source"]
    finally:
        await client.close()
    raw = str(stored)
    assert secret not in raw and DEFAULT_API_KEY not in raw
    assert stored["credentials"].startswith("gAAAA")  # a Fernet token
    assert decrypt_credentials(stored["credentials"], api.app.state.settings) == {"api_key": DEFAULT_API_KEY}
    assert stored["org_id"] and stored["credentials_masked"] == {"api_key": "****cdef"}


async def test_test_reports_the_destinations_verdict(api: Api, datadog_peer, splunk_peer, webhook_peer):  # noqa: F811
    good = (await api.create(datadog_body(datadog_peer)))["id"]
    bad = (await api.create(datadog_body(datadog_peer, api_key="f" * 32)))["id"]
    hook = (await api.create(webhook_body(webhook_peer)))["id"]
    hec = (await api.create(splunk_body(splunk_peer)))["id"]
    results = {}
    for name, iid in {"good": good, "bad": bad, "hook": hook, "hec": hec}.items():
        response = await api.client.post(f"{BASE}/{iid}/test", headers=api.headers())
        assert response.status_code == 200, response.text
        results[name] = response.json()
    assert results["good"]["ok"] is True and results["good"]["status"] == 200
    assert results["bad"] == {"ok": False, "message": "Datadog answered 403: Forbidden", "status": 403}
    assert results["hook"]["ok"] is True and webhook_peer.tests == 1
    assert results["hec"]["ok"] is True and "HEC is healthy" in results["hec"]["message"]
    webhook_peer.set_secret("whsec-another-secret-entirely")
    refused = (await api.client.post(f"{BASE}/{hook}/test", headers=api.headers())).json()
    assert refused["ok"] is False and refused["status"] == 401 and "invalid signature" in refused["message"]
    datadog_peer.hang(5)
    slow = (await api.client.post(f"{BASE}/{good}/test", headers=api.headers())).json()
    assert slow["ok"] is False and "timed out" in slow["message"]


PRIVATE = {
    "http://169.254.169.254/latest/meta-data/": "cloud metadata",
    "http://127.0.0.1:8080/hook": "loopback",
    "http://10.0.0.1/hook": "private",
}


async def test_private_destinations_are_refused_on_create_patch_and_test(api: Api, settings, webhook_peer):  # noqa: F811
    permissive = await api.create(webhook_body(webhook_peer))  # on 127.0.0.1, allowed in tests
    iid = permissive["id"]
    async with strict_client(api.app.state.settings) as strict:
        headers = api.headers()
        for url, words in PRIVATE.items():
            body = {**webhook_body(webhook_peer), "config": {"url": url}}
            response = await strict.post(BASE, json=body, headers=headers)
            assert response.status_code == 422, (url, response.text)
            (problem,) = response.json()["error"]["problems"]
            assert problem["field"] == "config.url" and words in problem["rule"], problem
            patch = await strict.patch(f"{BASE}/{iid}", json={"config": {"url": url}}, headers=headers)
            assert patch.status_code == 422 and words in patch.text, (url, patch.text)
        splunk = await strict.post(BASE, json={**splunk_body(webhook_peer), "config": {"host": "https://127.0.0.1:8088"}},
                                   headers=headers)
        assert {p["field"] for p in splunk.json()["error"]["problems"]} == {"config.host"}
        cloudwatch = await strict.post(BASE, headers=headers, json={
            "name": "cw", "integration_type": "cloudwatch",
            "config": {"region": "us-east-1", "log_group": "g", "log_stream": "s", "endpoint_url": "http://10.0.0.1"},
            "credentials": {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "x"}})
        assert {p["field"] for p in cloudwatch.json()["error"]["problems"]} == {"config.endpoint_url"}
        # The stored integration points at 127.0.0.1: testing or re-enabling it is refused too...
        tested = await strict.post(f"{BASE}/{iid}/test", headers=headers)
        assert tested.status_code == 422 and "loopback" in tested.text
        assert webhook_peer.tests == 0
        enable = await strict.patch(f"{BASE}/{iid}", json={"enabled": True}, headers=headers)
        assert enable.status_code == 422
        # ...while disabling it always works.
        disable = await strict.patch(f"{BASE}/{iid}", json={"enabled": False}, headers=headers)
        assert disable.status_code == 200 and disable.json()["state"]["health"] == "disabled"
    assert (await api.get(iid))["config"]["url"] == webhook_peer.hook_url


async def test_secret_values_never_appear_in_errors(api: Api, webhook_peer):  # noqa: F811
    for credentials in ({"secret": "tiny"}, {"secret": 12345678901234567}, {"secret": "x" * 20, "extra": "hunter2hunter2"}):
        response = await api.client.post(BASE, json={**webhook_body(webhook_peer), "credentials": credentials},
                                         headers=api.headers())
        assert response.status_code == 422
        for value in credentials.values():
            assert str(value) not in response.text
    assert DEFAULT_SECRET not in (await api.client.get(BASE, headers=api.headers())).text
