"""Contract clauses sent to legal review (step 5), as pure rules over the policy.

- A contract's template: the first ``clause_review.templates`` rule whose prefix the contract
  number starts with ("PF-" -> project-finance); otherwise the number's leading letters
  ("EL-2025-0031" -> "EL"); a number without letters in front: "unknown".
- A clause: the first number of the reference ("7.3 prepayment fee" and "第7.3条 提前还款费用"
  -> "7.3"); a reference without a number is kept as written (lower case, spaces collapsed).
- Counting: per (template, clause), distinct complaints that cite it, received in the rolling
  window, or closed in it with a root cause the policy counts (contract wording, product design).
  The clause a root cause blames (``complaints root-cause --clause``) is a citation too, while the
  complaint's root cause is one the policy counts.
  Complaints a closed review already took are not counted again: the next crossing is new.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from models.clause_review import ClauseCount, ClauseReviewPolicy, ClauseReviewState, CloseReviewRequest, ReviewOutcome

ROOT_CAUSE = "root_cause"  # a citation's source: the clause the root cause blames
_NUMBER = re.compile(r"\d+(?:\.\d+)*")
_LETTERS = re.compile(r"^[A-Za-z]+")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Citation:
    """A complaint's clause reference, with what the count needs of the complaint."""

    complaint_id: str
    contract_number: str | None
    reference: str
    received_at: datetime
    closed_at: datetime | None = None
    root_cause: str | None = None
    source: str = "intake"  # or root_cause: the clause the complaint's root cause blames
    template: str | None = None  # the template the root cause named (None: the contract number's)


def template_of(contract_number: str | None, policy: ClauseReviewPolicy) -> str:
    number = (contract_number or "").strip()
    for rule in policy.templates:
        if number.upper().startswith(rule.prefix.upper()):
            return rule.template
    letters = _LETTERS.match(number)
    return letters.group(0).upper() if letters else "unknown"


def clause_of(reference: str) -> str:
    found = _NUMBER.search(reference)
    if found:
        return found.group(0)
    return " ".join(reference.lower().split())[:80] or "unknown"


def key_of(template: str, clause: str) -> str:
    """``<template>-<clause>``, safe for a workflow id: other characters become '-'."""
    return _UNSAFE.sub("-", f"{template}-{clause}").strip("-")[:120]


def workflow_id(template: str, clause: str) -> str:
    return f"clause-review-{key_of(template, clause)}"


def review_id(template: str, clause: str, number: int) -> str:
    return f"{key_of(template, clause)}-{number}"


def window_start(now: datetime, policy: ClauseReviewPolicy) -> datetime:
    return now - timedelta(days=policy.window_days)


def counts(
    citations: Iterable[Citation],
    policy: ClauseReviewPolicy,
    now: datetime,
    reviewed: dict[tuple[str, str], set[str]] | None = None,
) -> list[ClauseCount]:
    """Per (template, clause), the complaints that count (most first, then by template and clause).

    ``reviewed``: per (template, clause), the complaints closed reviews already took.
    """
    since = window_start(now, policy)
    taken = reviewed or {}
    groups: dict[tuple[str, str], tuple[dict[str, None], dict[str, None], dict[str, None]]] = {}
    for c in citations:
        key = (c.template or template_of(c.contract_number, policy), clause_of(c.reference))
        if c.complaint_id in taken.get(key, set()):
            continue
        if c.source == ROOT_CAUSE and c.root_cause not in policy.root_causes:
            continue  # the root cause was changed to one that blames no clause
        confirmed = c.closed_at is not None and c.closed_at >= since and c.root_cause in policy.root_causes
        if not (since <= c.received_at <= now or confirmed):
            continue
        ids, sure, refs = groups.setdefault(key, ({}, {}, {}))
        ids[c.complaint_id] = None
        refs[c.reference] = None
        if confirmed:
            sure[c.complaint_id] = None
    found = [
        ClauseCount(template=t, clause=k, references=list(refs), complaint_ids=sorted(ids), confirmed_ids=sorted(sure))
        for (t, k), (ids, sure, refs) in groups.items()
    ]
    return sorted(found, key=lambda c: (-c.count, c.template, c.clause))


def to_act_on(
    found: list[ClauseCount], policy: ClauseReviewPolicy, open_reviews: dict[tuple[str, str], str]
) -> list[ClauseCount]:
    """Clauses at or over the threshold (a review opens or is linked), and clauses whose review is
    open (a new citing complaint links to it, whatever the count)."""
    return [
        c.model_copy(update={"open_review_id": open_reviews.get((c.template, c.clause))})
        for c in found
        if c.count >= policy.threshold or (c.template, c.clause) in open_reviews
    ]


def close_refusal(state: ClauseReviewState, request: CloseReviewRequest) -> str | None:
    """Why ``request`` may not close the review (None: it may). Pure, for the validator."""
    plan = state.plan
    review = state.request.review_id
    if plan is None:
        return f"review {review} is still being set up; try again in a moment"
    if request.review_id != review:
        return f"review {request.review_id} is not the one open: this clause's review is {review}"
    if state.closed_at is not None:
        return f"review {review} was already closed by {state.closed_by} ({state.outcome})"
    if request.actor not in plan.closers:
        roles = " or ".join(r.replace("_", " ") for r in plan.closer_roles)
        return f"{request.actor} may not close review {review}: only {roles} may ({', '.join(plan.closers)})"
    if not request.reasons.strip():
        return "reasons are required: say why the clause is reworded, kept or the product withdrawn"
    if request.outcome == ReviewOutcome.REWORD and not (request.new_template_version or "").strip():
        return "a reworded clause needs the new template version (--new-version)"
    if request.outcome != ReviewOutcome.REWORD and request.new_template_version:
        return f"a new template version goes with the outcome reword, not {request.outcome.value}"
    return None


def warning_at(opened: datetime, due: datetime, fraction: float) -> datetime:
    return opened + (due - opened) * fraction
