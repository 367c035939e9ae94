"""The SLA timer loop both workflows run over their clock board.

Sleep (a named timer) until the next warning or deadline, or until an action changes the
clocks; then warn or breach through the workflow's own callbacks. The state machine itself
is ``domain.clocks.ClockBoard``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from temporalio import workflow

from domain.clocks import ClockBoard, EventKind
from models.clocks import Clock, ClockState
from workflows.presentation import fmt_utc


def timer_summary(clock: Clock, kind: EventKind, at: datetime) -> str:
    return f"{clock.label} {kind} {fmt_utc(at)}"


async def run_clocks(
    board: ClockBoard,
    *,
    warning_fraction: Callable[[], float],
    stop: Callable[[], bool],
    on_warning: Callable[[Clock], Awaitable[None]],
    on_breach: Callable[[Clock], Awaitable[None]],
    summary: Callable[[Clock, EventKind, datetime], str] = timer_summary,
) -> None:
    """Until ``stop()``: wait for the next clock event, then warn or breach."""
    changed = lambda: stop() or board.changed  # noqa: E731
    while not stop():
        board.changed = False
        upcoming = board.next_event(workflow.now(), warning_fraction())
        if upcoming is None:
            await workflow.wait_condition(changed)
            continue
        at, clock, kind = upcoming
        remaining = (at - workflow.now()).total_seconds()
        if remaining > 0:
            try:
                await workflow.wait_condition(changed, timeout=remaining, timeout_summary=summary(clock, kind, at))
                continue
            except TimeoutError:
                pass
        if clock.state != ClockState.RUNNING or stop():
            continue
        await (on_warning if kind == "warning" else on_breach)(clock)
