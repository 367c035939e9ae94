"""The projection encrypted at rest (issue 16, part 3), through the real server, on SQLite and PostgreSQL.

A worker and the staff CLI that share a key ring (for Temporal's payloads and for the database)
work a complaint from intake to the follow-up call. Read with plain SQL, its rows hold no name,
e-mail, phone, address or free text; the CLI (`show`, `list --search` by name) shows them; the
analysis computes its figures. After a rotation old rows still read and new ones use the new key;
a ring without the old key fails naming it; a complaint projected before sealing reads as before.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import Client

from complaints.actions import ComplaintActions
from complaints.codec import read_key_file, rotate_key_ring
from complaints.config import PROJECT_ROOT
from db.analysis_facts import refresh
from db.sealing import sealing_with
from db.tables import Complaint, ComplaintClock
from domain.policy import PolicyStore
from models.actions import ContactNoteSignal
from models.complaint import Status
from tests.codec_support import encrypting_client, key_ring
from tests.conftest import COMPRESSED_POLICY
from tests.factories import intake_payload
from tests.helpers import event_kinds, eventually, own_worker, projected, status_once
from tests.sealing_support import own_engine, raw_rows, raw_text

CLI = str(Path(sys.executable).parent / "complaints")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from own_engine(request.param, tmp_path)


async def cli(client: Client, engine: Engine, keys: dict[str, str], *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTS_CODEC_KEYS")}
    env |= keys | {
        "COMPLAINTS_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "COMPLAINTS_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "COMPLAINTS_POLICY": str(COMPRESSED_POLICY),
    }
    proc = await asyncio.create_subprocess_exec(
        CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=PROJECT_ROOT
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def cli_json(client: Client, engine: Engine, keys: dict[str, str], *args: str) -> Any:
    code, out, err = await cli(client, engine, keys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


async def test_a_complaint_leaves_no_personal_data_in_clear_and_the_cli_still_shows_it(
    client: Client, db: Engine, policies: PolicyStore, tmp_path: Path
) -> None:
    key_file, ring = key_ring(tmp_path)
    keys = {"COMPLAINTS_CODEC_KEYS_FILE": str(key_file)}
    secure = encrypting_client(client, key_file)
    tag = uuid.uuid4().hex[:6]
    personal = {
        "name": f"Shangguan Sealfeng {tag}",
        "company": f"Sealfeng Valves {tag} Ltd",
        "email": f"shangguan.{tag}@sealfeng.example",
        "phone": f"+86 571 8888 {int(tag, 16) % 10000:04d}",
        "postal_address": f"9 Sealfeng Lane {tag}, Hangzhou",
    }
    words = {
        "findings": f"Paid on time {tag}; penalty charged in error",
        "explanation": f"Refund of the penalty interest {tag}",
        "approval": f"Checked the statement {tag}",
        "comments": f"Thank you, glad it is sorted {tag}",
        "note": f"Ms Shangguan rang about the refund {tag}",
        "evidence": f"dms://statements/{tag}.pdf",
    }
    before = f"Dongfang Clearwen {tag}"
    with sealing_with(ring, db):
        async with own_worker(secure, db, policies, prefix="sealed") as intake:
            with sealing_with(None, db):  # projected before sealing was on: its first rows in clear
                early = await intake.file(
                    intake_payload(
                        customer={
                            "customer_id": f"C-B{tag}",
                            "language": "en",
                            "name": before,
                            "email": f"b{tag}@x.example",
                        }
                    )
                )
                await projected(db, early.complaint_id, "received")
            filed = await intake.file(
                intake_payload(
                    customer={"customer_id": f"C-S{tag}", "language": "en", **personal},
                    summary=f"Charged penalty interest {tag}",
                    description=f"Penalty interest charged on {tag} although paid on time",
                )
            )
            cid = filed.complaint_id
            state = await status_once(intake.handle(cid), {Status.IN_HANDLING})
            handler = state.snapshot.assignee
            assert handler
            steps = [
                ("findings", cid, "--as", handler, "--summary", words["findings"], "--amount", "8600"),
                ("propose", cid, "--as", handler, "--explanation", words["explanation"], "--fee-refund", "8600"),
                ("approve", cid, "--as", "S-MGR-001", "--reason", words["approval"]),
                ("customer-answer", cid, "--as", handler, "--accepted", "--comments", words["comments"]),
            ]
            steps[0] += ("--evidence", f"{words['evidence']}#sha256={'b' * 64}")
            for step in steps:
                await cli_json(client, db, keys, *step)
            await ComplaintActions(secure).note_customer_contact(
                cid, ContactNoteSignal(actor=handler, note=words["note"])
            )
            await projected(db, cid, "follow_up_scheduled")
            await projected(db, cid, "customer_contact")
            await projected(db, early.complaint_id, "assigned")

            # The disk: ciphertext for every name, contact and word anyone wrote; structure in clear.
            rows = raw_rows(db, cid)
            stored = raw_text(rows)
            for what, value in {**personal, **words, "summary": f"Charged penalty interest {tag}"}.items():
                assert value not in stored, f"{what} in clear in the database"
            assert "Shangguan" not in stored and "sealfeng" not in stored.lower()
            assert "sealed:v1:k1:" in stored and f"C-S{tag}" in stored  # the customer id is a business key
            assert {"resolved", "follow_up_scheduled", "customer_contact"} <= {
                e["kind"] for e in rows["complaint_events"]
            }
            assert rows["outbox"] and all(m["recipient"].startswith("sealed:v1:k1:") for m in rows["outbox"])

            # The CLI reads it all back: the case file's timeline and notifications, and the name search.
            case = await cli_json(client, db, keys, "show", cid)
            details = json.dumps([e["detail"] for e in case["timeline"]], ensure_ascii=False)
            for what in ("findings", "approval", "comments", "note"):
                assert words[what] in details, what
            assert personal["email"] in {n["recipient"] for n in case["notifications"]}
            [listed] = await cli_json(client, db, keys, "list", "--search", f"sealfeng {tag}")
            assert (listed["complaint_id"], listed["customer_name"]) == (cid, personal["name"])
            code, text, err = await cli(client, db, keys, "show", cid)
            assert code == 0 and words["comments"] in text and personal["email"] in text, err
            [old] = await cli_json(client, db, keys, "list", "--search", "Dongfang Clearwen " + tag)
            assert (old["complaint_id"], old["customer_name"]) == (early.complaint_id, before)
            assert before in raw_text(raw_rows(db, early.complaint_id)), "its first row stays as it was written"

            # The analysis derives its figures from the sealed log's structural members.
            refresh(db)
            with Session(db) as session:
                row = session.get(Complaint, cid)
                assert row is not None and row.facts_seq == row.last_seq
                assert row.remedy_paid == Decimal("8600.00") and row.resolved_at is not None
                names = set(session.exec(select(ComplaintClock.name).where(ComplaintClock.complaint_id == cid)))
            assert {"acknowledgement", "regulatory_decision", "follow_up"} <= names

            # Rotation: new rows use the new key; the old ones still read.
            rotated = rotate_key_ring(key_file)
            with sealing_with(rotated, db):
                again = f"Second call about the refund {tag}"
                await ComplaintActions(secure).note_customer_contact(cid, ContactNoteSignal(actor=handler, note=again))

                async def noted_twice() -> bool:
                    return event_kinds(db, cid).count("customer_contact") == 2

                await eventually(noted_twice, what="the second contact note in the database")
                assert "sealed:v1:k2:" in raw_text(raw_rows(db, cid)) and again not in raw_text(raw_rows(db, cid))
                case = await cli_json(client, db, keys, "show", cid)
                notes = [e["detail"].get("note") for e in case["timeline"] if e["kind"] == "customer_contact"]
                assert notes == [words["note"], again]

    # A ring without the old key: the CLI names the key it lacks, and shows nothing.
    only_new = base64.b64encode(read_key_file(key_file).keys["k2"]).decode()
    code, out, err = await cli(client, db, {"COMPLAINTS_CODEC_KEYS": f"k2:{only_new}"}, "list", "--search", "sealfeng")
    assert code != 0 and "'k1'" in err and personal["name"] not in out + err
