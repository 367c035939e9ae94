"""Retention in SQL (issue 16), on SQLite and PostgreSQL: one complaint's personal data erased in one
transaction, its statistics and audit skeleton kept, and a second pass changing nothing.

Each backend gets a database of this module's own, filled with closed complaints as the workflows
write them (a lean audit log with the free text staff and customers wrote, letters in the outbox,
an investigation with its file and log) and one older row whose case file is in ``snapshot``.
The periodic analysis, the team's scorecards and the four regulators' returns of the period are
computed before and after (the facts derived again from the redacted log): the same figures.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db import analysis_facts, retention, returns_queries, scorecards
from db.analysis_queries import compute_analysis
from db.tables import (
    Complaint,
    ComplaintEventRow,
    InvestigationEventRow,
    InvestigationRow,
    OutboxMessage,
    utc_now,
)
from domain import retention as rules
from domain.analysis import custom_period, period_before
from domain.policy import load_policy
from models.analysis import Period, ReturnKind
from models.policy import Policy
from models.retention import RetentionCursor, RetentionPage
from tests.conftest import COMPRESSED_POLICY
from tests.helpers import own_database

MARCH = custom_period(date(2026, 3, 1), date(2026, 3, 31))
CUTOFF = datetime(2031, 3, 1, tzinfo=UTC)  # five years on: every March complaint is past it
NAME, EMAIL = "Chen Hua", "chen.hua@logistics.example"
FREE_TEXT = ("Chen Hua called twice", "Refund arrived - Chen", "dms.example/chen-hua.pdf")
FIXED = datetime(2031, 3, 1, tzinfo=UTC)


def figures(engine: Engine, period: Period, policy: Policy) -> dict[str, Any]:
    """Everything the period's reports count, after the facts are derived from the audit log."""
    while analysis_facts.refresh(engine):
        pass
    previous = period_before(period)
    with engine.connect() as conn:
        analysis = compute_analysis(conn, period, previous, policy, generated_at=FIXED).model_dump(mode="json")
        team = [row.model_dump(mode="json") for row in scorecards.team(conn, period, policy, now=FIXED)]
        returns = {k.value: returns_queries.build_return(conn, k, period, previous, policy) for k in ReturnKind}
    return {"analysis": analysis, "team": team, "returns": returns}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    yield from own_database(request.param, tmp_path_factory.mktemp("retention"))


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def _event(cid: str, seq: int, kind: str, when: datetime, actor: str = "system", **detail: Any) -> ComplaintEventRow:
    return ComplaintEventRow(
        complaint_id=cid, seq=seq, kind=kind, actor=actor, at=when, detail=detail, recorded_at=when
    )


def lean_log(cid: str, day: int) -> list[ComplaintEventRow]:
    """A simple complaint's log as the workflow writes it: breached, escalated, resolved, followed up, closed."""
    due = at(day, 10).isoformat()
    return [
        _event(cid, 1, "received", at(day), "intake:call-centre", channel="phone"),
        _event(cid, 2, "classified", at(day), tier="simple", rule="default-simple", matched="Chen Hua's fee"),
        _event(cid, 3, "acknowledged", at(day), channel="email", recipient=EMAIL),
        _event(cid, 4, "assigned", at(day), handler="S-HND-001", team=[], previous=None, reason="least loaded"),
        _event(cid, 5, "sla_warning", at(day, 10), clock="simple_first_response", due_at=due),
        _event(
            cid,
            6,
            "sla_breached",
            at(day, 11),
            clock="simple_first_response",
            due_at=due,
            escalated_to="S-MGR-001",
            escalation_level=1,
        ),
        _event(cid, 7, "customer_contact", at(day, 11), "S-HND-001", note=FREE_TEXT[0]),
        _event(cid, 8, "resolution_proposed", at(day, 12), "S-HND-001", number=1, remedy_total="500.00"),
        _event(cid, 9, "resolved", at(day, 13), "S-HND-001", number=1, comments="Thank you, Chen Hua"),
        _event(cid, 10, "follow_up_scheduled", at(day, 13), caller="S-HND-002", due_at=at(day + 1).isoformat()),
        _event(cid, 11, "follow_up_done", at(day, 15), "S-HND-002", satisfaction=4, comments=FREE_TEXT[1]),
        _event(cid, 12, "root_cause_recorded", at(day, 15), "S-HND-001", code="pricing_error", text="Chen's fee"),
        _event(
            cid,
            13,
            "closed",
            at(day, 16),
            outcome="satisfied",
            closed_at=at(day, 16).isoformat(),
            total_seconds=25200.0,
            satisfaction=4,
            root_cause="pricing_error",
            reopened=0,
        ),
    ]


def add_closed(engine: Engine, day: int, *, status: str = "closed", legacy: bool = False) -> str:
    """A complaint closed on 2026-03-<day>, with its log, letters and an investigation."""
    cid = f"CMP-RT{uuid.uuid4().hex[:10].upper()}"
    log = [] if legacy else lean_log(cid, day)
    snapshot: dict[str, Any] = {}
    if legacy:  # an older row: its case file holds the clocks and the accepted proposal
        snapshot = {
            "status": status,
            "intake": {"customer": {"customer_id": "C-RT", "name": NAME, "email": EMAIL}, "product": "overdraft"},
            "proposals": [{"number": 1, "state": "accepted", "fee_refund": {"amount": "300.00", "currency": "CNY"}}],
            "resolved_at": at(day, 12).isoformat(),
            "clocks": [
                {
                    "name": "acknowledgement",
                    "state": "met",
                    "started_at": at(day).isoformat(),
                    "due_at": at(day + 1).isoformat(),
                    "met_at": at(day, 10).isoformat(),
                }
            ],
        }
        log = [_event(cid, 1, "received", at(day), "intake:call-centre"), _event(cid, 2, "closed", at(day, 16))]
    row = Complaint(
        complaint_id=cid,
        workflow_id=f"complaint-{cid}",
        source_system="call-centre",
        source_reference=f"RT-{cid}",
        channel="phone",
        category="fees_and_interest",
        tier="simple",
        tier_rule="default-simple",
        status=status,
        customer_id="C-RT-1",
        customer_name=NAME,
        contract_number="CL-2024-1188",
        assignee="S-HND-001",
        policy_version="2026.11-compressed",
        received_at=at(day),
        acknowledged_at=at(day),
        closed_at=at(day, 16),
        satisfaction=4,
        root_cause="pricing_error",
        outcome="satisfied",
        product="overdraft",
        team=[],
        last_seq=len(log),
        snapshot=snapshot,
        updated_at=at(day, 16),
    )
    investigation = f"investigation-{cid}"
    with Session(engine) as session:
        session.add(row)
        session.add_all(log)
        for n, (recipient, subject) in enumerate([(EMAIL, f"Your complaint, {NAME}"), ("mgr@x.example", "Breach")]):
            session.add(
                OutboxMessage(
                    idempotency_key=f"{cid}:letter:{n}",
                    complaint_id=cid,
                    kind="acknowledgement" if n == 0 else "escalation",
                    channel="email",
                    recipient=recipient,
                    language="en",
                    subject=subject,
                    body=f"Dear {NAME}, we received your complaint.",
                    status="sent",
                    created_at=at(day),
                    sent_at=at(day),
                )
            )
        session.add(
            InvestigationRow(
                investigation_id=investigation,
                complaint_id=cid,
                stage="concluded",
                lead="S-CMP-001",
                opened_at=at(day),
                concluded_at=at(day, 12),
                accountability="none",
                file={"scope": f"What {NAME} was told", "lead": "S-CMP-001", "stage": "concluded"},
                updated_at=at(day, 12),
            )
        )
        session.add(
            InvestigationEventRow(
                investigation_id=investigation,
                seq=1,
                kind="evidence_added",
                actor="S-CMP-001",
                at=at(day, 11),
                detail={"uri": f"https://{FREE_TEXT[2]}", "sha256": "a" * 64},
                recorded_at=at(day, 11),
            )
        )
        session.commit()
    return cid


def erase(engine: Engine, cid: str, cutoff: datetime = CUTOFF) -> retention.Erasure:
    detail = rules.audit_detail("test", "1827 calendar days", 1827 * 86400, at(1), "retention-test")
    return retention.anonymise(engine, cid, cutoff=cutoff, now=utc_now(), detail=detail)


def everything_of(engine: Engine, cid: str) -> str:
    """Every text the database holds about the complaint, as one string to search."""
    with Session(engine) as session:
        row = session.get(Complaint, cid)
        parts: list[Any] = [row.model_dump() if row else None]
        parts += [
            e.detail for e in session.exec(select(ComplaintEventRow).where(ComplaintEventRow.complaint_id == cid))
        ]
        parts += [m.model_dump() for m in session.exec(select(OutboxMessage).where(OutboxMessage.complaint_id == cid))]
        for inv in session.exec(select(InvestigationRow).where(InvestigationRow.complaint_id == cid)):
            parts.append(inv.file)
            parts += [
                e.detail
                for e in session.exec(
                    select(InvestigationEventRow).where(InvestigationEventRow.investigation_id == inv.investigation_id)
                )
            ]
    return repr(parts)


def test_an_old_closed_complaint_loses_its_personal_data_and_keeps_its_statistics(db: Engine) -> None:
    policy = load_policy(COMPRESSED_POLICY)
    cids = [add_closed(db, 3), add_closed(db, 5, status="withdrawn"), add_closed(db, 9, legacy=True)]
    before = figures(db, MARCH, policy)
    assert before["analysis"]["headline"]["closed"] == 3 and Decimal(before["analysis"]["headline"]["remedy_paid"]) > 0
    for cid in cids:
        assert NAME in everything_of(db, cid)

    done = [erase(db, cid) for cid in cids]

    assert [d.outcome for d in done] == ["anonymised"] * 3
    assert done[0].erased == {"outbox": 2, "complaint_events": 7, "investigations": 1, "investigation_events": 1}
    for cid in cids:
        text = everything_of(db, cid)
        assert NAME not in text and EMAIL not in text and "Chen" not in text
        assert not any(free in text for free in FREE_TEXT)
    assert figures(db, MARCH, policy) == before  # the facts derived again from the redacted log: same figures

    with Session(db) as session:
        row = session.get(Complaint, cids[0])
        assert row is not None and row.customer_name == rules.ERASED and row.anonymised_at is not None
        assert (row.status, row.satisfaction, row.root_cause, row.customer_id) == (
            "closed",
            4,
            "pricing_error",
            "C-RT-1",
        )
        log = list(
            session.exec(
                select(ComplaintEventRow)
                .where(ComplaintEventRow.complaint_id == cids[0])
                .order_by(col(ComplaintEventRow.seq))
            )
        )
        letters = list(session.exec(select(OutboxMessage).where(OutboxMessage.complaint_id == cids[0])))
    # The audit skeleton: every event's kind, seq, time and actor, and its structural members.
    assert [(e.seq, e.kind, e.actor) for e in log[:-1]] == [(e.seq, e.kind, e.actor) for e in lean_log(cids[0], 3)]
    breached = next(e for e in log if e.kind == "sla_breached")
    assert breached.detail["escalated_to"] == "S-MGR-001" and breached.detail["clock"] == "simple_first_response"
    assert next(e for e in log if e.kind == "acknowledged").detail == {"channel": "email", "recipient": rules.ERASED}
    last = log[-1]
    assert (last.seq, last.kind, last.actor) == (14, "anonymised", "system:retention") and row.last_seq == 14
    assert last.detail["retention"] == "1827 calendar days" and last.detail["erased"]["outbox"] == 2
    # Letters keep what they were and when, and their key: nothing is sent again.
    assert {(m.kind, m.channel, m.status, m.recipient, m.subject, m.body) for m in letters} == {
        ("acknowledgement", "email", "sent", rules.ERASED, rules.ERASED, rules.ERASED),
        ("escalation", "email", "sent", rules.ERASED, rules.ERASED, rules.ERASED),
    }
    assert {m.idempotency_key for m in letters} == {f"{cids[0]}:letter:0", f"{cids[0]}:letter:1"}


def test_a_second_pass_changes_nothing_and_a_complaint_not_past_the_period_is_left(db: Engine) -> None:
    old, recent, reopened = add_closed(db, 10), add_closed(db, 11), add_closed(db, 12)
    assert erase(db, old).outcome == "anonymised"
    snapshot = everything_of(db, old)

    again = erase(db, old)
    assert again.outcome == "already" and everything_of(db, old) == snapshot
    left = erase(db, recent, cutoff=at(11, 12))  # closed at 16:00, the cutoff is noon that day
    assert left.outcome == "skipped" and "not past the period" in left.reason
    with Session(db) as session:
        row = session.get(Complaint, reopened)
        assert row is not None
        row.status, row.closed_at = "in_handling", None  # reopened since the page was read
        session.add(row)
        session.commit()
    assert erase(db, reopened).outcome == "skipped"
    for cid in (recent, reopened):
        assert NAME in everything_of(db, cid)
        assert [e.kind for e in _log(db, cid)][-1] != "anonymised"
    assert [e.kind for e in _log(db, old)].count("anonymised") == 1


def _log(engine: Engine, cid: str) -> list[ComplaintEventRow]:
    with Session(engine) as session:
        query = select(ComplaintEventRow).where(ComplaintEventRow.complaint_id == cid)
        return list(session.exec(query.order_by(col(ComplaintEventRow.seq))))


def test_pages_come_oldest_closure_first_after_the_cursor_and_skip_what_is_done(db: Engine) -> None:
    cutoff = datetime(2026, 4, 20, tzinfo=UTC)
    ids = [add_closed(db, 20 + n) for n in range(4)]  # closed 2026-03-20 .. 23
    erase(db, ids[1], cutoff)
    first = retention.page(db, RetentionPage(cutoff=cutoff, limit=50))
    found = [c.complaint_id for c in first if c.complaint_id in ids]
    assert found == [ids[0], ids[2], ids[3]]  # the anonymised one is not past the period any more
    mine = [c for c in first if c.complaint_id in ids]
    after = RetentionCursor(closed_at=mine[0].closed_at, complaint_id=mine[0].complaint_id)
    rest = retention.page(db, RetentionPage(cutoff=cutoff, after=after, limit=50))
    assert [c.complaint_id for c in rest if c.complaint_id in ids] == [ids[2], ids[3]]
    limited = retention.page(db, RetentionPage(cutoff=cutoff, limit=1))
    assert len(limited) == 1
    assert retention.page(db, RetentionPage(cutoff=at(20, 12), limit=50)) == [
        c for c in retention.page(db, RetentionPage(cutoff=at(20, 12), limit=50)) if c.closed_at < at(20, 12)
    ]
    done, due, latest = retention.counts(db, cutoff)
    assert done >= 1 and due >= 3 and latest is not None and latest > FIXED - timedelta(days=3650)


def test_sealed_rows_are_erased_too_and_their_figures_kept(db: Engine) -> None:
    """With the key ring on (contact details and free text sealed at rest), the same erasure: the
    marker is sealed in place of the text, and the figures stay. Last in this module: the rows it
    leaves are sealed, and no later test here holds the ring."""
    from db.sealing import sealing_with
    from tests.sealing_support import K1, raw_rows, raw_text

    policy = load_policy(COMPRESSED_POLICY)
    april = custom_period(date(2026, 4, 1), date(2026, 4, 30))
    with sealing_with(K1):
        cid = add_closed(db, 3)
        with Session(db) as session:  # move it to April, away from the other tests' March
            row = session.get(Complaint, cid)
            assert row is not None
            row.received_at, row.closed_at = datetime(2026, 4, 3, 9, tzinfo=UTC), datetime(2026, 4, 3, 16, tzinfo=UTC)
            session.add(row)
            session.commit()
        assert NAME not in raw_text({"complaints": raw_rows(db, cid)["complaints"]})  # the name is sealed at rest
        before = figures(db, april, policy)
        assert erase(db, cid).outcome == "anonymised"
        assert NAME not in everything_of(db, cid) and rules.ERASED in everything_of(db, cid)
        assert figures(db, april, policy) == before
