"""Bad input to the query API: always a 4xx whose message names the field and the rule."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.test_api_support import api_session, bearer, new_key

CASES = [
    # (body, status, field named in problems, words in its rule)
    ({"limit": 0}, 422, "limit", "between 1 and 1000"),
    ({"limit": 5000}, 422, "limit", "between 1 and 1000"),
    ({"limit": "ten"}, 422, "limit", "integer"),
    ({"offset": -1}, 422, "offset", ">= 0"),
    ({"offset": 9950, "limit": 100}, 422, "offset", "cursor"),
    ({"sort_by": "colour"}, 422, "sort_by", "one of"),
    ({"sort_order": "up"}, 422, "sort_order", "asc"),
    ({"colour": "blue"}, 422, "colour", "not a known key"),
    ({"filters": {"colour": "blue"}}, 422, "filters.colour", "not a known filter"),
    ({"filters": "gateway"}, 422, "filters", "object"),
    ({"filters": {"log_types": "gateway"}}, 422, "filters.log_types", "list"),
    ({"filters": {"log_types": ["network"]}}, 422, "filters.log_types[0]", "gateway"),
    ({"filters": {"severities": ["info", "warning"]}}, 422, "filters.severities[1]", "warn"),
    ({"filters": {"start_date": "yesterday"}}, 422, "filters.start_date", "date"),
    ({"filters": {"start_date": "2024-02-30T00:00:00Z"}}, 422, "filters.start_date", "date"),
    ({"filters": {"start_date": "2024-02-01T00:00:00Z", "end_date": "2024-01-01T00:00:00Z"}},
     422, "filters.end_date", "start_date"),
    ({"filters": {"min_duration_ms": -5}}, 422, "filters.min_duration_ms", ">= 0"),
    ({"filters": {"min_cost": "cheap"}}, 422, "filters.min_cost", "number"),
    ({"filters": {"search": "x" * 1001}}, 422, "filters.search", "1000"),
    ({"filters": {"search": " ".join(["w"] * 300)}}, 422, "filters.search", "words"),
    ({"cursor": "not-a-cursor"}, 422, "cursor", "invalid cursor"),
    ({"cursor": "eyJ2IjoxfQ"}, 422, "cursor", "invalid cursor"),
]


@pytest.mark.parametrize(("body", "status", "field", "words"), CASES,
                         ids=[f"{c[2]}-{i}" for i, c in enumerate(CASES)])
async def test_bad_query_input_is_a_clear_4xx(settings, body, status, field, words):
    async with api_session(settings) as (app, client):
        token = await new_key(app, str(uuid.uuid4()), "viewer")
        resp = await client.post("/api/logs/query", json=body, headers=bearer(token))
        assert resp.status_code == status, resp.text
        error = resp.json()["error"]
        fields = {p["field"]: p["rule"] for p in error["problems"]}
        assert field in fields, error
        assert words.lower() in fields[field].lower(), fields[field]


async def test_malformed_json_and_non_objects(settings):
    async with api_session(settings) as (app, client):
        token = await new_key(app, str(uuid.uuid4()), "viewer")
        headers = {**bearer(token), "Content-Type": "application/json"}
        broken = await client.post("/api/logs/query", content=b'{"limit": ', headers=headers)
        assert broken.status_code == 400 and "JSON" in broken.json()["error"]["message"]
        listed = await client.post("/api/logs/query", json=[1, 2], headers=headers)
        assert listed.status_code == 422
        huge = await client.post("/api/logs/query", content=b'{"x":"' + b"a" * (2 * 1024 * 1024) + b'"}',
                                 headers=headers)
        assert huge.status_code == 413


async def test_malformed_search_syntax_degrades_instead_of_failing(settings):
    async with api_session(settings) as (app, client):
        token = await new_key(app, str(uuid.uuid4()), "viewer")
        for text in ['"unbalanced', "((a OR", "AND OR NOT", "*", "a* b** -", "\\/.*[]{}~^:!", "NOT"]:
            resp = await client.post("/api/logs/query", json={"filters": {"search": text}},
                                     headers=bearer(token))
            assert resp.status_code == 200, (text, resp.text)
