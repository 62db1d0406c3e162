# ruff: noqa: F811 - the fixtures are imported by name from ui_support
"""Exports from the browser: start a CSV export from the explorer's filters, watch it reach
100 %, download it; its rows are the query API's rows. Needs the exporter (the fixture runs
the worker runtime next to the server)."""

from __future__ import annotations

import csv
import io

from tests.integration.ui_support import (  # noqa: F401 - fixtures
    PHONE,
    browser,
    page_state,
    shoot,
    signed_in,
    ui,
)


def test_export_csv_progress_download_and_rows_equal_the_api(browser, ui, tmp_path):
    page = signed_in(browser, ui, "member")
    with page.expect_navigation():
        page.goto(ui.url("/logs?range=all&log_type=gateway&log_type=kb&sort=cost&order=asc"))
    body = page_state(page)["body"]
    with page.expect_navigation(url="**/logs/exports?job=*"):
        page.click("button[data-export=csv]")
    job_id = page.url.split("job=")[1]
    row = page.locator(f"tr[data-job='{job_id}']")
    row.wait_for()
    page.locator(f"tr[data-job='{job_id}'][data-status=completed]").wait_for(timeout=90_000)
    assert row.locator("[data-percent]").inner_text() == "100%"
    assert row.locator("progress").get_attribute("value") == "100"
    assert "CSV" in row.inner_text() and "gateway, kb" in row.inner_text()
    shoot(page, "exports-1280")
    with page.expect_download() as download_info:
        row.locator("a[data-download]").click()
    path = tmp_path / "export.csv"
    download_info.value.save_as(path)

    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    expected = ui.query_all({"filters": body["filters"], "sort_by": "cost", "sort_order": "asc"},
                            role="member")
    assert len(rows) == len(expected) > 100
    assert [r["id"] for r in rows] == [r["id"] for r in expected]
    assert {r["log_type"] for r in rows} == {"gateway", "kb"}
    with ui.api("member") as client:
        job = client.get(f"/api/logs/export/{job_id}").json()
    assert job["status"] == "completed" and job["rows_written"] == len(rows)

    page.set_viewport_size(PHONE)
    shoot(page, "exports-phone")
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button[data-delete]").click()
    row.wait_for(state="detached")
    with ui.api("member") as client:
        assert client.get(f"/api/logs/export/{job_id}").status_code == 404


def test_cookie_write_without_csrf_header_is_refused_in_the_browser(browser, ui):
    page = signed_in(browser, ui, "member")
    with ui.api("member") as client:
        before = len(client.get("/api/logs/export").json()["items"])
    status = page.evaluate("""async () => {
        const r = await fetch('/api/logs/export', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                   body: JSON.stringify({export_format: 'csv'})});
        return [r.status, (await r.json()).error.code];
    }""")
    assert status == [403, "csrf_failed"]
    with ui.api("member") as client:
        assert len(client.get("/api/logs/export").json()["items"]) == before


def test_viewer_sees_no_export_or_integration_controls_and_the_api_refuses_them(browser, ui):
    page = signed_in(browser, ui, "viewer")
    assert page.locator("button[data-export]").count() == 0
    nav = page.inner_text("nav.mainnav")
    assert "Exports" not in nav and "Integrations" not in nav
    shoot(page, "explorer-viewer-1280")
    for path, role in (("/logs/exports", "member"), ("/logs/integrations", "member")):
        response = page.goto(ui.url(path))
        assert response.status == 403
        assert f"needs the {role} role" in page.inner_text("main")
        assert page.locator("button[data-export], [data-integration-form]").count() == 0
    page.goto(ui.url("/logs"))
    answer = page.evaluate("""async () => {
        const csrf = document.querySelector('meta[name=csrf-token]').content;
        const r = await fetch('/api/logs/export', {method: 'POST', body: '{}',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}});
        return [r.status, (await r.json()).error.code];
    }""")
    assert answer == [403, "forbidden"]  # the CSRF token was right: the role is what refuses
    with ui.api("viewer") as client:
        assert client.post("/api/logs/export", json={"export_format": "csv"}).status_code == 403
        assert client.get("/api/logs/export").status_code == 403
        assert client.get("/api/logs/integrations").status_code == 403
        assert client.post("/api/logs/integrations", json={"name": "x"}).status_code == 403
