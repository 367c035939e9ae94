"""The analysis report in headless Chromium (Debian's, driven by Playwright, as tests/test_web_ui.py does).

The full-page screenshot lands in tests/artifacts/analysis_report.png for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import async_playwright, expect

from activities.report_render import render_report
from tests.activities.test_report_render import CHARTS, LABELS, sample_analysis
from tests.test_web_ui import ARTIFACTS, CHROMIUM_ARGS, chromium


async def test_a_manager_sees_the_charts_and_the_risk_points(tmp_path: Path) -> None:
    analysis = sample_analysis()
    files = render_report(analysis, tmp_path, labels=LABELS)
    report = (tmp_path / files["html"]).resolve()
    ARTIFACTS.mkdir(exist_ok=True)

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        await page.goto(report.as_uri())

        await expect(page.get_by_role("heading", name="Complaint analysis: 2026-10")).to_be_visible()
        charts = page.locator(".chart svg")
        assert await charts.count() == CHARTS
        for i in range(CHARTS):
            chart = charts.nth(i)
            await chart.scroll_into_view_if_needed()
            await expect(chart).to_be_visible()
            box = await chart.bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 50, (i, box)
            # Drawn, not just laid out: every chart has its bars.
            assert await chart.locator("path").count() > 0

        risks = page.locator("#risk-points .risk")
        assert await risks.count() == len(analysis.risk_points)
        for i, point in enumerate(analysis.risk_points):
            await expect(risks.nth(i)).to_contain_text(f"Owner: {point.owner}")
        await expect(page.get_by_text("Fee or interest charged in error").first).to_be_visible()

        await page.screenshot(path=ARTIFACTS / "analysis_report.png", full_page=True)
        await browser.close()
    assert requested == [report.as_uri()], "the report loaded something besides itself"
