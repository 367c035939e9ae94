"""The Temporal Web UI as a manager uses it, in headless Chromium (Debian's, driven by Playwright).

Screenshots land in tests/artifacts/ for a person to look at.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.async_api import Page, async_playwright, expect

from models.complaint import Status
from tests.conftest import Service
from tests.factories import intake_payload
from tests.helpers import status_once

ARTIFACTS = Path(__file__).parent / "artifacts"
# Without the background-networking flags Chromium keeps dialling out of this closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("Chromium is missing; `make test` installs Debian's chromium package")
    pytest.skip("no Chromium: `make test` installs Debian's chromium package (needs root and apt)")


async def expect_in_some_frame(page: Page, text: str, timeout: float = 30) -> None:
    """The UI renders Markdown in frames of its own; look in every frame."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for frame in page.frames:
            if await frame.get_by_text(text).count():
                return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{text!r} is not shown on {page.url}")


# The Web UI reads Temporal, not our database: one backend is enough.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_manager_finds_a_complaint_in_the_web_ui(service: Service, web_ui_port: int) -> None:
    customer = f"C-UI-{uuid.uuid4().hex[:6]}"
    payload = intake_payload(
        "contract_dispute",
        channel="regulator_referral",
        regulators=["NFRA"],
        customer={"customer_id": customer, "name": "Web UI Test Co", "email": "ui@test.example"},
        summary="Prepayment fee clause 7.3 is ambiguous",
    )
    result = await service.intake.file(payload)
    await status_once(service.intake.handle(result.complaint_id), {Status.IN_HANDLING})
    ARTIFACTS.mkdir(exist_ok=True)
    base = f"http://127.0.0.1:{web_ui_port}/namespaces/default"
    query = f'ComplaintTier="major" AND ComplaintCustomerId="{customer}"'

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1600, "height": 1000})
        await page.goto(f"{base}/workflows?query={quote(query)}")
        row = page.get_by_text(result.workflow_id)
        await expect(row.first).to_be_visible(timeout=30_000)
        await page.screenshot(path=ARTIFACTS / "web_ui_query.png", full_page=True)

        await page.goto(f"{base}/workflows/{result.workflow_id}")
        # The timeline names timers by their summaries, and the short steps (local activities)
        # by their activity names.
        for text in ("Decision (regulatory) warning", "send_acknowledgement"):
            await expect(page.get_by_text(text).first).to_be_visible(timeout=30_000)
        await page.screenshot(path=ARTIFACTS / "web_ui_complaint.png", full_page=True)
        await page.get_by_role("link", name="User Metadata").or_(page.get_by_text("User Metadata")).first.click()
        summary = f"{result.complaint_id} · contract dispute · Web UI Test Co: Prepayment fee clause 7.3 is ambiguous"
        for text in (
            summary,
            "Stage:",
            "Held by:",
            "Waiting for:",
            "Investigation opened (major) (10 seconds)",
            f"investigation-{result.complaint_id}",
        ):
            await expect_in_some_frame(page, text)
        await page.screenshot(path=ARTIFACTS / "web_ui_case_file.png", full_page=True)

        # The investigation is a workflow of its own, listed beside the complaint, with its own case file.
        await page.goto(f"{base}/workflows/investigation-{result.complaint_id}")
        await expect(page.get_by_text("InvestigationWorkflow").first).to_be_visible(timeout=30_000)
        await page.get_by_role("link", name="User Metadata").or_(page.get_by_text("User Metadata")).first.click()
        for text in (
            f"Investigation of {result.complaint_id}",
            "Lead:",
            "S-CMP-001",
            "Recused:",
            "Internal investigation (15 seconds)",
        ):
            await expect_in_some_frame(page, text)
        await page.screenshot(path=ARTIFACTS / "web_ui_investigation.png", full_page=True)

        other = f'ComplaintTier="simple" AND ComplaintCustomerId="{customer}"'
        await page.goto(f"{base}/workflows?query={quote(other)}")
        await expect(
            page.get_by_text("No Workflows running").or_(page.get_by_text("No Workflows")).first
        ).to_be_visible(timeout=30_000)
        assert await page.get_by_text(result.workflow_id).count() == 0
        await browser.close()
