"""How every time a person reads is written: one convention, converted to UTC and labelled.

The Web UI (current details, timer and activity summaries), the action messages, the CLI's
tables and the letters all use ``fmt_utc``, so one instant reads the same everywhere, whatever
offset it was stored with (deadlines come back in the policy's zone, e.g. +08:00).
"""

from __future__ import annotations

from datetime import UTC, datetime


def fmt_utc(moment: datetime | None) -> str:
    """``2026-12-12 01:30 UTC``; ``—`` for no time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def kept_first(old: datetime | None, new: datetime | None) -> datetime | None:
    """A moment recorded once: the first value stays (a late retry of an older step changes nothing)."""
    return old if old is not None else new
