"""Surges of complaints (step 6.2), as pure rules over the policy's ``surge`` section.

- Windows: the last ``window`` before now is window 0; windows 1..``baseline_windows`` are the
  ones before it, each as long. A complaint received exactly on a boundary counts in the later
  window (windows are half-open, ``(start, end]``).
- A key (a dimension and its value: product, category, channel or region) surges when its
  window-0 count is at least ``min_complaints`` and at least ``factor`` times the median of its
  baseline windows (windows with no complaint count as 0). A key new to the book has median 0:
  ``min_complaints`` alone decides.
- An incident's workflow id is ``incident-<dimension>-<value>`` (one per key at a time); the
  n-th incident of a key is ``incident-<dimension>-<value>-<n>``. Characters a workflow id or a
  search attribute should not carry become '-'.
- Who may act on an incident: lead roles or the crisis team name a lead (who must hold a lead
  role and be active); the lead or the crisis team record the post-incident review; the closer
  roles or the lead close it, and only once the review and a root cause are on file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from statistics import median

from models.base import TimeUnit
from models.incident import (
    AssignLeadRequest,
    CloseIncidentRequest,
    IncidentReviewRequest,
    IncidentState,
    IncidentStatus,
    SurgeDimension,
    SurgeFigures,
    SurgePolicy,
)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SECONDS = {TimeUnit.SECONDS: 1, TimeUnit.MINUTES: 60, TimeUnit.HOURS: 3600, TimeUnit.CALENDAR_DAYS: 86_400}


def window_length(policy: SurgePolicy) -> timedelta:
    """The window as a duration (calendar time; a business-day window counts as calendar days)."""
    unit = policy.window.unit
    per = _SECONDS.get(unit, 86_400)
    return timedelta(seconds=policy.window.amount * per)


def boundaries(now: datetime, policy: SurgePolicy) -> list[datetime]:
    """``now`` and each window's start, newest first: window i is (b[i+1], b[i]]."""
    length = window_length(policy)
    return [now - length * i for i in range(policy.baseline_windows + 2)]


def window_start(now: datetime, policy: SurgePolicy) -> datetime:
    return now - window_length(policy)


def safe(value: str) -> str:
    return _UNSAFE.sub("-", value).strip("-")[:80] or "unknown"


def every(seconds: float) -> str:
    """An interval as staff read it: '20 seconds', '15 minutes', '1 day'."""
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}" + ("s" if n != 1 else "")
    return f"{seconds:g} seconds"


def workflow_id(dimension: SurgeDimension, value: str) -> str:
    return f"incident-{dimension.value}-{safe(value)}"


def incident_id(dimension: SurgeDimension, value: str, number: int) -> str:
    return f"{workflow_id(dimension, value)}-{number}"


def key_of(dimension: SurgeDimension, value: str) -> str:
    return f"{dimension.value}={value}"


def assess(
    dimension: SurgeDimension,
    value: str,
    count: int,
    baseline: list[int],
    policy: SurgePolicy,
    now: datetime,
) -> SurgeFigures:
    """The key's figures and whether they are a surge, with the explanation staff read."""
    base = (baseline + [0] * policy.baseline_windows)[: policy.baseline_windows]
    mid = float(median(base))
    needed = max(policy.min_complaints, math.ceil(policy.factor * mid - 1e-9))
    surging = count >= needed
    explanation = (
        f"{key_of(dimension, value)}: {count} complaints in the last {policy.window.describe()} against a "
        f"median of {mid:g} in the {len(base)} windows before; a surge from {needed} "
        f"(at least {policy.min_complaints}, and {policy.factor:g} x the median): "
        + ("a surge" if surging else "no surge")
    )
    return SurgeFigures(
        dimension=dimension,
        value=value,
        count=count,
        baseline=base,
        median=mid,
        needed=needed,
        factor=policy.factor,
        min_complaints=policy.min_complaints,
        window_start=window_start(now, policy),
        window_end=now,
        surging=surging,
        explanation=explanation,
    )


def figures(rows: Iterable[tuple[str, str, int, int]], policy: SurgePolicy, now: datetime) -> list[SurgeFigures]:
    """Every key with a complaint in the window, assessed; surges first, then by count.

    ``rows``: (dimension, value, window number, complaints), window 0 the latest; keys of
    dimensions the policy does not watch are left out.
    """
    watched = {d.value for d in policy.dimensions}
    buckets: dict[tuple[str, str], dict[int, int]] = {}
    for dimension, value, window, n in rows:
        if dimension in watched and value and 0 <= window <= policy.baseline_windows:
            counts = buckets.setdefault((dimension, value), {})
            counts[window] = counts.get(window, 0) + n
    found = [
        assess(
            SurgeDimension(d),
            v,
            counts.get(0, 0),
            [counts.get(i, 0) for i in range(1, policy.baseline_windows + 1)],
            policy,
            now,
        )
        for (d, v), counts in buckets.items()
        if counts.get(0, 0) > 0
    ]
    return sorted(found, key=lambda f: (not f.surging, -f.count, f.dimension.value, f.value))


def surges(rows: Iterable[tuple[str, str, int, int]], policy: SurgePolicy, now: datetime) -> list[SurgeFigures]:
    """The keys that surge now."""
    return [f for f in figures(rows, policy, now) if f.surging]


# -- who may act on an incident (pure, for the validators) ----------------------------------------


def _common(state: IncidentState, incident: str) -> str | None:
    if state.plan is None:
        return f"incident {state.incident_id} is still being set up; try again in a moment"
    if incident not in (state.incident_id, state.workflow_id):
        return f"incident {incident} is not the one open: this key's incident is {state.incident_id}"
    if state.status == IncidentStatus.CLOSED:
        return f"incident {state.incident_id} was already closed by {state.closed_by}"
    return None


def _roles(names: list[str]) -> str:
    return " or ".join(r.replace("_", " ") for r in names)


def lead_refusal(state: IncidentState, request: AssignLeadRequest) -> str | None:
    """Why ``request`` may not name the lead (None: it may)."""
    problem = _common(state, request.incident_id)
    if problem or state.plan is None:
        return problem
    plan = state.plan
    if request.actor not in plan.lead_candidates and request.actor not in plan.crisis_team:
        return (
            f"{request.actor} may not name the lead of {state.incident_id}: only {_roles(plan.lead_roles)} "
            f"or the crisis team may ({', '.join(sorted({*plan.lead_candidates, *plan.crisis_team}))})"
        )
    if request.lead not in plan.lead_candidates:
        return (
            f"{request.lead} may not lead {state.incident_id}: a lead is an active {_roles(plan.lead_roles)} "
            f"({', '.join(plan.lead_candidates) or 'none'})"
        )
    if request.lead == state.lead:
        return f"{request.lead} already leads {state.incident_id}"
    return None


def review_refusal(state: IncidentState, request: IncidentReviewRequest) -> str | None:
    """Why ``request`` may not record the post-incident review (None: it may)."""
    problem = _common(state, request.incident_id)
    if problem or state.plan is None:
        return problem
    plan = state.plan
    if request.actor != state.lead and request.actor not in plan.crisis_team:
        return (
            f"{request.actor} may not record the review of {state.incident_id}: the lead ({state.lead}) "
            f"or the crisis team ({', '.join(plan.crisis_team)}) may"
        )
    if not request.review.strip():
        return "the review is required: what happened, what was done, what changes"
    if request.root_cause not in plan.root_causes:
        return f"root cause {request.root_cause!r} is not one of the policy's: {', '.join(plan.root_causes)}"
    return None


def close_refusal(state: IncidentState, request: CloseIncidentRequest) -> str | None:
    """Why ``request`` may not close the incident (None: it may)."""
    problem = _common(state, request.incident_id)
    if problem or state.plan is None:
        return problem
    plan = state.plan
    if request.actor != state.lead and request.actor not in plan.closers:
        return (
            f"{request.actor} may not close {state.incident_id}: only its lead ({state.lead}) or "
            f"{_roles(plan.closer_roles)} may ({', '.join(plan.closers) or 'none'})"
        )
    if not (state.review and state.root_cause):
        return (
            f"{state.incident_id} needs its post-incident review and root cause first: "
            f"complaints incident report {state.incident_id} --as <id> --root-cause <code> --review ..."
        )
    return None
