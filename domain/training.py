"""Training rules as pure functions over the policy and its catalogue (step 4).

The catalogue is a versioned file of its own, named by ``performance.training.catalogue``
relative to the repository's ``policies/`` folder: a change is a new file, so a path read once
is cached for the process (keyed by its modification time, for a file edited in place during a
demo). Due dates count on the policy's business calendar (``domain.calendar.add_limit``), so a
course due in business days skips the pack's holidays as a complaint's clock does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from domain.calendar import add_limit
from domain.policy import PolicyError
from models.performance import Course, TrainingCatalogue, TrainingSource
from models.policy import Policy
from models.roles import Role

POLICIES_DIR = Path(__file__).resolve().parent.parent / "policies"
# Sources whose course renews: joining and renewal keep a person current; an investigation's or a
# figure's assignment is a one-off remedy, and a manual one is the assigner's to repeat.
RENEWING_SOURCES = frozenset({TrainingSource.JOINING, TrainingSource.RENEWAL})
MANDATORY_TIERS = frozenset({"complex", "major"})
# A manual assignment is a staff action (issue 16): who may make it, and the action its assigner
# signs (on the assignment's workflow, ``workflow_id``) and the workflow checks as it starts.
ASSIGNER_ROLES = (Role.MANAGER, Role.SENIOR_MANAGER, Role.COMPLIANCE)
ASSIGN_ACTION = "assign_training"
_RENEWAL = re.compile(r"^(?P<base>.+)-r(?P<n>\d+)$")


def catalogue_path(policy: Policy, base: Path = POLICIES_DIR) -> Path:
    """The catalogue file the policy names (an absolute path stays as it is)."""
    return base / policy.performance.training.catalogue


def load_catalogue(policy: Policy, base: Path = POLICIES_DIR) -> TrainingCatalogue:
    """The policy's catalogue; a missing or invalid file raises PolicyError naming it."""
    path = catalogue_path(policy, base)
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError as err:
        raise PolicyError(
            f"training catalogue not found: {path} (performance.training.catalogue of policy {policy.version})"
        ) from err
    return _read_catalogue(str(path), stamp)


@lru_cache(maxsize=16)
def _read_catalogue(path: str, stamp: int) -> TrainingCatalogue:
    """One read per file version; ``stamp`` is only the cache key."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise PolicyError(f"training catalogue not found: {path}") from err
    except yaml.YAMLError as err:
        raise PolicyError(f"training catalogue {path} is not valid YAML: {err}") from err
    try:
        return TrainingCatalogue.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in err.errors())
        raise PolicyError(f"training catalogue {path} is invalid: {problems}") from err


def courses_for_role(catalogue: TrainingCatalogue, role: Role | str) -> list[Course]:
    """The courses a role must take, on joining and then at each renewal."""
    wanted = Role(role)
    return [c for c in catalogue.courses if wanted in c.roles]


def due_at(course: Course, assigned_at: datetime, policy: Policy) -> datetime:
    """When a course assigned at ``assigned_at`` falls due, on the policy's calendar."""
    return add_limit(assigned_at, course.due, policy).due_at


def reminder_at(assigned_at: datetime, due: datetime, fraction: float) -> datetime:
    """The reminder: ``fraction`` of the way from assignment to due (0.8: with a fifth left)."""
    return assigned_at + (due - assigned_at) * fraction


def renewal_after(course: Course, source: TrainingSource, start: datetime, policy: Policy) -> timedelta | None:
    """How long after completion the course is taken again; None when it does not renew.

    A workflow timer wants a duration: business days are measured from ``start`` (the
    assignment), close enough for a renewal a year away.
    """
    if course.renew_every is None or source not in RENEWING_SOURCES:
        return None
    return add_limit(start, course.renew_every, policy).due_at - start


def mandatory_for(course: Course, category: str) -> bool:
    """Whether the course is mandatory for complaints of ``category`` (no categories: for all)."""
    return not course.categories or category in {c.value for c in course.categories}


def blocking_courses(catalogue: TrainingCatalogue, overdue: Iterable[str], category: str) -> list[str]:
    """Of a handler's overdue courses, those mandatory for the category (unknown codes: not)."""
    found = {code for code in overdue if (course := catalogue.course(code)) and mandatory_for(course, category)}
    return sorted(found)


def skips_handlers(policy: Policy, tier: str | None) -> bool:
    """Routing skips handlers with overdue mandatory training: by the switch, for complex and major only."""
    return policy.performance.training.routing_skips_overdue and tier in MANDATORY_TIERS


# ---- assignment ids: the same cause gives the same id, so a second start finds the first -------


def joining_assignment_id(staff_id: str, course: str) -> str:
    return f"{staff_id}-{course}"


def investigation_assignment_id(investigation_id: str, staff_id: str, course: str) -> str:
    return f"{investigation_id}-{staff_id}-{course}"


def renewal_assignment_id(assignment_id: str) -> str:
    """The next assignment of a renewing course: ``<id>-r1``, then ``-r2``, …"""
    match = _RENEWAL.match(assignment_id)
    if match is None:
        return f"{assignment_id}-r1"
    return f"{match['base']}-r{int(match['n']) + 1}"


def signed_by_assigner(source: TrainingSource) -> bool:
    """Whether an assignment is a person's (manual: signed by its assigner and checked as it starts);
    the others are the system's (joining, renewal, an investigation's decision, a figure's rule)."""
    return source == TrainingSource.MANUAL


def assigner_refusal(assigned_by: str, role: Role | str | None) -> str | None:
    """Why ``assigned_by`` may not assign a course by hand (None: they may); ``role``: theirs as
    the staff directory holds it (None: not an active member of staff)."""
    if role is None:
        return f"{assigned_by} may not assign training: not an active member of staff"
    if Role(role) not in ASSIGNER_ROLES:
        who = Role(role).value.replace("_", " ")
        return f"{assigned_by} ({who}) may not assign training: only a manager, senior manager or compliance may"
    return None


def workflow_id(assignment_id: str) -> str:
    """The workflow that runs an assignment (a renewal continues in its predecessor's)."""
    return f"training-{assignment_id}"
