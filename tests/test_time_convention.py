"""One time convention for every time a person reads (README, "Clocks"): converted to UTC and
labelled, for a complaint filed with a +08:00 intake time, as the case study was.

The Web UI's current details and its timer names, a CLI table, a CLI action's message and the
customer's letter show the same instant; none shows the Shanghai wall time labelled UTC.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata

from domain.clocks import warning_at
from domain.times import fmt_utc
from models.clocks import Clock
from models.complaint import ComplaintSnapshot
from tests.conftest import Service
from tests.helpers import outbox, projected, state_of
from tests.test_cli import cli, filed

SHANGHAI = timezone(timedelta(hours=8))
MANAGER = "S-MGR-001"


def mislabelled(moment: datetime) -> str:
    """The bug this guards against: Shanghai's wall time with "UTC" after it."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M UTC")


def clock(snap: ComplaintSnapshot, name: str) -> Clock:
    [found] = [c for c in snap.clocks if c.name == name]
    return found


async def test_a_plus_eight_intake_reads_the_same_in_utc_everywhere(service: Service) -> None:
    received = (datetime.now(SHANGHAI) - timedelta(seconds=1)).isoformat()
    assert received.endswith("+08:00")
    cid, _, customer = await filed(service, "contract_dispute", received_at=received)
    snap = (await state_of(service, cid)).snapshot
    first = clock(snap, "complex_first_response")
    assert first.due_at.utcoffset() == timedelta(hours=8), "deadlines come back in the intake's offset"

    # A CLI action's message: the extended decision deadline.
    code, said, err = await cli(service, "extend", cid, "--as", MANAGER, "--reason", "Waiting for the bank statement")
    assert code == 0, err
    snap = (await state_of(service, cid)).snapshot
    decision = clock(snap, "regulatory_decision")
    assert f"decision now due {fmt_utc(decision.due_at)} (status in_handling)" in said
    assert fmt_utc(decision.due_at).endswith(" UTC") and mislabelled(decision.due_at) not in said

    # The Web UI: the details name when it was received, the current details every clock's
    # deadline, the timers their moment.
    handle = service.intake.handle(cid)
    received_at = datetime.fromisoformat(received)
    static = await (await handle.describe()).static_details()
    assert (
        static is not None and f"received {fmt_utc(received_at)}" in static and mislabelled(received_at) not in static
    )
    details = (await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)).current_details
    assert f"**Next deadline:** {first.label}, {fmt_utc(first.due_at)}" in details
    assert f"due {fmt_utc(decision.due_at)}" in details and f"due {fmt_utc(first.due_at)}" in details
    assert mislabelled(first.due_at) not in details and mislabelled(decision.due_at) not in details
    timers = [
        json.loads(e.user_metadata.summary.data)
        for e in (await handle.fetch_history()).events
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED and e.HasField("user_metadata")
    ]
    assert f"{first.label} warning {fmt_utc(warning_at(first, 0.8))}" in timers, timers
    assert mislabelled(warning_at(first, 0.8)) not in timers

    # The CLI's tables: the list's next deadline and the case file's clocks.
    code, listed, err = await cli(service, "list", "--search", customer)
    assert code == 0, err
    assert f"{fmt_utc(first.due_at)}" in listed and mislabelled(first.due_at) not in listed
    await projected(service.engine, cid, "deadline_extended")
    code, shown, err = await cli(service, "show", cid)
    assert code == 0, err
    assert fmt_utc(decision.due_at) in shown and fmt_utc(first.due_at) in shown
    assert mislabelled(decision.due_at) not in shown

    # The customer's letters: the acknowledgement and the extension.
    [acknowledgement] = outbox(service.engine, cid, "acknowledgement")
    assert fmt_utc(first.due_at) in acknowledgement.body and mislabelled(first.due_at) not in acknowledgement.body
    [extension] = outbox(service.engine, cid, "extension")
    assert fmt_utc(decision.due_at) in extension.body and mislabelled(decision.due_at) not in extension.body
