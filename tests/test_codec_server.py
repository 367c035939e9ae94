"""The codec server (issue 16, part 2): who may decode, from which origin; and the raw history.

The first tests run the aiohttp app in process against a SQLite staff table (no Temporal).
The last one files a complaint through a worker and client that encrypt, on the test server,
and reads its history with the `temporal` CLI: without the codec no name, e-mail or phone
is in it; through the codec server with a staff credential they are.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from google.protobuf import json_format
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from complaints.codec import EncryptionCodec, KeyRing
from complaints.codec_server import COOKIE, CodecServer, build_app, make_token, staff_directory_check
from complaints.devserver import temporal_binary
from db.engine import make_engine
from db.tables import Staff
from domain.policy import PolicyStore
from models.complaint import Status
from tests.codec_support import codec_server, encrypting_client, key_ring, texts
from tests.factories import intake_payload
from tests.helpers import own_worker, status_once

UI = "http://localhost:8233"
SECRET = b"s" * 32
RING = KeyRing(current="k2", keys={"k1": b"\x01" * 32, "k2": b"\x02" * 32}, source="test", login_secret=SECRET)
NAME, EMAIL = "Ouyang Codecfeng", "ouyang.codecfeng@trading.example"


@pytest.fixture
def staff_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'staff.db'}")
    SQLModel.metadata.create_all(engine, tables=[Staff.__table__])  # type: ignore[list-item]
    with Session(engine) as session:
        for staff_id, active in (("S-MGR-001", True), ("S-OLD-001", False)):
            session.add(
                Staff(
                    staff_id=staff_id,
                    name="x",
                    role="manager",
                    team="t",
                    skills=[],
                    languages=["en"],
                    service_quality_score=80.0,
                    active=active,
                )
            )
        session.commit()
    return engine


@pytest_asyncio.fixture
async def http(staff_engine: Engine) -> AsyncIterator[TestClient[Any, Any]]:
    app = build_app(CodecServer(ring=RING, ui_origin=UI, is_active_staff=staff_directory_check(staff_engine)))
    async with TestClient(TestServer(app)) as client:
        yield client


async def sealed_payloads() -> str:
    payload = pydantic_data_converter.payload_converter.to_payloads([{"name": NAME, "email": EMAIL}])[0]
    return json_format.MessageToJson(Payloads(payloads=await EncryptionCodec(RING).encode([payload])))


def bearer(staff_id: str, **kw: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(SECRET, staff_id, **kw)}", "Content-Type": "application/json"}


async def test_the_ui_origin_alone_gets_cors_with_credentials(http: TestClient[Any, Any]) -> None:
    preflight = {
        "Origin": UI,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    ok = await http.options("/decode", headers=preflight)
    assert ok.status == 204
    assert ok.headers["Access-Control-Allow-Origin"] == UI
    assert ok.headers["Access-Control-Allow-Credentials"] == "true"
    assert "x-namespace" in ok.headers["Access-Control-Allow-Headers"]
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    ns = await http.options("/default/decode", headers=preflight)
    assert ns.headers["Access-Control-Allow-Origin"] == UI
    for origin in ("http://evil.example", "http://localhost:9999", "null"):
        refused = await http.options("/decode", headers={**preflight, "Origin": origin})
        assert refused.status == 403
        assert "Access-Control-Allow-Origin" not in refused.headers
        assert "Access-Control-Allow-Credentials" not in refused.headers
        posted = await http.post(
            "/decode", data=await sealed_payloads(), headers={**bearer("S-MGR-001"), "Origin": origin}
        )
        assert posted.status == 403 and NAME not in await posted.text()


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no credential
        {"Authorization": "Bearer v1.S-MGR-001.9999999999.forged"},
        {"Authorization": "Bearer not-a-token"},
        {"Cookie": f"{COOKIE}=v1.S-MGR-001.9999999999.forged"},
    ],
    ids=["none", "bad-signature", "malformed", "forged-cookie"],
)
async def test_no_valid_credential_no_decoding(http: TestClient[Any, Any], headers: dict[str, str]) -> None:
    for path in ("/decode", "/encode", "/default/decode"):
        answer = await http.post(
            path, data=await sealed_payloads(), headers={"Content-Type": "application/json", **headers}
        )
        assert answer.status == 401
        assert NAME not in await answer.text()


async def test_expired_unknown_and_inactive_staff_are_refused(http: TestClient[Any, Any]) -> None:
    cases = {
        "expired": bearer("S-MGR-001", minutes=1, now=0),
        "unknown": bearer("S-NOBODY-9"),
        "inactive": bearer("S-OLD-001"),
        "other secret": {
            "Authorization": f"Bearer {make_token(b'x' * 32, 'S-MGR-001')}",
            "Content-Type": "application/json",
        },
    }
    for case, headers in cases.items():
        answer = await http.post("/decode", data=await sealed_payloads(), headers=headers)
        assert answer.status == 401, case
        body = await answer.json()
        assert NAME not in json.dumps(body), case
    assert "expired" in (await (await http.post("/decode", data="{}", headers=cases["expired"])).json())["error"]
    inactive = await (await http.post("/decode", data="{}", headers=cases["inactive"])).json()
    assert "S-OLD-001 is not an active member" in inactive["error"]


async def test_signed_in_staff_decode_by_bearer_or_by_the_cookie_login_sets(http: TestClient[Any, Any]) -> None:
    answer = await http.post("/decode", data=await sealed_payloads(), headers=bearer("S-MGR-001"))
    assert answer.status == 200
    decoded = json_format.Parse(await answer.text(), Payloads())
    assert json.loads(decoded.payloads[0].data) == {"name": NAME, "email": EMAIL}

    refused_login = await http.get("/login", params={"token": make_token(SECRET, "S-OLD-001")})
    assert refused_login.status == 401 and COOKIE not in refused_login.cookies
    login = await http.get("/login", params={"token": make_token(SECRET, "S-MGR-001")})
    assert login.status == 200 and "S-MGR-001" in await login.text()
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # The browser sends it back from the Web UI (Origin: the UI), as "include credentials" makes it.
    from_ui = await http.post(
        "/default/decode", data=await sealed_payloads(), headers={"Content-Type": "application/json", "Origin": UI}
    )
    assert from_ui.status == 200
    assert from_ui.headers["Access-Control-Allow-Origin"] == UI
    assert from_ui.headers["Access-Control-Allow-Credentials"] == "true"
    assert json.loads(json_format.Parse(await from_ui.text(), Payloads()).payloads[0].data)["name"] == NAME
    # Encoding (the UI sending a signal) encrypts with the current key.
    plain = json_format.MessageToJson(
        Payloads(payloads=pydantic_data_converter.payload_converter.to_payloads([{"note": "hi"}]))
    )
    encoded = json_format.Parse(
        await (await http.post("/encode", data=plain, headers=bearer("S-MGR-001"))).text(), Payloads()
    )
    assert encoded.payloads[0].metadata["encryption-key-id"] == b"k2"
    await http.get("/logout")
    assert (
        await http.post("/decode", data=await sealed_payloads(), headers={"Content-Type": "application/json"})
    ).status == 401


async def test_a_payload_of_a_key_the_ring_lacks_is_named_not_decoded(http: TestClient[Any, Any]) -> None:
    other = KeyRing(current="k0", keys={"k0": b"\x00" * 32}, source="other")
    payload = pydantic_data_converter.payload_converter.to_payloads([NAME])[0]
    body = json_format.MessageToJson(Payloads(payloads=await EncryptionCodec(other).encode([payload])))
    answer = await http.post("/decode", data=body, headers=bearer("S-MGR-001"))
    assert answer.status == 422
    assert "'k0'" in (await answer.json())["error"]


def test_tokens_are_not_printed_with_keys() -> None:
    assert base64.b64encode(SECRET).decode() not in repr(RING)
    token = make_token(SECRET, "S-MGR-001")
    assert token.startswith("v1.S-MGR-001.") and SECRET.decode() not in token
    with pytest.raises(ValueError, match="staff id"):
        make_token(SECRET, "S-MGR-001.x")


# --- end to end: the raw history on the test server -----------------------------------------


async def temporal_cli(*args: str) -> tuple[int, str, str]:
    """The `temporal` CLI, run without blocking this loop (the codec server it may call runs in it)."""
    proc = await asyncio.create_subprocess_exec(
        temporal_binary(), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_raw_history_holds_no_name_email_or_phone_and_the_codec_server_reads_it(
    client: Client, engine: Engine, policies: PolicyStore, tmp_path: Path
) -> None:
    key_file, ring = key_ring(tmp_path)
    secure = encrypting_client(client, key_file)
    tag = uuid.uuid4().hex[:6]
    customer_id = f"C-ENC-{tag}"
    personal = {
        "name": f"Ouyang Codecfeng {tag}",
        "company": f"Codecfeng Precision Tooling {tag} Ltd",
        "email": f"ouyang.{tag}@codecfeng.example",
        "phone": f"+86 21 5555 {int(tag, 16) % 10000:04d}",
        "postal_address": f"88 Codecfeng Road {tag}, Pudong, Shanghai",
    }
    description = f"Penalty interest charged on {tag} although paid on time"
    async with own_worker(secure, engine, policies, prefix="codec") as intake:
        result = await intake.file(
            intake_payload(
                "fees_and_interest",
                customer={"customer_id": customer_id, "language": "en", **personal},
                summary=f"Charged penalty interest {tag}",
                description=description,
            )
        )
        await status_once(intake.handle(result.complaint_id), {Status.IN_HANDLING})
        # The worker and the client read it in clear (the query's answer is decrypted).
        assert (await intake.status(result.complaint_id)).snapshot.complaint_id == result.complaint_id
        address = client.service_client.config.target_host
        show = ["workflow", "show", "--workflow-id", result.workflow_id, "--output", "json", "--address", address]

        code, raw, err = await temporal_cli(*show)
        assert code == 0, err
        history = json.loads(raw)
        found = "\n".join(texts(history))
        for field, value in {**personal, "description": description}.items():
            assert value not in found, f"{field} in clear in the raw history"
        # The Web UI's summary and details are encrypted payloads too; search attributes stay in clear.
        started = history["events"][0]["workflowExecutionStartedEventAttributes"]
        metadata = history["events"][0]["userMetadata"]
        for part in ("summary", "details"):
            assert base64.b64decode(metadata[part]["metadata"]["encoding"]) == b"binary/encrypted", part
        assert customer_id in "\n".join(texts(started["searchAttributes"]))
        assert "binary/encrypted" in found and '"k1"' not in raw  # the key id travels, never a key
        assert base64.b64encode(ring.keys["k1"]).decode() not in raw

        async with codec_server(ring, engine, ui_origin="http://127.0.0.1:1") as url:
            # Through the codec server with a staff credential (`--codec-auth`): decoded.
            token = make_token(ring.login_secret, "S-MGR-001")
            code, decoded, err = await temporal_cli(*show, "--codec-endpoint", url, "--codec-auth", f"Bearer {token}")
            assert code == 0, err
            clear = "\n".join(texts(json.loads(decoded)))
            for field, value in personal.items():
                assert value in clear, f"{field} not decoded through the codec server"
            # Without a credential, or as someone who has left, the codec server decodes nothing.
            for auth in ([], ["--codec-auth", f"Bearer {make_token(ring.login_secret, 'S-NOBODY-1')}"]):
                code, out, err = await temporal_cli(*show, "--codec-endpoint", url, *auth)
                assert personal["name"] not in out
                assert code != 0 or personal["name"] not in "\n".join(texts(json.loads(out or "{}")))


async def test_an_unreadable_staff_directory_lets_no_one_in(tmp_path: Path) -> None:
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no staff table (the worker has not migrated yet)
    app = build_app(CodecServer(ring=RING, ui_origin=UI, is_active_staff=staff_directory_check(empty)))
    async with TestClient(TestServer(app)) as http:
        answer = await http.post("/decode", data=await sealed_payloads(), headers=bearer("S-MGR-001"))
        assert answer.status == 401
        assert "staff directory cannot be read" in (await answer.json())["error"]
        login = await http.get("/login", params={"token": make_token(SECRET, "S-MGR-001")})
        assert login.status == 401
