"""Step 6.2, a complaint's side of incidents and recalls: linked, prioritised, its cause known.

- ``link_incident``: a surge's incident takes the complaint in. It is recorded once; its running
  internal clocks (each tier's first response) keep the incident's share of their remaining time,
  never a regulator's clock and never later; its holder is told; the customer gets the holding
  reply for the complaint's first incident, once per customer and incident however many of their
  complaints it links (one surge often opens incidents on several keys: one reply is enough).
- ``link_recall``: the complaint's product is recalled. It is recorded once and takes the root
  cause "product design defect" unless one is on file. The customer is not told here: the recall's
  remediation tells each customer once.

Both are signals (the incident and recall workflows fire them and go on); a complaint already
closed records the link and changes nothing else.
"""

from __future__ import annotations

from temporalio import workflow

import workflows.step6_look_back as look_back
from models.case_file import RootCauseRecord
from models.complaint import CLOSED_STATUSES, Status
from models.incident import IncidentLink
from models.recall import RecallLink
from workflows.case import Case
from workflows.presentation import fmt_utc

PRODUCT_DESIGN = "product_design"  # the root cause a recall gives its complaints (policy root_causes)


async def link_incident(case: Case, link: IncidentLink) -> None:
    await workflow.wait_condition(lambda: case.handling or case.closing())
    async with case.exclusive():
        snap = case.snap
        if any(i.incident_id == link.incident_id for i in snap.incidents):
            return  # delivered twice (the watch linked it again): once is enough
        first = not snap.incidents
        snap.incidents.append(link)
        if snap.status in CLOSED_STATUSES:
            case.publish()
            await case.record("incident_linked", detail={"incident": link.incident_id, "key": link.key})
            return
        now = workflow.now()
        moved = case.board.shorten_internal(now, link.internal_clock_factor)
        case.publish()
        await case.record(
            "incident_linked",
            detail={
                "incident": link.incident_id,
                "key": link.key,
                "lead": link.lead,
                "clocks": [{"clock": c.name, "from": old.isoformat(), "to": c.due_at.isoformat()} for c, old in moved],
            },
        )
        shortened = "; ".join(f"{c.label} now due {fmt_utc(c.due_at)} (was {fmt_utc(old)})" for c, old in moved)
        await case.notify_staff(
            f"incident:{link.incident_id}",
            [h for h in [snap.holder] if h],
            f"PRIORITY: {snap.complaint_id} is part of incident {link.incident_id}",
            f"{snap.complaint_id} is linked to incident {link.incident_id} ({link.key}), led by "
            f"{link.lead or 'the crisis team'}. Handle it first. " + (shortened or "No internal clock was running."),
        )
        if not first:
            return  # one surge often opens several incidents (its product, its region): one reply is enough
        await case.notify_customer(
            f"incident:{link.incident_id}:holding_reply",
            "incident_holding_reply",
            {"incident_id": link.incident_id},
            once_per_customer=True,
        )


async def link_recall(case: Case, link: RecallLink) -> None:
    await workflow.wait_condition(lambda: case.handling or case.closing())
    async with case.exclusive():
        snap = case.snap
        if any(r.recall_id == link.recall_id for r in snap.recalls):
            return
        snap.recalls.append(link)
        detail = {"recall": link.recall_id, "product": link.product, "declared_by": link.declared_by}
        if snap.root_cause is None:
            text = f"Recall {link.recall_id}: {link.reason}"[:2000]
            snap.root_cause = RootCauseRecord(code=PRODUCT_DESIGN, text=text, by=link.declared_by, at=link.linked_at)
            detail["root_cause"] = PRODUCT_DESIGN
        case.publish()
        await case.record("recall_linked", actor=link.declared_by, detail=detail)
        if snap.status == Status.AWAITING_ROOT_CAUSE:
            await look_back.close_if_ready(case)
