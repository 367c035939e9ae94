"""Sealing at rest (db/sealing.py): the format, the key ring's rules, and the columns on both databases.

The first tests need no database. The rest write through the ORM into a database of their own
(tests/sealing_support.py), on SQLite and PostgreSQL, and read the rows back both with plain SQL
(what the disk holds) and through the models (what the CLI and the analysis see).
"""

from __future__ import annotations

import ast
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, create_engine
from sqlmodel import Session, col, select

import tests.db.test_columns as columns
from complaints.codec import DecryptionFailed, KeyRingError, MissingEncryptionKey
from complaints.config import PROJECT_ROOT
from db.customer_search import search_complaints
from db.sealing import (
    PREFIX,
    is_sealed,
    seal_detail,
    seal_json,
    seal_text,
    sealed_key_id,
    sealing_with,
    unseal_detail,
    unseal_json,
    unseal_text,
)
from db.tables import (
    Complaint,
    ComplaintEventRow,
    InvestigationEventRow,
    InvestigationRow,
    LoanBookSignalRow,
    OutboxMessage,
    RecallCustomerRow,
    RiskWarningRow,
)
from domain.personal_data import SEALED_DETAIL_MEMBERS
from domain.policy import PolicyStore
from tests.intake_payloads import CATEGORIES, CONTACTS
from tests.sealing_support import K1, ONLY_K2, ROTATED, own_engine, raw_rows, raw_text

NAME, EMAIL = "Zhuge Sealwen", "zhuge.sealwen@tooling.example"
PURE = create_engine("sqlite://")  # the pure tests' own engine: the shared worker's sees no ring
D = PURE.dialect
REASON, NOTE = "The customer's statement shows the penalty twice", "Called Ms Zhuge at home, she was upset"


# --- the format and the key ring, no database ---------------------------------------------------


def test_a_sealed_value_names_its_key_and_opens_only_where_it_was_sealed() -> None:
    with sealing_with(K1, PURE):
        sealed = seal_text(NAME, "complaints.customer_name", D)
        again = seal_text(NAME, "complaints.customer_name", D)
        assert re.fullmatch(r"sealed:v1:k1:[A-Za-z0-9+/]+={0,2}", sealed) and NAME not in sealed
        assert sealed != again, "a fresh nonce each time: equal names do not show as equal"
        assert sealed_key_id(sealed) == "k1" and is_sealed(sealed) and not is_sealed(NAME)
        assert unseal_text(sealed, "complaints.customer_name", D) == NAME
        with pytest.raises(DecryptionFailed, match=r"outbox\.recipient"):
            unseal_text(sealed, "outbox.recipient", D)  # moved to another column: does not open
        tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
        with pytest.raises(DecryptionFailed, match="'k1'"):
            unseal_text(tampered, "complaints.customer_name", D)


def test_with_no_key_ring_values_stay_clear_and_a_sealed_one_names_its_key() -> None:
    with sealing_with(K1, PURE):
        sealed = seal_text(NAME, "complaints.customer_name", D)
    with sealing_with(None, PURE):
        assert seal_text(NAME, "complaints.customer_name", D) == NAME
        assert seal_json({"a": 1}, "complaints.snapshot", D) == {"a": 1}
        assert unseal_text(NAME, "complaints.customer_name", D) == NAME
        with pytest.raises(MissingEncryptionKey, match=r"sealed with key 'k1'.*COMPLAINTS_CODEC_KEYS_FILE=none"):
            unseal_text(sealed, "complaints.customer_name", D)


def test_after_a_rotation_old_values_open_and_new_ones_use_the_new_key() -> None:
    with sealing_with(K1, PURE):
        old = seal_text(NAME, "complaints.customer_name", D)
    with sealing_with(ROTATED, PURE):
        assert unseal_text(old, "complaints.customer_name", D) == NAME
        assert sealed_key_id(seal_text(NAME, "complaints.customer_name", D)) == "k2"
    with sealing_with(ONLY_K2, PURE), pytest.raises(MissingEncryptionKey) as missing:
        unseal_text(old, "complaints.customer_name", D)
    assert missing.value.key_id == "k1" and isinstance(missing.value, KeyRingError)
    assert "'k1'" in str(missing.value) and "test ring without k1" in str(missing.value)


def test_clear_text_that_only_looks_sealed_reads_as_it_is() -> None:
    with sealing_with(K1, PURE):
        for clear in (PREFIX, f"{PREFIX}k1:not base64!", f"{PREFIX}k1:QUJD", "sealed:v2:k1:QUJD", "a sealed:v1:k1:x"):
            assert unseal_text(clear, "complaints.customer_name", D) == clear


def test_a_detail_seals_its_free_text_members_and_keeps_its_structure_clear() -> None:
    signed = {"payload": {"action": "approve", "reason": REASON}, "signature": {"key_id": "ab12", "value": "c2ln"}}
    detail = {
        "number": 2,
        "remedy_total": "8600",
        "escalated_to": "S-MGR-001",
        "tier": "major",
        "due_at": "2026-12-01T00:00:00+00:00",
        "reason": REASON,
        "note": NOTE,
        "recipient": EMAIL,
        "comments": None,
        "signed": signed,
    }
    with sealing_with(K1, PURE):
        sealed = seal_detail(detail, "complaint_events", D)
        assert {k: sealed[k] for k in ("number", "remedy_total", "escalated_to", "tier", "due_at", "comments")} == {
            k: detail[k] for k in ("number", "remedy_total", "escalated_to", "tier", "due_at", "comments")
        }
        assert all(is_sealed(sealed[k]) for k in ("reason", "note", "recipient", "signed"))
        assert REASON not in repr(sealed) and EMAIL not in repr(sealed) and "c2ln" not in repr(sealed)
        assert unseal_detail(sealed, "complaint_events", D) == detail
        with pytest.raises(DecryptionFailed):  # bound to its table and member
            unseal_detail({"note": sealed["reason"]}, "complaint_events", D)
        with pytest.raises(DecryptionFailed):
            unseal_detail(sealed, "investigation_events", D)
        assert unseal_json(seal_json([], "risk_warnings.history", D), "risk_warnings.history", D) == []


# Members the workflows write that are codes, ids, counts, flags or times: clear, so SQL can read them.
STRUCTURAL = {
    "accountability", "acknowledgement_id", "actual_loss", "approver_roles", "attempt", "attempts", "caller",
    "channel", "clock", "clocks", "clocks_paused", "code", "commitments_kept", "communication", "complaints",
    "currency", "deadlines_moved_seconds", "decision", "declared_by", "due_at", "escalated_to",
    "escalation_level", "evidence", "extension", "found", "from", "from_tier", "handler", "implicated", "incident",
    "investigation_id", "key", "lead", "matched", "next_due", "number", "opens", "policy_version", "previous",
    "product", "recall", "recommends_contract_revision", "regulator", "relation", "remedy_total", "replaces",
    "responsible", "revisit", "root_cause", "rule", "satisfaction", "score", "sha256", "signal", "staff_id",
    "staff_ids", "suspected_illegal", "team", "tier", "times", "to", "to_tier", "workflow_id",
}  # fmt: skip


def _detail_members_the_workflows_write() -> set[str]:
    """The keys of every ``detail={...}`` (and ``detail = {...}``) the workflows record."""
    found: set[str] = set()
    for path in (PROJECT_ROOT / "workflows").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            value = None
            if isinstance(node, ast.keyword) and node.arg == "detail":
                value = node.value
            elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "detail" for t in node.targets):
                value = node.value
            if isinstance(value, ast.Dict):
                found |= {k.value for k in value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return found


def test_every_detail_member_the_workflows_write_is_sealed_or_known_structure() -> None:
    written = _detail_members_the_workflows_write()
    assert {"reason", "note", "comments", "summary", "recipient", "tier", "escalated_to"} <= written
    unclassified = written - SEALED_DETAIL_MEMBERS - STRUCTURAL
    assert unclassified == set(), "a new detail member: free text goes in domain/personal_data.py, else in STRUCTURAL"
    assert STRUCTURAL & SEALED_DETAIL_MEMBERS == set()


def _detail_members_read_in_sql() -> set[str]:
    """Every ``detail`` member a query of the db package reads inside the database (``.c.detail["x"]``).

    A member read in Python from a fetched row is opened by the column type first; one read in SQL
    is not, and must stay clear.
    """
    reads = re.compile(r"(?:\.c|Row)\.detail\s*\[\s*[\"'](\w+)[\"']")
    return {m for path in (PROJECT_ROOT / "db").glob("*.py") for m in reads.findall(path.read_text())}


def test_no_member_a_query_reads_in_sql_is_sealed() -> None:
    read = _detail_members_read_in_sql()
    assert "escalated_to" in read  # the scorecards' escalations received: the reader this guards is found
    assert read & SEALED_DETAIL_MEMBERS == set()


# --- the columns on SQLite and PostgreSQL -------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    yield from own_engine(request.param, tmp_path_factory.mktemp("sealing"))


def _write(engine: Engine, name: str, reason: str = REASON) -> str:
    cid = f"CMP-{uuid.uuid4().hex[:12]}"
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.add(
            Complaint(
                complaint_id=cid,
                workflow_id=f"complaint-{cid}",
                source_system="test",
                source_reference=cid,
                channel="email",
                category="fees_and_interest",
                status="closed",
                customer_id=f"C-{cid[-6:]}",
                customer_name=name,
                received_at=now,
                snapshot={"intake": {"customer": {"name": name, "email": EMAIL}}},
                updated_at=now,
            )
        )
        detail = {"escalated_to": "S-MGR-001", "clock": "simple_first_response", "reason": reason, "note": NOTE}
        session.add(
            ComplaintEventRow(
                complaint_id=cid, seq=1, kind="sla_breached", actor="system", at=now, detail=detail, recorded_at=now
            )
        )
        session.add(
            OutboxMessage(
                idempotency_key=f"ack:{cid}",
                complaint_id=cid,
                kind="acknowledgement",
                channel="email",
                recipient=EMAIL,
                language="en",
                subject=f"Your complaint, {name}",
                body=f"Dear {name}, {reason}",
                status="sent",
                created_at=now,
            )
        )
        session.commit()
    return cid


def _read(engine: Engine, cid: str) -> dict[str, Any]:
    with Session(engine) as session:
        row = session.get(Complaint, cid)
        event = session.exec(select(ComplaintEventRow).where(ComplaintEventRow.complaint_id == cid)).one()
        message = session.exec(select(OutboxMessage).where(OutboxMessage.complaint_id == cid)).one()
    assert row is not None
    return {
        "name": row.customer_name,
        "snapshot": row.snapshot,
        "detail": event.detail,
        "outbox": (message.recipient, message.subject, message.body),
    }


def _expected(name: str, reason: str = REASON) -> dict[str, Any]:
    return {
        "name": name,
        "snapshot": {"intake": {"customer": {"name": name, "email": EMAIL}}},
        "detail": {"escalated_to": "S-MGR-001", "clock": "simple_first_response", "reason": reason, "note": NOTE},
        "outbox": (EMAIL, f"Your complaint, {name}", f"Dear {name}, {reason}"),
    }


def test_a_ring_bound_to_one_engine_leaves_the_others_as_they_were(db: Engine) -> None:
    other = create_engine("sqlite://")
    with sealing_with(K1, db):
        assert is_sealed(seal_text(NAME, "complaints.customer_name", db.dialect))
        assert seal_text(NAME, "complaints.customer_name", other.dialect) == NAME  # the process's: no ring here
    assert seal_text(NAME, "complaints.customer_name", db.dialect) == NAME


def test_rows_hold_ciphertext_and_the_models_read_them_clear(db: Engine) -> None:
    name = f"{NAME} {uuid.uuid4().hex[:4]}"
    with sealing_with(K1, db):
        cid = _write(db, name)
        assert _read(db, cid) == _expected(name)
    stored = raw_text(raw_rows(db, cid))
    for secret in (name, EMAIL, REASON, NOTE, "Zhuge"):
        assert secret not in stored
    assert "sealed:v1:k1:" in stored
    assert "S-MGR-001" in stored and "simple_first_response" in stored  # structure stays clear


def test_sql_still_reads_the_structural_members_of_sealed_details(db: Engine) -> None:
    events = ComplaintEventRow.__table__  # type: ignore[attr-defined]
    with sealing_with(K1, db):
        cid = _write(db, NAME)
        to = events.c.detail["escalated_to"].as_string()
        with db.connect() as conn:
            found = conn.execute(sa.select(to).where(events.c.complaint_id == cid, events.c.kind == "sla_breached"))
            assert [r[0] for r in found] == ["S-MGR-001"]
            whole = conn.execute(sa.select(events.c.detail).where(events.c.complaint_id == cid)).scalar_one()
        assert whole["reason"] == REASON  # Core reads go through the column type too


def test_rotation_clear_rows_and_a_missing_key_on_the_database(db: Engine) -> None:
    with sealing_with(None, db):
        clear = _write(db, "Clear Beforeson", reason="written before sealing")
    with sealing_with(K1, db):
        old = _write(db, "Old Keyson")
    with sealing_with(ROTATED, db):
        new = _write(db, "New Keyson")
        assert _read(db, clear) == _expected("Clear Beforeson", "written before sealing")
        assert _read(db, old) == _expected("Old Keyson")
        assert _read(db, new) == _expected("New Keyson")
    assert "written before sealing" in raw_text(raw_rows(db, clear)), "rows written before stay as they were"
    assert "sealed:v1:k1:" in raw_text(raw_rows(db, old)) and "sealed:v1:k2:" not in raw_text(raw_rows(db, old))
    assert "sealed:v1:k2:" in raw_text(raw_rows(db, new)) and "sealed:v1:k1:" not in raw_text(raw_rows(db, new))
    with sealing_with(ONLY_K2, db):
        assert _read(db, new)["name"] == "New Keyson"
        with pytest.raises(MissingEncryptionKey, match="sealed with key 'k1'") as missing:
            _read(db, old)
    assert missing.value.key_id == "k1"


def test_the_name_search_finds_sealed_and_clear_names(db: Engine) -> None:
    tag = uuid.uuid4().hex[:6]
    with sealing_with(None, db):
        clear = _write(db, f"Ximen Clearfound {tag}")
    with sealing_with(ROTATED, db):  # the database holds values of both keys (the tests above)
        sealed = _write(db, f"Ximen Sealfound {tag}")
        assert set(search_complaints(db, "ximen ")) >= {clear, sealed}
        assert search_complaints(db, f"sealfound {tag}") == [sealed]
        assert search_complaints(db, f"Clearfound {tag.upper()}") == [clear]
        assert len(search_complaints(db, tag, limit=1)) == 1
        assert search_complaints(db, f"nobody {tag}") == []
    with sealing_with(None, db):  # no ring: the name is matched in SQL, and only clear names can match
        assert search_complaints(db, f"Clearfound {tag}") == [clear]
        assert search_complaints(db, f"Sealfound {tag}") == []


@pytest.mark.parametrize("contact", CONTACTS)
def test_the_longest_intake_sealed_still_fits_its_columns(db: Engine, policies: PolicyStore, contact: str) -> None:
    # tests/db/test_columns.py with a key ring: each sealed value is longer than its text, and on
    # PostgreSQL a column too narrow for it refuses the write (migration 0017 made them TEXT).
    with sealing_with(K1, db):
        for category in CATEGORIES:
            columns.test_the_longest_intake_is_stored_and_acknowledged(db, policies, category, contact)
    with db.connect() as conn:
        names = [r[0] for r in conn.execute(sa.text("SELECT customer_name FROM complaints"))]
    assert any(is_sealed(n) and len(n) > 4 * 200 for n in names), "a 200-character name, sealed, in the column"


def test_the_other_tables_with_customers_words_are_sealed_too(db: Engine) -> None:
    tag, now = uuid.uuid4().hex[:8], datetime.now(UTC)
    words = f"Ms Zhuge says cash is tight until March {tag}"
    rows = [
        InvestigationRow(
            investigation_id=f"INV-{tag}",
            complaint_id=f"CMP-{tag}",
            stage="open",
            opened_at=now,
            updated_at=now,
            file={"scope": words, "evidence": [{"uri": f"dms://{tag}"}]},
        ),
        InvestigationEventRow(
            investigation_id=f"INV-{tag}",
            seq=1,
            kind="finding_recorded",
            actor="S-INV-001",
            at=now,
            detail={"summary": words},
            recorded_at=now,
        ),
        RiskWarningRow(
            workflow_run_id=f"run-{tag}",
            workflow_id=f"early-warning-C-{tag}",
            customer_id=f"C-{tag}",
            status="open",
            opened_at=now,
            updated_at=now,
            history=[{"at": now.isoformat(), "kind": "acknowledged", "by": "S-RM-001", "text": words}],
        ),
        LoanBookSignalRow(
            source_system="loan-book",
            source_record_id=tag,
            customer_id=f"C-{tag}",
            kind="days_past_due",
            observed_at=now,
            note=words,
            received_at=now,
        ),
        RecallCustomerRow(recall_id=f"R-{tag}", customer_id=f"C-{tag}", workflow_id=f"remediation-{tag}", note=words),
    ]
    with sealing_with(K1, db):
        with Session(db) as session:
            session.add_all(rows)
            session.commit()
        with Session(db) as session:
            assert session.get(InvestigationRow, f"INV-{tag}").file["scope"] == words  # type: ignore[union-attr]
            assert session.exec(
                select(InvestigationEventRow.detail).where(col(InvestigationEventRow.investigation_id) == f"INV-{tag}")
            ).one() == {"summary": words}
            assert session.get(RiskWarningRow, f"run-{tag}").history[0]["text"] == words  # type: ignore[union-attr]
            assert (
                session.exec(select(LoanBookSignalRow.note).where(LoanBookSignalRow.source_record_id == tag)).one()
                == words
            )
            assert session.get(RecallCustomerRow, (f"R-{tag}", f"C-{tag}")).note == words  # type: ignore[union-attr]
    raw = {  # each table's row, read with plain SQL by its key
        "investigations": ("complaint_id", f"CMP-{tag}"),
        "investigation_events": ("investigation_id", f"INV-{tag}"),
        "risk_warnings": ("workflow_run_id", f"run-{tag}"),
        "loan_book_signals": ("source_record_id", tag),
        "recall_customers": ("recall_id", f"R-{tag}"),
    }
    with db.connect() as conn:
        for table, (key, value) in raw.items():
            found = [
                dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {table} WHERE {key} = :v"), {"v": value})
            ]
            assert len(found) == 1, table
            assert words not in repr(found) and "sealed:v1:k1:" in repr(found), table
