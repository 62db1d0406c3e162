# ruff: noqa: F811 - the fixtures are imported by name from ui_support
"""The dashboard in the browser: the summary and charts come from the stats API, whose
rollups the aggregator builds from records sent through Kafka."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.integration.support import encoded, generate_records, produce
from tests.integration.ui_support import (  # noqa: F401 - fixtures
    PHONE,
    browser,
    run_async,
    shoot,
    signed_in,
    ui,
)

SENT = 600


def _wait_for_rollups(ui) -> dict:
    deadline = time.monotonic() + 120
    with ui.api("viewer") as client:
        while True:
            response = client.get("/api/logs/stats/summary")  # 503 until the rollups index exists
            if response.status_code == 200 and response.json()["windows"]["7d"]["count"] >= SENT:
                return response.json()
            assert time.monotonic() < deadline, f"rollups incomplete: {response.text[:500]}"
            time.sleep(1)


def test_dashboard_summary_and_charts_match_the_stats_api(browser, ui):
    now = datetime.now(UTC)
    records = generate_records(SENT, [ui.org], seed=5, start=now - timedelta(hours=20),
                               span=timedelta(hours=20) - timedelta(minutes=2))
    assert run_async(produce(ui.settings, encoded(records))) == SENT
    summary = _wait_for_rollups(ui)
    day = summary["windows"]["24h"]
    assert day["count"] == SENT

    page = signed_in(browser, ui, "viewer")
    page.goto(ui.url("/logs/dashboard"))
    page.locator("#summary[data-state=ready]").wait_for()
    cell = page.locator("tr[data-metric=count] td[data-window='24h'] .figure")
    assert cell.inner_text() == f"{SENT:,}"
    errors = page.locator("tr[data-metric=errors] td[data-window='24h'] .figure").inner_text()
    assert errors == f"{day['errors']:,}"
    page.locator("#chart-volume[data-state=ready] svg").wait_for()
    types = {r["log_type"] for r in records}
    assert page.locator("#chart-volume path.series").count() == len(types)
    for chart in ("#chart-errors", "#chart-latency", "#chart-cost"):
        page.locator(f"{chart}[data-state=ready] svg path.series").wait_for()
    page.locator("#top-models[data-state=ready]").wait_for()
    assert page.locator("#top-models tr").count() == len(day["top_models_by_cost"]) > 0
    shoot(page, "dashboard-1280")

    page.click("#window label:has(input[value='7d'])")
    page.wait_for_url("**/logs/dashboard?window=7d")
    page.locator("#chart-volume[data-state=ready] svg").wait_for()
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(page, "dashboard-phone")
