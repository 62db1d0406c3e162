# ruff: noqa: F811 - the fixtures are imported by name from ui_support and tests.peers
"""Integrations in the browser against the local Splunk HEC peer: add one (the form validates
inline), test it, break its token (Splunk's reason is shown), fix it, disable it, look at its
dead letters, delete it."""

from __future__ import annotations

from tests.integration.ui_support import (  # noqa: F401 - fixtures
    PHONE,
    browser,
    shoot,
    signed_in,
    ui,
)
from tests.peers.fixtures import splunk_peer  # noqa: F401
from tests.peers.splunk import DEFAULT_TOKEN

WRONG_TOKEN = "99999999-8888-4777-8666-555555555555"


def _edit_token(page, row, token: str) -> None:
    row.locator("button[data-action=edit]").click()
    page.fill("input[name='credentials.hec_token']", token)
    page.click("#save-integration")
    page.locator("#integration-dialog").wait_for(state="hidden")


def _test(page, row) -> str:
    row.locator("button[data-action=test]").click()  # replaces any earlier answer with "pending"
    result = page.locator("[data-test-result=ok], [data-test-result=fail]")
    result.wait_for()
    return result.get_attribute("data-test-result") + ": " + result.inner_text()


def test_splunk_integration_add_test_break_fix_disable_delete(browser, ui, splunk_peer):
    page = signed_in(browser, ui, "admin")
    page.click("nav.mainnav >> text=Integrations")
    page.locator("#integrations-state[data-state=empty]").wait_for()
    page.click("#add-integration")
    page.select_option("#f-type", "splunk")
    page.fill("#f-name", "Splunk (local HEC)")
    page.click("#save-integration")  # required fields are named before anything is sent
    assert page.locator("[data-error-for='config.host']").inner_text() == "is required"
    assert page.locator("[data-error-for='credentials.hec_token']").inner_text() == "is required"
    page.fill("input[name='config.host']", splunk_peer.url)
    page.uncheck("input[name='config.verify_tls']")
    page.fill("input[name='credentials.hec_token']", "not-a-guid")
    page.click("#save-integration")  # the API's 422 lands next to the field it is about
    page.locator("[data-error-for='credentials.hec_token']", has_text="GUID").wait_for()
    assert page.locator("[data-error-for='config.host']").is_hidden()
    assert page.get_attribute("input[name='credentials.hec_token']", "aria-invalid") == "true"
    shoot(page, "integrations-form-1280")
    page.fill("input[name='credentials.hec_token']", DEFAULT_TOKEN)
    page.click("#save-integration")
    page.locator("#integration-dialog").wait_for(state="hidden")
    row = page.locator("tr[data-integration]")
    row.wait_for()
    assert "Splunk HEC" in row.inner_text()
    with ui.api("admin") as client:
        (created,) = client.get("/api/logs/integrations").json()["items"]
    assert created["config"]["host"].startswith("http://127.0.0.1")
    assert DEFAULT_TOKEN not in str(created["credentials"])

    assert _test(page, row).startswith("ok: Test passed")
    _edit_token(page, row, WRONG_TOKEN)
    failed = _test(page, row)
    assert failed.startswith("fail: Test failed") and "Invalid token" in failed
    shoot(page, "integrations-1280")
    _edit_token(page, row, DEFAULT_TOKEN)
    assert _test(page, row).startswith("ok: Test passed")

    row.locator("button[data-action=disable]").click()
    page.locator("tr[data-integration] [data-health=disabled]").wait_for()
    with ui.api("admin") as client:
        assert client.get(f"/api/logs/integrations/{created['id']}").json()["enabled"] is False

    row.locator("button[data-action=dlq]").click()
    page.locator("#dlq-body [data-dlq-empty], #dlq-table").first.wait_for()
    page.keyboard.press("Escape")
    page.set_viewport_size(PHONE)
    shoot(page, "integrations-phone")

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button[data-action=delete]").click()
    page.locator("#integrations-state[data-state=empty]").wait_for()
    with ui.api("admin") as client:
        assert client.get("/api/logs/integrations").json()["items"] == []


def test_member_sees_the_list_without_controls(browser, ui):
    page = signed_in(browser, ui, "member")
    page.goto(ui.url("/logs/integrations"))
    page.locator("#integrations-state[data-state]").wait_for()
    assert page.locator("#add-integration, [data-integration-form], button[data-action]").count() == 0
    with ui.api("member") as client:
        assert client.post("/api/logs/integrations", json={}).status_code == 403
