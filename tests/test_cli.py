"""The `complaints` console script in a subprocess, against the real dev server and database."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from complaints.config import PROJECT_ROOT
from models.complaint import Status
from tests.conftest import COMPRESSED_POLICY, Service
from tests.factories import intake_payload
from tests.helpers import outcome_on_complaint, projected, status_once

CLI = str(Path(sys.executable).parent / "complaints")


async def cli(service: Service, *args: str, address: str | None = None) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "COMPLAINTS_TEMPORAL_ADDRESS": address or service.client.service_client.config.target_host,
        "COMPLAINTS_DATABASE_URL": service.engine.url.render_as_string(hide_password=False),
        "COMPLAINTS_POLICY": str(COMPRESSED_POLICY),
    }
    proc = await asyncio.create_subprocess_exec(
        CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=PROJECT_ROOT
    )
    out, err = await proc.communicate()
    return proc.returncode, out.decode(), err.decode()


async def cli_json(service: Service, *args: str) -> Any:
    code, out, err = await cli(service, *args, "--json")
    assert code == 0, err
    return json.loads(out)


async def filed(service: Service, category: str, **overrides: Any) -> tuple[str, str, str]:
    payload = intake_payload(category, **overrides)
    result = await service.intake.file(payload)
    state = await status_once(service.intake.handle(result.complaint_id), {Status.IN_HANDLING})
    await projected(service.engine, result.complaint_id, "assigned")
    return result.complaint_id, state.snapshot.assignee, payload["customer"]["customer_id"]


async def test_a_simple_complaint_worked_entirely_through_the_cli(service: Service) -> None:
    cid, handler, customer = await filed(service, "fees_and_interest")

    [row] = await cli_json(service, "list", "--search", customer)
    assert (row["complaint_id"], row["status"], row["tier"], row["assignee"]) == (cid, "in_handling", "simple", handler)
    assert datetime.fromisoformat(row["next_deadline"]).tzinfo is not None and "T" in row["next_deadline"]
    assert cid in [r["complaint_id"] for r in await cli_json(service, "mine", "--as", handler)]

    steps = [
        (
            "findings",
            cid,
            "--as",
            handler,
            "--summary",
            "Paid on time; penalty charged in error",
            "--amount",
            "8600",
            "--evidence",
            f"dms://statements/oct.pdf#sha256={'b' * 64}",
        ),
        ("propose", cid, "--as", handler, "--explanation", "Refund of the penalty interest", "--fee-refund", "8600"),
        ("approve", cid, "--as", "S-MGR-001", "--reason", "Checked the statement"),
        ("customer-answer", cid, "--as", handler, "--accepted", "--comments", "Thanks"),
    ]
    results = [await cli_json(service, *step) for step in steps]

    assert [r["status"] for r in results] == [
        "in_handling",
        "awaiting_approval",
        "awaiting_customer_answer",
        "follow_up",
    ]
    await projected(service.engine, cid, "follow_up_scheduled")
    case = await cli_json(service, "show", cid)
    assert case["complaint"]["status"] == "follow_up"
    assert case["complaint"]["findings"][0]["evidence"][0]["uri"] == "dms://statements/oct.pdf"
    assert [e["kind"] for e in case["timeline"]][-2:] == ["resolved", "follow_up_scheduled"]
    assert {"acknowledgement", "resolution_proposal", "final_response"} <= {n["kind"] for n in case["notifications"]}
    code, text, _ = await cli(service, "show", cid)
    assert code == 0 and "Timeline" in text and "final_response" in text and "Refund of the penalty interest" in text
    version = case["complaint"]["classification"]["policy_version"]
    assert re.search(rf"policy_version={re.escape(version)}\s", text), "the timeline shows the policy version whole"


async def test_list_filters_by_tier_and_breach(service: Service) -> None:
    cid, _, customer = await filed(service, "privacy", staff_misconduct_alleged=True)

    assert [r["complaint_id"] for r in await cli_json(service, "list", "--search", customer, "--tier", "major")] == [
        cid
    ]
    assert await cli_json(service, "list", "--search", customer, "--tier", "simple") == []
    assert await cli_json(service, "list", "--search", customer, "--overdue-within", "1") != []
    code, out, _ = await cli(service, "list", "--search", customer)
    assert code == 0 and cid in out and "major" in out


async def test_the_workflow_refuses_the_wrong_role(service: Service) -> None:
    cid, handler, _ = await filed(service, "contract_dispute")

    code, out, err = await cli(service, "legal-evaluation", cid, "--as", handler, "--opinion", "Looks fine to me")

    assert code == 1 and out == ""
    assert err.strip() == (
        f"refused: legal evaluation of {cid} refused: {handler} is handler; to record a legal evaluation takes legal"
    )


async def test_an_unknown_staff_member_exits_3_as_the_readme_says(service: Service) -> None:
    cid, handler, _ = await filed(service, "contract_dispute")

    code, out, err = await cli(service, "legal-evaluation", cid, "--as", "S-FORGED", "--opinion", "x")
    assert (code, out) == (3, "")
    assert err.strip() == (
        f"error: legal evaluation of {cid} refused: S-FORGED is not an active member of the staff directory"
    )
    code, _, err = await cli(service, "assign", cid, "--as", "S-MGR-001", "--handler", "S-NOBODY")
    assert code == 3 and "S-NOBODY is not an active member of the staff directory" in err
    for command in (["mine"], ["escalate", cid, "--reason", "x"], ["contact-note", cid, "--note", "x"]):
        code, _, err = await cli(service, *command, "--as", "S-FORGED")
        assert (code, err.strip()) == (3, "error: no staff member S-FORGED in the staff directory"), command
    code, _, err = await cli(service, "legal-evaluation", cid, "--as", handler, "--opinion", "x")
    assert code == 1, "a known staff member in the wrong role is refused, not unknown"


async def test_the_cli_asks_for_the_workers_database_instead_of_creating_one(tmp_path: Path) -> None:
    missing, empty = tmp_path / "nowhere.db", tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    for path, problem in ((missing, "(the file does not exist)"), (empty, "has no complaints tables")):
        url = f"sqlite:///{path}"
        env = {**os.environ, "COMPLAINTS_DATABASE_URL": url, "COMPLAINTS_TEMPORAL_ADDRESS": "127.0.0.1:1"}
        proc = await asyncio.create_subprocess_exec(
            CLI, "mine", "--as", "S-HND-001", stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path
        )
        _, err = await proc.communicate()
        message = " ".join(err.decode().split())
        assert proc.returncode == 4, message
        assert problem in message and "set COMPLAINTS_DATABASE_URL to the URL the worker uses" in message
    assert not missing.exists(), "no empty database was created"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["propose", "CMP-ANY", "--as", "S-HND-001", "--explanation", "x", "--compensation", "-5"],
            "--compensation -5 CNY: amount: Input should be greater than 0",
        ),
        (["propose", "CMP-ANY", "--explanation", "x"], "Missing option '--as'"),
        (["list", "--tier", "huge"], "Invalid value for '--tier'"),
        (
            ["findings", "CMP-ANY", "--as", "S-HND-001", "--summary", "x", "--evidence", "no-hash"],
            "--evidence 'no-hash': write it as URI#sha256=<64 hex digits>",
        ),
    ],
)
async def test_bad_arguments_exit_2_with_a_sentence(service: Service, args: list[str], message: str) -> None:
    code, _, err = await cli(service, *args)
    assert code == 2
    assert message in " ".join(err.split())


async def test_unknown_complaint_and_unreachable_server(service: Service) -> None:
    code, _, err = await cli(service, "show", "CMP-000000000000")
    assert (code, err.strip()) == (3, "error: no complaint CMP-000000000000")
    code, _, err = await cli(service, "approve", "CMP-000000000000", "--as", "S-MGR-001")
    assert code == 3
    code, _, err = await cli(service, "list", address="127.0.0.1:1")
    assert code == 4 and "no Temporal server reachable at 127.0.0.1:1" in err


async def test_escalate_is_fire_and_forget_and_shows_in_the_case_file(service: Service) -> None:
    cid, handler, _ = await filed(service, "other")

    code, out, _ = await cli(
        service, "escalate", cid, "--as", handler, "--reason", "Customer mentions a lawsuit", "--to-tier", "major"
    )

    assert code == 0 and "escalation sent" in out
    await projected(service.engine, cid, "escalated")
    case = await cli_json(service, "show", cid)
    assert case["complaint"]["classification"]["tier"] == "major"
    assert case["complaint"]["escalations"][0]["reason"] == "Customer mentions a lawsuit"


async def test_follow_up_and_closure_through_the_cli(service: Service) -> None:
    cid, handler, customer = await filed(service, "fees_and_interest")
    for step in [
        ("propose", cid, "--as", handler, "--explanation", "Refund", "--fee-refund", "100"),
        ("approve", cid, "--as", "S-MGR-001"),
        ("customer-answer", cid, "--as", handler, "--accepted"),
    ]:
        await cli_json(service, *step)
    case = await cli_json(service, "show", cid)
    caller = case["complaint"]["follow_up"]["caller"]
    assert cid in [r["complaint_id"] for r in await cli_json(service, "mine", "--as", caller)], (
        "the caller holds it now"
    )

    code, _, err = await cli(service, "root-cause", cid, "--as", handler, "--code", "vibes", "--text", "x")
    assert code == 1 and "unknown root cause 'vibes'" in err
    await cli_json(service, "root-cause", cid, "--as", handler, "--code", "pricing_error", "--text", "Old fee table")
    await cli_json(service, "contact-note", cid, "--as", handler, "--note", "Customer called to say thanks")
    result = await cli_json(
        service,
        "follow-up-call",
        cid,
        "--as",
        caller,
        "--reached",
        "--satisfaction",
        "5",
        "--remedy-delivered",
        "--comments",
        "All good",
    )

    assert result["status"] == "closed"
    await projected(service.engine, cid, "closed")
    code, text, _ = await cli(service, "show", cid)
    assert code == 0 and "Root cause   pricing_error" in text and "Closed" in text and "satisfaction 5" in text
    closed = await cli_json(service, "list", "--closed", "--status", "closed", "--search", customer)
    assert [(r["complaint_id"], r["status"], r["running"]) for r in closed] == [(cid, "closed", False)]
    assert await cli_json(service, "list", "--search", customer) == [], "closed complaints are not listed by default"


async def test_every_handling_command_through_the_cli(service: Service, tmp_path: Path) -> None:
    named_cid, _, _ = await filed(service, "service_attitude")  # names S-RM-007, who the investigation will name
    cid, _, _ = await filed(service, "privacy", staff_misconduct_alleged=True)
    h = "S-HND-003"
    before_outcome = [
        (
            ("assign", cid, "--as", "S-MGR-001", "--handler", h, "--team", "S-LEG-001", "--reason", "privacy skills"),
            "in_handling",
        ),
        (("request-info", cid, "--as", h, "--what", "The competitor's letter"), "awaiting_customer_info"),
        (("info-received", cid, "--as", h, "--note", "Letter received"), "in_handling"),
        (("legal-evaluation", cid, "--as", "S-LEG-001", "--opinion", "Likely PIPL breach"), "in_handling"),
        (("manager-evaluation", cid, "--as", "S-MGR-001", "--opinion", "Apologise and compensate"), "in_handling"),
        (("loss", cid, "--as", "S-FIN-001", "--amount", "0", "--method", "No direct financial loss"), "in_handling"),
    ]
    for args, status in before_outcome:
        result = await cli_json(service, *args)
        assert result["status"] == status, (args[0], result)

    call_log = tmp_path / "call-log.txt"
    call_log.write_text("14:02 RM forwards KYC file to competitor", encoding="utf-8")
    code, _, err = await cli(service, "open-investigation", cid, "--as", "S-CMP-001", "--scope", "x")
    assert code == 1 and "runs as its own workflow" in err
    code, _, err = await cli(
        service, "investigation", "accountability", cid, "--as", "S-CMP-001", "--decision", "warning", "--reason", "x"
    )
    assert code == 1 and "S-CMP-001 is compliance; to decide 'warning' takes senior_manager" in err
    code, _, err = await cli(
        service, "investigation", "accountability", cid, "--as", "S-SM-001", "--decision", "warning", "--reason", "x"
    )
    assert code == 1 and "record at least one finding" in err
    investigation = [
        ("finding", cid, "--as", "S-CMP-001", "--summary", "RM forwarded the KYC file"),
        ("evidence", cid, "--as", "S-CMP-001", "--file", str(call_log), "--description", "Call log"),
        ("evidence", cid, "--as", "S-CMP-002", "--ref", "dms://mail/7781#sha256=" + "ab" * 32),
        ("responsible", cid, "--as", "S-CMP-001", "--staff", "S-RM-007", "--reason", "Sent the file"),
        ("accountability", cid, "--as", "S-SM-001", "--decision", "disciplinary", "--reason", "Deliberate"),
    ]
    for args in investigation:
        result = await cli_json(service, "investigation", *args)
        assert result["stage"] == "investigating", (args[0], result)
    desk = await cli_json(service, "mine", "--as", "S-CMP-001")
    assert {(r["complaint_id"], r["kind"], r["status"]) for r in desk} >= {(cid, "investigation", "investigating")}
    flagged = await cli_json(service, "investigation", "flag", cid, "--as", "S-CMP-001", "--staff", "S-RM-007")
    assert named_cid in {f["complaint_id"] for f in flagged["flagged"]}
    concluded = await cli_json(
        service,
        "investigation",
        "conclude",
        cid,
        "--as",
        "S-CMP-001",
        "--summary",
        "The RM forwarded the file; disciplinary action",
    )
    assert concluded["stage"] == "investigation_concluded"
    code, text, _ = await cli(service, "investigation", "show", cid)
    assert code == 0 and "Decision     disciplinary: Deliberate" in text and "call-log.txt" in text
    await outcome_on_complaint(service, cid)
    code, _, err = await cli(service, "investigation", "show", named_cid)
    assert code == 3 and "is it a major complaint?" in err
    code, text, _ = await cli(service, "show", named_cid)
    assert code == 0 and "Review flag  S-RM-007 (named) implicated in investigation-" in text
    reviewed = await cli_json(
        service, "review-done", named_cid, "--as", "S-MGR-001", "--staff", "S-RM-007", "--note", "Other cases checked"
    )
    assert "review of S-RM-007's part completed" in reviewed["message"]

    after_outcome = [
        (("feedback", cid, "--as", h, "--message", "The investigation has concluded."), "in_handling"),
        (("extend", cid, "--as", "S-MGR-001", "--reason", "Waiting for the regulator"), "in_handling"),
        (("reapply-policy", cid, "--as", "S-MGR-001", "--reason", "Quarterly review"), "in_handling"),
        (("propose", cid, "--as", h, "--explanation", "Apology", "--compensation", "3000"), "awaiting_approval"),
        (("reject", cid, "--as", "S-MGR-001", "--reason", "Offer more"), "in_handling"),
        (
            ("propose", cid, "--as", h, "--explanation", "Apology and more", "--compensation", "8000"),
            "awaiting_approval",
        ),
        (("approve", cid, "--as", "S-MGR-001"), "awaiting_customer_answer"),
        (("customer-answer", cid, "--as", h, "--rejected", "--comments", "Not enough"), "in_handling"),
    ]
    for args, status in after_outcome:
        result = await cli_json(service, *args)
        assert result["status"] == status, (args[0], result)
    result = await cli_json(service, "withdraw", cid, "--reason", "Settled in court", "--relayed-by", "call-centre")
    assert result["status"] == "withdrawn"
    kinds = [e["kind"] for e in (await cli_json(service, "show", cid))["timeline"]]
    for kind in (
        "information_requested",
        "information_received",
        "investigation_concluded",
        "deadline_extended",
        "policy_reapplied",
        "resolution_rejected_internally",
        "resolution_rejected_by_customer",
    ):
        assert kind in kinds


async def test_look_back_commands_through_the_cli(service: Service) -> None:
    cid, h, _ = await filed(service, "fees_and_interest")
    for args in [
        ("mark-look-back", cid, "--as", "S-MGR-001", "--reason", "Key account"),
        ("propose", cid, "--as", h, "--explanation", "Refund", "--fee-refund", "50"),
        ("approve", cid, "--as", "S-MGR-001"),
        ("customer-answer", cid, "--as", h, "--accepted"),
        ("root-cause", cid, "--as", h, "--code", "pricing_error", "--text", "Old fee table"),
    ]:
        await cli_json(service, *args)
    caller = (await cli_json(service, "show", cid))["complaint"]["follow_up"]["caller"]
    code, out, err = await cli(service, "follow-up-call", cid, "--as", caller, "--not-reached", "--json")
    assert code == 0 and "not reached (attempt 1)" in json.loads(out)["message"]
    moved = await cli_json(
        service, "follow-up-call", cid, "--as", caller, "--reached", "--satisfaction", "4", "--remedy-delivered"
    )
    assert moved["status"] == "look_back"
    adjusted = await cli_json(
        service, "adjust-look-back", cid, "--as", "S-MGR-001", "--revisits", "1", "--reason", "One check is enough"
    )
    assert adjusted["message"] == "look-back now 1 revisits (was 3)"
    for _ in range(50):  # the compressed policy opens the revisit 2 s after the resolution
        code, out, err = await cli(
            service, "look-back", cid, "--as", h, "--situation", "Refund visible", "--commitments-kept", "--json"
        )
        if code == 0:
            break
        assert "opens" in err
        await asyncio.sleep(0.3)
    assert code == 0 and json.loads(out)["status"] == "closed"
