"""File a realistic mix of complaints and work them through the staff CLI, so that within a
few minutes the Web UI shows every tier and stage, a breach and its escalation, and
accepted resolutions.

    make demo          # uses the server of `make run` if it is up, else starts one

It runs its own worker on task queue `complaints-demo` with the compressed policy (seconds
instead of days) and keeps it running until Ctrl-C, so the clocks keep firing.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from complaints.config import PROJECT_ROOT, Settings
from complaints.devserver import dev_server_command
from complaints.intake import ComplaintIntakeClient, FilingOutcome
from complaints.keys import set_up_demo_keys
from complaints.temporal import TemporalUnreachable, connect, exit_process
from db.engine import make_engine, migrate
from db.seed import seed_staff_directory
from models.complaint import Status

TASK_QUEUE = "complaints-demo"
POLICY = PROJECT_ROOT / "policies" / "compressed.yaml"
CLI = str(Path(sys.executable).parent / "complaints")
UI = "http://localhost:8233/namespaces/default/workflows"
RUN = datetime.now().strftime("%H%M%S")


def web_ui_queries(now: float) -> dict[str, str]:
    """The Web UI views the demo ends with; statuses come from ``Status``, so each one exists."""
    day_ahead = datetime.fromtimestamp(now + 86400, UTC).isoformat()
    return {
        "every open complaint": 'WorkflowType="ComplaintWorkflow" AND ExecutionStatus="Running"',
        "major ones": 'ComplaintTier="major"',
        "breached ones": "ComplaintSlaBreached=true",
        "investigations": 'WorkflowType="InvestigationWorkflow"',
        "under review": "ComplaintUnderReview=true",
        "due within a day": f'ComplaintNextDeadline < "{day_ahead}"',
        "held by S-HND-001": 'ComplaintAssignee="S-HND-001"',
        "awaiting the customer": f'ComplaintStatus="{Status.AWAITING_CUSTOMER_ANSWER.value}"',
        "follow-up, look-back": f'ComplaintStatus IN ("{Status.FOLLOW_UP.value}", "{Status.LOOK_BACK.value}")',
        "closed": f'ComplaintStatus="{Status.CLOSED.value}"',
    }


def say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def complaint(
    ref: str,
    category: str,
    details: dict[str, Any],
    customer: dict[str, Any],
    summary: str,
    description: str,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "source_system": extra.pop("source_system", "call-centre"),
        "source_reference": f"DEMO-{RUN}-{ref}",
        "channel": extra.pop("channel", "phone"),
        "received_at": datetime.now(UTC).isoformat(),
        "customer": customer,
        "summary": summary,
        "description": description,
        "details": {"category": category, **details},
        **extra,
    }


def the_mix() -> dict[str, dict[str, Any]]:
    case = json.loads((PROJECT_ROOT / "examples" / "case_study.json").read_text(encoding="utf-8"))
    case = copy.deepcopy(case) | {
        "source_reference": f"DEMO-{RUN}-CASE",
        "received_at": datetime.now(UTC).isoformat(),
    }
    return {
        "case_study": case,
        "fee_refund": complaint(
            "FEE",
            "fees_and_interest",
            {
                "contract_number": "CL-2024-1188",
                "charge_type": "penalty_interest",
                "amount_disputed": {"amount": "8600.00"},
            },
            {
                "customer_id": "C-200117",
                "name": "Liu Min",
                "company": "Liu Min Trading Co.",
                "language": "en",
                "email": "liu.min@trading.example",
            },
            "Penalty interest charged although the instalment was paid on time",
            "The October instalment left our account on the due date; penalty interest was still charged.",
            channel="web_platform",
            source_system="online-platform",
        ),
        "rude_rm": complaint(
            "RUDE",
            "service_attitude",
            {"staff_id": "S-RM-007", "location": "Pudong branch"},
            {"customer_id": "C-300901", "name": "王芳 Wang Fang", "language": "zh", "phone": "+86 138 0013 8000"},
            "客户经理态度恶劣，两次挂断电话",
            "提款申请期间，客户经理赵磊两次挂断电话，并拒绝说明进度。",
        ),
        "clause_dispute": complaint(
            "CLAUSE",
            "contract_dispute",
            {
                "contract_number": "EL-2025-0333",
                "claims": ["Waive the balloon payment penalty"],
                "amounts_in_dispute": [{"amount": "120000.00"}],
            },
            {
                "customer_id": "C-410022",
                "name": "Chen Hua",
                "company": "Chen Hua Logistics Ltd",
                "language": "en",
                "email": "chen.hua@logistics.example",
            },
            "Balloon payment penalty not in the signed schedule",
            "The penalty appears in clause 9 only.",
            channel="email",
            source_system="email-gateway",
        ),
        "collector_threats": complaint(
            "THREAT",
            "repayment_collection",
            {
                "contract_number": "CL-2023-0042",
                "practice": "threats",
                "last_contact_at": datetime.now(UTC).isoformat(),
            },
            {
                "customer_id": "C-520310",
                "name": "赵强 Zhao Qiang",
                "company": "强盛五金厂",
                "phone": "+86 139 0000 1234",
            },
            "催收人员威胁上门",
            "催收人员威胁每天到工厂门口等候，并联系了我们的供应商。",
            channel="app",
            source_system="mobile-app",
        ),
        "leaked_ids": complaint(
            "PRIVACY",
            "privacy",
            {"data_involved": ["shareholder ID numbers"], "disclosed_to": "a competitor"},
            {"customer_id": "C-630077", "name": "Sun Yue", "language": "en", "email": "sun.yue@example.com"},
            "Our shareholders' ID numbers reached a competitor",
            "We believe a staff member forwarded our KYC file.",
            staff_misconduct_alleged=True,
            channel="letter",
            source_system="mailroom",
        ),
        "schedule_defect": complaint(
            "PRODUCT",
            "product_design",
            {"product_code": "EQUIP-LEASE-3Y", "defect": "Balloon payment not shown in the repayment schedule"},
            {"customer_id": "C-740551", "name": "Zhou Lan", "language": "en", "email": "zhou.lan@example.com"},
            "Lease schedule hides the final balloon payment",
            "The schedule shows 35 equal payments and nothing else.",
        ),
        "unanswered": complaint(
            "WAIT",
            "other",
            {},
            {"customer_id": "C-850002", "name": "He Jun", "language": "zh", "phone": "+86 137 0000 5678"},
            "网点排队两小时无人处理",
            "周五下午在网点等待两小时，无人接待。",
            channel="in_person",
            source_system="branch",
        ),
        "withdrawn": complaint(
            "WITHDRAW",
            "fees_and_interest",
            {"contract_number": "CL-2022-0901", "charge_type": "service_fee", "amount_disputed": {"amount": "300.00"}},
            {"customer_id": "C-960120", "name": "Ma Li", "language": "en", "email": "ma.li@example.com"},
            "Service fee charged twice",
            "The account service fee appears twice on the statement.",
        ),
    }


def cli(*args: str, allow_refusal: bool = False) -> str:
    print("$ .venv/bin/complaints " + " ".join(shlex.quote(a) for a in args), flush=True)
    env = {**os.environ, "COMPLAINTS_POLICY": str(POLICY)}
    done = subprocess.run([CLI, *args], capture_output=True, text=True, env=env)
    text = (done.stdout + done.stderr).strip()
    print("  " + text.replace("\n", "\n  "), flush=True)
    if done.returncode and not (allow_refusal and done.returncode == 1):
        raise SystemExit(f"demo stopped: `complaints {args[0]}` exited {done.returncode}")
    return text


async def wait_assigned(intake: ComplaintIntakeClient, cid: str, worker: subprocess.Popen[bytes]) -> str:
    for _ in range(300):
        if worker.poll() is not None:
            raise SystemExit(f"demo stopped: the demo worker exited with {worker.returncode}")
        state = await intake.status(cid)
        if state.snapshot.status == Status.IN_HANDLING:
            return state.snapshot.assignee or ""
        await asyncio.sleep(0.2)
    raise SystemExit(f"demo stopped: {cid} was never assigned")


async def main() -> None:
    settings = Settings()
    server = None
    try:
        client = await connect(settings)
        say(f"Using the Temporal server at {settings.temporal_address} (from `make run`)")
    except TemporalUnreachable:
        say("No Temporal server answered; starting one (state in .data/, Web UI on :8233)")
        db_file = PROJECT_ROOT / ".data" / "temporal.db"
        db_file.parent.mkdir(exist_ok=True)
        server = subprocess.Popen(dev_server_command(db_file), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = await connect(settings, wait_seconds=60)

    # The demo's staff sign their actions: a key for each in your configuration directory,
    # registered in the demo's database (what `make run` does with `complaints keys demo`).
    migrate(settings.database_url)
    demo_db = make_engine(settings.database_url)
    seed_staff_directory(demo_db, settings.staff_directory_file)
    set_up_demo_keys(demo_db)
    worker = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "worker.py")],
        env={
            **os.environ,
            "COMPLAINTS_TASK_QUEUE": TASK_QUEUE,
            "COMPLAINTS_POLICY": str(POLICY),
            "COMPLAINTS_LOG_LEVEL": "WARNING",
            # The compressed catalogue's "30 days" to train is 20 s: joining training would make
            # every demo handler overdue before the complex complaints are routed.
            "COMPLAINTS_JOINING_TRAINING": "false",
            # Its schedules would run on the compressed policy against the shared .data database
            # (a retention sweep after 10 minutes, among others): `make run`'s worker owns them.
            "COMPLAINTS_REPORT_SCHEDULES": "false",
        },
    )
    try:
        await run_demo(client, worker)
        print("\nThe demo worker keeps running so the clocks keep firing. Ctrl-C stops it.", flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        if server:
            server.terminate()
            server.wait(timeout=30)


async def until_outcome_on_file(intake: ComplaintIntakeClient, cid: str) -> None:
    """The investigation's outcome reaches the complaint a moment after it concludes."""
    for _ in range(100):
        inv = (await intake.status(cid)).snapshot.investigation
        if inv is not None and inv.outcome is not None:
            return
        await asyncio.sleep(0.2)
    raise SystemExit(f"the investigation outcome never reached {cid}")


async def run_demo(client: Any, worker: subprocess.Popen[bytes]) -> None:
    intake = ComplaintIntakeClient(client, task_queue=TASK_QUEUE)
    say("Intake systems file a mix of complaints (compressed policy: seconds instead of days)")
    ids: dict[str, str] = {}
    for name, payload in the_mix().items():
        result = await intake.file(payload)
        assert result.outcome == FilingOutcome.FILED, result.errors
        ids[name] = result.complaint_id
        print(f"  filed {result.complaint_id}  {name}", flush=True)
    handlers = {name: await wait_assigned(intake, cid, worker) for name, cid in ids.items()}
    cli("list")

    # First: the compressed decision clock is 90 s, and the flows below take longer than that.
    say("A product-design complaint is escalated; the decision deadline is extended with approval")
    c, h = ids["schedule_defect"], handlers["schedule_defect"]
    cli("extend", c, "--as", "S-MGR-001", "--reason", "Product team must review the schedule template")
    cli("escalate", c, "--as", h, "--reason", "Other lessees have the same schedule", "--to-tier", "major")

    say("A simple complaint: findings, a refund proposal, the manager's approval, the customer accepts")
    c, h = ids["fee_refund"], handlers["fee_refund"]
    cli(
        "findings",
        c,
        "--as",
        h,
        "--summary",
        "Instalment arrived on the due date; penalty charged in error",
        "--amount",
        "8600",
        "--evidence",
        "dms://statements/2026-10.pdf#sha256=" + "a" * 64,
    )
    cli(
        "propose",
        c,
        "--as",
        h,
        "--explanation",
        "The penalty interest was charged in error and is refunded.",
        "--fee-refund",
        "8600",
    )
    cli("approve", c, "--as", "S-HND-002", allow_refusal=True)
    cli("approve", c, "--as", "S-MGR-001", "--reason", "Statement checked")
    cli("customer-answer", c, "--as", h, "--accepted", "--comments", "Thank you")

    say("The service-attitude complaint names a relationship manager: apology and coaching")
    c, h = ids["rude_rm"], handlers["rude_rm"]
    cli("show", c)
    cli(
        "propose", c, "--as", h, "--explanation", "我们诚恳致歉；该客户经理已接受服务礼仪培训，今后由主管跟进您的业务。"
    )
    cli("approve", c, "--as", "S-MGR-001")
    cli("customer-answer", c, "--as", h, "--accepted")

    say("The case study: several regulators, a special team, legal + finance + senior manager")
    c = ids["case_study"]
    cli(
        "assign",
        c,
        "--as",
        "S-MGR-002",
        "--handler",
        "S-HND-001",
        "--team",
        "S-LEG-001",
        "--team",
        "S-FIN-001",
        "--team",
        "S-SM-001",
        "--reason",
        "special team",
    )
    cli("investigation", "show", c)  # started by itself when the complaint was classified major
    cli(
        "legal-evaluation",
        c,
        "--as",
        "S-LEG-001",
        "--opinion",
        "Clause 7.3 is ambiguous; read it in the customer's favour",
        "--clause-revision",
        "7.3: prepayment fee is 1% of the amount prepaid",
    )
    cli(
        "loss",
        c,
        "--as",
        "S-FIN-001",
        "--amount",
        "186000",
        "--method",
        "Fee charged minus fee at 1%, plus funding cost",
    )
    cli(
        "investigation",
        "finding",
        c,
        "--as",
        "S-CMP-001",
        "--summary",
        "Clause 7.3 was drafted with two readings; sales staff explained the lower fee in good faith",
    )
    cli(
        "investigation",
        "evidence",
        c,
        "--as",
        "S-CMP-001",
        "--ref",
        "dms://contracts/PF-2025-0417/signed.pdf#sha256=" + "c" * 64,
        "--description",
        "Signed contract",
    )
    cli(
        "investigation",
        "accountability",
        c,
        "--as",
        "S-CMP-001",
        "--decision",
        "none",
        "--reason",
        "A drafting defect, not misconduct; the template is being fixed",
    )
    cli("investigation", "conclude", c, "--as", "S-CMP-001", "--summary", "Drafting defect, no misconduct")
    await until_outcome_on_file(intake, c)
    cli("manager-evaluation", c, "--as", "S-SM-001", "--opinion", "Meet the customer; revise and compensate")
    cli(
        "propose",
        c,
        "--as",
        "S-HND-001",
        "--explanation",
        "第7.3条将修订，并赔偿贵司实际损失。",
        "--compensation",
        "186000",
        "--contract-revision",
        "7.3: prepayment fee is 1% of the amount prepaid",
    )
    cli("approve", c, "--as", "S-MGR-001", allow_refusal=True)
    cli("approve", c, "--as", "S-SM-001", "--reason", "Met the customer in person")
    cli("customer-answer", c, "--as", "S-HND-001", "--accepted", "--comments", "Accepted at the meeting")

    say("A complex contract dispute: evaluations and first feedback; the proposal waits for the customer")
    c, h = ids["clause_dispute"], handlers["clause_dispute"]
    cli("feedback", c, "--as", h, "--message", "We are looking into it", allow_refusal=True)
    cli(
        "legal-evaluation",
        c,
        "--as",
        "S-LEG-001",
        "--opinion",
        "The penalty is not in the schedule the customer signed",
    )
    cli("manager-evaluation", c, "--as", "S-MGR-001", "--opinion", "Agree with legal")
    cli("feedback", c, "--as", h, "--message", "Legal has reviewed clause 9; a proposal follows shortly.")
    cli("propose", c, "--as", h, "--explanation", "We waive the balloon payment penalty.", "--fee-refund", "12000")
    cli("approve", c, "--as", "S-MGR-001")

    say("Collection threats (major): the investigation runs on its own; the handler asks for call recordings")
    c, h = ids["collector_threats"], handlers["collector_threats"]
    cli("investigation", "finding", c, "--as", "S-CMP-002", "--summary", "The agency called 14 times in October")
    cli("request-info", c, "--as", h, "--what", "Dates and times of the calls, and any recordings")

    say("Leaked ID numbers (major): compliance names the relationship manager; his other open complaint is flagged")
    c = ids["leaked_ids"]
    cli("investigation", "finding", c, "--as", "S-CMP-001", "--summary", "The RM e-mailed the shareholder register out")
    cli("investigation", "responsible", c, "--as", "S-CMP-001", "--staff", "S-RM-007", "--reason", "Sent the register")
    cli("investigation", "flag", c, "--as", "S-CMP-001", "--reason", "Named responsible for a data leak")

    say("One customer withdraws")
    cli("withdraw", ids["withdrawn"], "--reason", "Branch refunded the duplicate fee", "--relayed-by", "call-centre")

    say("After the decision: root causes, follow-up calls by a colleague, a reopening, the case study's look-back")
    callers = {
        name: (await intake.status(ids[name])).snapshot.follow_up.caller
        for name in ("fee_refund", "rude_rm", "case_study")
    }
    cli(
        "root-cause",
        ids["fee_refund"],
        "--as",
        handlers["fee_refund"],
        "--code",
        "pricing_error",
        "--text",
        "Fee table not updated after the October rate change",
    )
    cli(
        "follow-up-call",
        ids["fee_refund"],
        "--as",
        callers["fee_refund"],
        "--reached",
        "--satisfaction",
        "5",
        "--remedy-delivered",
        "--comments",
        "Refund arrived",
    )
    cli(
        "follow-up-call",
        ids["rude_rm"],
        "--as",
        callers["rude_rm"],
        "--reached",
        "--satisfaction",
        "2",
        "--remedy-delivered",
        "--comments",
        "The manager has not called me",
    )
    c = ids["case_study"]
    cli("root-cause", c, "--as", "S-HND-001", "--code", "contract_wording", "--text", "Clause 7.3 allowed two readings")
    cli("follow-up-call", c, "--as", callers["case_study"], "--reached", "--satisfaction", "4", "--remedy-delivered")
    for month, situation in enumerate(
        ["Contract amendment signed", "Compensation paid", "Next tranche drawn as planned"], 1
    ):
        await asyncio.sleep(2.5)  # the compressed policy's "month"
        cli("look-back", c, "--as", "S-HND-001", "--situation", f"Month {month}: {situation}", "--commitments-kept")
    cli("show", c)

    say(
        "Nobody concludes the leaked-ID investigation or works the queue complaint: "
        "clocks warn, breach, escalate (about 25 s)"
    )
    await asyncio.sleep(25)
    cli("list", "--breached")
    cli("investigation", "show", ids["leaked_ids"])
    cli("show", ids["rude_rm"])

    say("Where to look")
    for label, query in web_ui_queries(time.time()).items():
        print(f"  {label:<22} {UI}?query={quote(query)}", flush=True)
    print(
        f"  the case study          http://localhost:8233/namespaces/default/workflows/complaint-{ids['case_study']}"
        "  (tab 'User Metadata' for the case file)",
        flush=True,
    )
    print("  and from the shell:     .venv/bin/complaints list | show ID | mine --as S-HND-001", flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    exit_process(0)
