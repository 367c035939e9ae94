"""The Web UI with encrypted payloads (issue 16, part 2), in headless Chromium as test_web_ui.py.

A complaint filed through a client and worker that encrypt is ciphertext in the Web UI without
the codec server, and also with it for a browser that has not signed in; a manager signed in
to the codec server (the cookie of /login) reads the case file. The codec endpoint and "include
cross-origin credentials" are set the way the UI's Codec Server settings store them (local
storage), since the dev server's `--ui-codec-endpoint` cannot turn credentials on.
Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, async_playwright, expect
from sqlalchemy import Engine
from temporalio.client import Client

from complaints.codec_server import login_url, make_token
from complaints.config import Settings
from domain.policy import PolicyStore
from models.complaint import Status
from tests.codec_support import codec_server, encrypting_client, key_ring
from tests.factories import intake_payload
from tests.helpers import own_worker, status_once
from tests.test_web_ui import ARTIFACTS, CHROMIUM_ARGS, chromium, expect_in_some_frame

# How the UI shows a payload it cannot decode: the sealed bytes, base64, where the JSON would be.
CIPHERTEXT = re.compile(r'"[A-Za-z0-9+/]{300,}={0,2}"')


def codec_settings(endpoint: str) -> str:
    """The UI's Codec Server settings, as its settings dialog leaves them in local storage."""
    values = {"endpoint": endpoint, "includeCredentials": True, "overrideRemoteCodecConfiguration": True}
    return "".join(
        f"window.localStorage.setItem({json.dumps(k)}, {json.dumps(json.dumps(v))});" for k, v in values.items()
    )


async def text_in_some_frame(page: Page, text: str) -> bool:
    for frame in page.frames:
        if await frame.get_by_text(text).count():
            return True
    return False


async def open_case_file(context: BrowserContext, base: str, workflow_id: str, shot: str) -> Page:
    """The complaint's User Metadata tab (the case file), then its Event History (the input)."""
    page = await context.new_page()
    await page.goto(f"{base}/workflows/{workflow_id}")
    await expect(page.get_by_text("ComplaintWorkflow").first).to_be_visible(timeout=30_000)
    await page.get_by_role("link", name="User Metadata").or_(page.get_by_text("User Metadata")).first.click()
    await page.wait_for_timeout(3000)  # let the UI ask the codec server (or give up)
    await page.screenshot(path=ARTIFACTS / f"{shot}.png", full_page=True)
    return page


async def workflow_input(page: Page, shot: str) -> str:
    await page.get_by_text("Event History").first.click()
    await page.wait_for_timeout(3000)
    await page.screenshot(path=ARTIFACTS / f"{shot}_history.png", full_page=True)
    return await page.content()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_case_file_is_decoded_for_signed_in_staff_and_ciphertext_otherwise(
    client: Client, engine: Engine, policies: PolicyStore, web_ui_port: int, tmp_path: Path
) -> None:
    key_file, ring = key_ring(tmp_path)
    secure = encrypting_client(client, key_file)
    tag = uuid.uuid4().hex[:6]
    name = f"Codec Webui Trading {tag}"
    ui = f"http://127.0.0.1:{web_ui_port}"
    base = f"{ui}/namespaces/default"
    ARTIFACTS.mkdir(exist_ok=True)
    async with own_worker(secure, engine, policies, prefix="codec-ui") as intake:
        result = await intake.file(
            intake_payload(
                "fees_and_interest",
                customer={"customer_id": f"C-UIC-{tag}", "name": name, "email": f"ui.{tag}@codec.example"},
                summary=f"Penalty interest charged twice {tag}",
            )
        )
        await status_once(intake.handle(result.complaint_id), {Status.IN_HANDLING})
        summary = f"{result.complaint_id} · fees and interest · {name}: Penalty interest charged twice {tag}"

        async with codec_server(ring, engine, ui_origin=ui) as url, async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
            viewport = {"width": 1600, "height": 1000}

            # No codec server configured: no summary, no details, and the input is ciphertext.
            plain = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
            page = await open_case_file(plain, base, result.workflow_id, "web_ui_codec_none")
            await expect(page.get_by_text("No summary available")).to_be_visible()
            assert not await text_in_some_frame(page, name)
            history = await workflow_input(page, "web_ui_codec_none")
            assert CIPHERTEXT.search(history) and name not in history
            await plain.close()

            # The codec server configured, but this browser has not signed in: refused (401), and
            # the UI says the codec server could not be used; still nothing readable.
            codec_answers: list[int] = []
            anonymous = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
            await anonymous.add_init_script(codec_settings(url))
            anonymous.on("response", lambda r: codec_answers.append(r.status) if r.url.startswith(url) else None)
            page = await open_case_file(anonymous, base, result.workflow_id, "web_ui_codec_signed_out")
            await expect(page.locator("#content").get_by_text("Codec Server could not connect")).to_be_visible()
            await expect(page.get_by_text("No summary available")).to_be_visible()
            assert not await text_in_some_frame(page, name)
            history = await workflow_input(page, "web_ui_codec_signed_out")
            assert name not in history
            assert codec_answers and set(codec_answers) <= {401}, codec_answers
            await anonymous.close()

            # A manager signs in to the codec server (the link of `complaints codec login-url`)
            # and reads the case file: summary, details, current details, and the input.
            codec_answers.clear()
            manager = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
            await manager.add_init_script(codec_settings(url))
            manager.on("response", lambda r: codec_answers.append(r.status) if r.url.startswith(url) else None)
            signin = await manager.new_page()
            answer = await signin.goto(login_url(Settings(codec_url=url), make_token(ring.login_secret, "S-MGR-001")))
            assert answer is not None and answer.status == 200
            await expect(signin.get_by_text("Signed in as")).to_be_visible()
            page = await open_case_file(manager, base, result.workflow_id, "web_ui_codec_decoded")
            for text in (summary, f"Customer {name} (C-UIC-{tag})", "Stage:", "Held by:"):
                await expect_in_some_frame(page, text)
            history = await workflow_input(page, "web_ui_codec_decoded")
            assert name in history and not CIPHERTEXT.search(history)
            assert 200 in codec_answers and 401 not in codec_answers, codec_answers
            await manager.close()
            await browser.close()
