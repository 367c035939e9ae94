"""SLA clocks as one state machine: plan, warn, breach, pause, resume, settle, stop.

A clock starts ``running``. It can be ``paused`` (time does not count) and resumed, and it
ends in one of three states: ``met`` (its duty was done by the deadline), ``breached`` (the
deadline passed first: the timer fired, or the duty was done late) or ``stopped`` (the duty
fell away: withdrawn, escalated to another tier, superseded). A clock settled after its
deadline is breached, never met, whatever path settled it.

Pure: every method takes ``now``; the complaint and the investigation workflows both use
a board over their own clocks, and the unit tests use it without a server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Literal

from models.clocks import Clock, ClockState

OPEN = (ClockState.RUNNING, ClockState.PAUSED)
EventKind = Literal["warning", "due"]
REGULATOR_REPORT = "regulator_report_"  # a report clock's name: this and the regulator's code
# The company's own clocks, which an incident may shorten: each tier's first response (step 2).
# Everything else (acknowledgement, the regulatory decision, reports) is a regulator's or a
# duty that follows one, and an incident never moves it.
INTERNAL = frozenset({"simple_first_response", "complex_first_response", "major_first_response"})


def is_regulator_report(clock: Clock) -> bool:
    return clock.name.startswith(REGULATOR_REPORT)


def runs_while_waiting(clock: Clock) -> bool:
    """What the customer's silence does not stop: the acknowledgement, and each report owed to a
    regulator (its deadline runs from the start of handling, whatever the customer does)."""
    return clock.name == "acknowledgement" or is_regulator_report(clock)


def only_the_acknowledgement(clock: Clock) -> bool:
    """Before ``runs_while_waiting``: a pause stopped every clock but the acknowledgement."""
    return clock.name == "acknowledgement"


def warning_at(clock: Clock, fraction: float) -> datetime:
    """When a clock has used ``fraction`` of its time (paused time not counted)."""
    budget = (clock.due_at - clock.started_at) - timedelta(seconds=clock.paused_seconds)
    return clock.due_at - budget * (1 - fraction)


def effective_due(clock: Clock, now: datetime) -> datetime:
    """The deadline as it stands at ``now``: a paused clock's deadline moves with the pause."""
    if clock.state == ClockState.PAUSED and clock.paused_at is not None:
        return clock.due_at + (now - clock.paused_at)
    return clock.due_at


class ClockBoard:
    """The clocks of one case file. ``source`` returns the case file's own list (changed in place)."""

    def __init__(self, source: Callable[[], list[Clock]], *, late_is_breach: bool = True) -> None:
        self._source = source
        # Complaints that started before this board existed settled every clock as met.
        self._late_is_breach = late_is_breach
        self.changed = False

    @property
    def clocks(self) -> list[Clock]:
        return self._source()

    def named(self, names: Iterable[str]) -> list[Clock]:
        wanted = set(names)
        return [c for c in self.clocks if c.name in wanted]

    def latest(self, name: str) -> Clock | None:
        return next((c for c in reversed(self.clocks) if c.name == name), None)

    # -- planning and the timer ------------------------------------------------------

    def plan(self, clock: Clock) -> Clock:
        self.clocks.append(clock)
        self.changed = True
        return clock

    def next_event(self, now: datetime, warning_fraction: float) -> tuple[datetime, Clock, EventKind] | None:
        """The next warning or deadline of a running clock (no warning for a clock already late)."""
        events: list[tuple[datetime, Clock, EventKind]] = []
        for clock in self.clocks:
            if clock.state != ClockState.RUNNING:
                continue
            if clock.warned_at is None and now < clock.due_at:
                events.append((warning_at(clock, warning_fraction), clock, "warning"))
            events.append((clock.due_at, clock, "due"))
        return min(events, key=lambda e: e[0]) if events else None

    def warn(self, clock: Clock, now: datetime) -> None:
        clock.warned_at = now

    def breach(self, clock: Clock, now: datetime) -> None:
        clock.state, clock.breached_at = ClockState.BREACHED, now
        self.changed = True

    def shorten_internal(self, now: datetime, factor: float) -> list[tuple[Clock, datetime]]:
        """Prioritised (an incident): each running internal clock keeps ``factor`` of its remaining
        time. Never a regulator's clock, never later than it was. The clocks moved, with their old
        deadlines."""
        moved: list[tuple[Clock, datetime]] = []
        for clock in self.clocks:
            if clock.state != ClockState.RUNNING or clock.name not in INTERNAL or clock.due_at <= now:
                continue
            due = now + (clock.due_at - now) * factor
            if due < clock.due_at:
                moved.append((clock, clock.due_at))
                clock.due_at = due
        if moved:
            self.changed = True
        return moved

    # -- pausing ------------------------------------------------------------------------

    def pause(self, now: datetime, *, keep: Callable[[Clock], bool] = runs_while_waiting) -> None:
        """Stop time counting (waiting for the customer) on every running clock but those ``keep`` keeps."""
        for clock in self.clocks:
            if clock.state == ClockState.RUNNING and not keep(clock):
                clock.state, clock.paused_at = ClockState.PAUSED, now
        self.changed = True

    def resume(self, now: datetime) -> float:
        """Time counts again; deadlines move by the pause. Returns the seconds moved."""
        moved = 0.0
        for clock in self.clocks:
            if clock.state == ClockState.PAUSED and clock.paused_at is not None:
                moved = (now - clock.paused_at).total_seconds()
                clock.due_at += now - clock.paused_at
                clock.paused_seconds += moved
                clock.state, clock.paused_at = ClockState.RUNNING, None
        self.changed = True
        return moved

    # -- ending ---------------------------------------------------------------------------

    def settle(self, clock: Clock, now: datetime, by: str, *, strict: bool | None = None) -> ClockState:
        """The clock's duty is done: met when on time, breached when late.

        A clock that already breached keeps that state and records when (and by what) the
        duty was done; a stopped or met clock does not change.
        """
        if clock.state in OPEN:
            late_is_breach = self._late_is_breach if strict is None else strict
            if now <= effective_due(clock, now) or not late_is_breach:
                clock.state = ClockState.MET
            else:
                clock.state, clock.breached_at = ClockState.BREACHED, now
            clock.paused_at = None
            clock.met_at, clock.met_by = now, by
        elif clock.state == ClockState.BREACHED and clock.met_at is None:
            clock.met_at, clock.met_by = now, by
        self.changed = True
        return clock.state

    def settle_named(self, names: Iterable[str], now: datetime, by: str) -> None:
        for clock in self.named(names):
            if clock.state in OPEN:
                self.settle(clock, now, by)
        self.changed = True

    def unsettle(self, by: str) -> None:
        """A duty turned out not done (the customer rejected the proposal): met clocks run again."""
        for clock in self.clocks:
            if clock.state == ClockState.MET and clock.met_by == by:
                clock.state, clock.met_at, clock.met_by = ClockState.RUNNING, None, None
        self.changed = True

    def stop(self, clock: Clock) -> None:
        if clock.state in OPEN:
            clock.state, clock.paused_at = ClockState.STOPPED, None
        self.changed = True

    def stop_all(
        self,
        *,
        settle_by: str | None = None,
        now: datetime | None = None,
        keep: Callable[[Clock], bool] = is_regulator_report,
    ) -> None:
        """End every open clock (``settle_by``: as done, met or breached by the deadline).

        Regulator-report clocks are kept by default: the report thread settles its own.
        """
        for clock in self.clocks:
            if clock.state not in OPEN or keep(clock):
                continue
            if settle_by is not None:
                assert now is not None, "settling needs the time"
                self.settle(clock, now, settle_by)
            else:
                self.stop(clock)
        self.changed = True

    def open_revisit(self) -> Clock | None:
        """The look-back revisit still to be done (running, or breached and not yet done)."""
        return next(
            (
                c
                for c in reversed(self.clocks)
                if c.name.startswith("look_back_")
                and c.state in (ClockState.RUNNING, ClockState.BREACHED)
                and c.met_at is None
            ),
            None,
        )
