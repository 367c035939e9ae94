"""What a manager sees in the Web UI: times, summary, details and search attributes."""

from __future__ import annotations

from datetime import datetime


def fmt_utc(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"
