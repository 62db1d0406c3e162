# ruff: noqa: F811 - the fixtures are imported by name from ui_support
"""The explorer and the trace waterfall in headless Chromium against the real stack: the rows a
page shows are the rows the query API returns for the same filters."""

from __future__ import annotations

import re

from tests.integration.ui_support import (  # noqa: F401 - fixtures
    DESKTOP,
    PHONE,
    PHRASE,
    TRACE_ID,
    TRACE_SIZE,
    browser,
    page_state,
    shoot,
    shown_ids,
    signed_in,
    ui,
)


def api_ids(ui, body: dict) -> list[str]:
    with ui.api("viewer") as client:
        response = client.post("/api/logs/query", json=body)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def assert_table_matches_api(page, ui) -> dict:
    state = page_state(page)
    ids = shown_ids(page)
    assert ids, "the table is empty"
    assert ids == api_ids(ui, state["body"])
    return state


def test_sign_in_filter_search_sort_and_page(browser, ui):
    page = signed_in(browser, ui, "member")
    shoot(page, "explorer-unfiltered-1280")
    for chip in ("label.chip.sev-error", "label.chip.sev-critical", "label.chip.lt-gateway"):
        with page.expect_navigation():
            page.click(chip)
    assert "severity=error" in page.url and "severity=critical" in page.url and "log_type=gateway" in page.url
    assert_table_matches_api(page, ui)

    page.fill("#q", f'"{PHRASE}"')
    with page.expect_navigation():
        page.press("#q", "Enter")
    state = assert_table_matches_api(page, ui)
    filters = state["body"]["filters"]
    assert filters["severities"] == ["error", "critical"] and filters["log_types"] == ["gateway"]
    assert filters["search"] == f'"{PHRASE}"' and "start_date" in filters
    assert re.search(r"\b70\b records", page.inner_text("#total"))
    page.wait_for_selector("#histogram[data-state=ready]")
    assert "70 in" in page.get_attribute("#histogram svg", "aria-label")

    with page.expect_navigation():
        page.click("th a[data-sort=cost]")
    state = assert_table_matches_api(page, ui)
    assert (state["body"]["sort_by"], state["body"]["sort_order"]) == ("cost", "desc")
    costs = [float(c.strip("$") or "nan") for c in page.eval_on_selector_all(
        "#rows td:nth-child(7)", "cells => cells.map(c => c.textContent.trim())") if c]
    assert costs == sorted(costs, reverse=True)
    shoot(page, "explorer-filtered-1280")

    first_page = shown_ids(page)
    assert len(first_page) == 50
    page.click("#load-more")
    page.locator("#rows tr:nth-child(70)").wait_for()
    everything = shown_ids(page)
    assert everything == ui_all_ids(ui, state["body"])

    with page.expect_navigation():
        page.click("a[rel=next]")
    state = assert_table_matches_api(page, ui)
    assert state["body"]["offset"] == 50 and shown_ids(page) == everything[50:]
    assert page.inner_text(".pager .current") == "2"

    page.reload()  # the URL holds the whole view
    assert shown_ids(page) == everything[50:]


def ui_all_ids(ui, body: dict) -> list[str]:
    return [item["id"] for item in ui.query_all({k: v for k, v in body.items() if k != "offset"})]


def test_detail_panel_then_trace_waterfall(browser, ui):
    page = signed_in(browser, ui, "viewer")
    with page.expect_navigation():
        page.goto(ui.url("/logs?user_id=user-trace&sort=timestamp&order=asc"))
    assert len(shown_ids(page)) == TRACE_SIZE
    first = shown_ids(page)[0]
    page.focus("#rows tr:first-child")
    page.keyboard.press("Enter")
    page.wait_for_selector("#detail dl")
    detail = page.inner_text("#detail")
    record = next(r for r in ui.records if r["id"] == first)
    for text in (record["id"], record["message"], "Europe/Berlin", "user-trace", "support-triage", '"nested"'):
        assert text in detail, text
    assert page.locator("#detail button.copy").count() >= 4
    hrefs = page.eval_on_selector_all("#detail .links a", "links => links.map(a => a.getAttribute('href'))")
    assert f"/logs/trace/{TRACE_ID}" in hrefs
    assert any("user_id=user-trace" in h for h in hrefs) and any("resource_id=support-triage" in h for h in hrefs)
    shoot(page, "explorer-detail-1280")
    page.keyboard.press("Escape")
    assert page.locator("#detail").is_hidden()

    page.click("#rows tr:first-child td.c-msg")
    with page.expect_navigation():
        page.click("#detail a[data-trace-link]")
    assert page.url.endswith(f"/logs/trace/{TRACE_ID}")
    with ui.api("viewer") as client:
        trace = client.get(f"/api/logs/trace/{TRACE_ID}").json()
    rows = page.eval_on_selector_all("#waterfall tbody tr", "rows => rows.map(r => r.dataset.id)")
    assert rows == [item["id"] for item in trace["items"]] and len(rows) == TRACE_SIZE
    assert page.locator("#waterfall rect.bar").count() == TRACE_SIZE
    assert page.inner_text("#trace-count") == str(TRACE_SIZE)
    assert "ERRORS\n1\n" in page.inner_text(".summary").upper()
    shoot(page, "trace-1280")
    page.set_viewport_size(PHONE)
    shoot(page, "trace-phone")
    page.click("#waterfall tbody tr:nth-child(2) td.c-type")
    page.wait_for_selector("#detail dl")
    assert trace["items"][1]["id"] in page.inner_text("#detail")


def test_phone_width_and_sign_out(browser, ui):
    page = signed_in(browser, ui, "viewer", viewport=PHONE)
    page.wait_for_selector("#histogram[data-state=ready]")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(page, "explorer-phone")
    page.set_viewport_size(DESKTOP)
    with page.expect_navigation():
        page.click("text=Sign out")
    assert "/logs/login" in page.url
    page.goto(ui.url("/logs"))
    assert "/logs/login" in page.url
    shoot(page, "login-1280")
