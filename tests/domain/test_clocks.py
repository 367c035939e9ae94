"""The SLA clock state machine (domain/clocks.py): plan, warn, breach, pause, resume, settle, stop.

Pure: every test builds clocks by hand and moves time by passing ``now`` (no server).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.clocks import ClockBoard, effective_due, only_the_acknowledgement
from models.clocks import Clock, ClockState

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def clock(name: str = "simple_first_response", *, due: float = 10, **fields: Any) -> Clock:
    """A clock started at T0 that falls due ``due`` hours later."""
    return Clock(
        name=name,
        label=name.replace("_", " "),
        limit=f"{due} hours",
        source="test",
        started_at=T0,
        due_at=at(due),
        **fields,
    )


def board(*clocks: Clock, **options: Any) -> ClockBoard:
    """A board over its own list, with ``changed`` cleared so each test sees only its own change."""
    held = list(clocks)
    b = ClockBoard(lambda: held, **options)
    b.changed = False
    return b


def states(b: ClockBoard) -> dict[str, ClockState]:
    return {c.name: c.state for c in b.clocks}


# -- looking clocks up -----------------------------------------------------------------------------


def test_a_new_board_has_not_changed() -> None:
    assert ClockBoard(lambda: []).changed is False


def test_plan_adds_the_clock_and_returns_it() -> None:
    b = board()
    planned = b.plan(clock("acknowledgement"))
    assert b.clocks == [planned]
    assert b.changed is True


def test_named_returns_the_clocks_with_those_names_in_board_order() -> None:
    b = board(clock("a"), clock("b"), clock("c"), clock("a", due=20))
    assert [(c.name, c.due_at) for c in b.named(["c", "a"])] == [("a", at(10)), ("c", at(10)), ("a", at(20))]


def test_latest_is_the_last_clock_of_that_name() -> None:
    b = board(clock("follow_up", due=1), clock("other"), clock("follow_up", due=2))
    assert b.latest("follow_up") is b.clocks[2]
    assert b.latest("missing") is None


# -- the next timer event --------------------------------------------------------------------------


def test_next_event_is_the_warning_of_a_running_clock_first() -> None:
    c = clock(due=10)
    assert board(c).next_event(at(1), 0.8) == (at(8), c, "warning")


def test_next_event_is_the_earliest_over_all_clocks() -> None:
    late, soon = clock("late", due=20), clock("soon", due=5)
    assert board(late, soon).next_event(at(0), 0.8) == (at(4), soon, "warning")


def test_clocks_due_together_come_in_board_order() -> None:
    ack, first = clock("acknowledgement", due=5, warned_at=T0), clock("simple_first_response", due=5, warned_at=T0)
    assert board(ack, first).next_event(at(1), 0.8) == (at(5), ack, "due")


def test_after_the_warning_the_next_event_is_the_deadline() -> None:
    c = clock(due=10)
    b = board(c)
    b.warn(c, at(8))
    assert c.warned_at == at(8)
    assert b.next_event(at(8), 0.8) == (at(10), c, "due")


def test_a_clock_already_at_its_deadline_gets_no_warning() -> None:
    c = clock(due=10)
    assert board(c).next_event(at(10), 0.8) == (at(10), c, "due")


def test_a_clock_already_late_gets_no_warning() -> None:
    c = clock(due=10)
    assert board(c).next_event(at(12), 0.8) == (at(10), c, "due")


@pytest.mark.parametrize("state", [ClockState.PAUSED, ClockState.MET, ClockState.BREACHED, ClockState.STOPPED])
def test_only_running_clocks_have_events(state: ClockState) -> None:
    idle, running = clock("idle", due=1, state=state), clock("running", due=10, warned_at=at(0))
    assert board(idle, running).next_event(at(0), 0.8) == (at(10), running, "due")


def test_no_running_clock_no_event() -> None:
    assert board(clock(state=ClockState.MET)).next_event(at(0), 0.8) is None
    assert board().next_event(at(0), 0.8) is None


def test_breach_marks_the_clock_breached_at_that_time() -> None:
    c = clock(due=10)
    b = board(c)
    b.breach(c, at(10))
    assert (c.state, c.breached_at, b.changed) == (ClockState.BREACHED, at(10), True)


# -- pausing -----------------------------------------------------------------------------------------


def test_pause_stops_running_clocks_but_the_acknowledgement_keeps_running() -> None:
    b = board(clock("acknowledgement"), clock("regulatory_decision"), clock("done", state=ClockState.MET))
    b.pause(at(2))
    assert states(b) == {
        "acknowledgement": ClockState.RUNNING,
        "regulatory_decision": ClockState.PAUSED,
        "done": ClockState.MET,
    }
    assert [c.paused_at for c in b.clocks] == [None, at(2), None]
    assert b.changed is True


def test_pause_keeps_running_the_clocks_it_is_told_to() -> None:
    b = board(clock("acknowledgement"), clock("investigation"))
    b.pause(at(2), keep=lambda c: c.name == "investigation")
    assert states(b) == {"acknowledgement": ClockState.PAUSED, "investigation": ClockState.RUNNING}


def test_waiting_on_the_customer_does_not_stop_a_report_owed_to_a_regulator() -> None:
    b = board(clock("acknowledgement"), clock("regulatory_decision"), clock("regulator_report_NFRA"))
    b.pause(at(2))
    assert states(b) == {
        "acknowledgement": ClockState.RUNNING,
        "regulatory_decision": ClockState.PAUSED,
        "regulator_report_NFRA": ClockState.RUNNING,
    }


def test_before_reports_ran_on_a_pause_stopped_them_too() -> None:
    b = board(clock("acknowledgement"), clock("regulator_report_NFRA"))
    b.pause(at(2), keep=only_the_acknowledgement)
    assert states(b) == {"acknowledgement": ClockState.RUNNING, "regulator_report_NFRA": ClockState.PAUSED}


def test_a_paused_clock_has_no_events() -> None:
    b = board(clock(due=10))
    b.pause(at(2))
    assert b.next_event(at(3), 0.8) is None


def test_effective_due_of_a_paused_clock_moves_with_the_pause() -> None:
    c = clock(due=10, state=ClockState.PAUSED, paused_at=at(2))
    assert effective_due(c, at(5)) == at(13)


def test_effective_due_of_a_running_clock_is_its_deadline() -> None:
    assert effective_due(clock(due=10), at(5)) == at(10)


def test_effective_due_of_a_paused_clock_without_a_pause_time_is_its_deadline() -> None:
    assert effective_due(clock(due=10, state=ClockState.PAUSED), at(5)) == at(10)


def test_resume_moves_deadlines_by_the_pause_and_returns_the_seconds() -> None:
    ack, decision = clock("acknowledgement", due=4), clock("regulatory_decision", due=10, paused_seconds=600)
    b = board(ack, decision)
    b.pause(at(2))
    b.changed = False
    assert b.resume(at(5)) == 3 * 3600
    assert (decision.state, decision.paused_at, decision.due_at) == (ClockState.RUNNING, None, at(13))
    assert decision.paused_seconds == 600 + 3 * 3600
    assert (ack.state, ack.due_at) == (ClockState.RUNNING, at(4))
    assert b.changed is True


def test_resume_with_nothing_paused_moves_nothing() -> None:
    c = clock(due=10)
    b = board(c)
    assert b.resume(at(5)) == 0
    assert (c.due_at, c.paused_seconds) == (at(10), 0)
    assert b.changed is True


def test_resume_leaves_alone_a_paused_clock_without_a_pause_time() -> None:
    c = clock(due=10, state=ClockState.PAUSED)
    assert board(c).resume(at(5)) == 0
    assert (c.state, c.due_at) == (ClockState.PAUSED, at(10))


def test_warning_after_a_pause_does_not_count_the_paused_time() -> None:
    c = clock(due=10)
    b = board(c)
    b.pause(at(2))
    b.resume(at(4))
    assert b.next_event(at(4), 0.8) == (at(10), c, "warning")


# -- settling ------------------------------------------------------------------------------------------


def test_settled_on_time_is_met() -> None:
    c = clock(due=10)
    b = board(c)
    assert b.settle(c, at(9), "acknowledged") == ClockState.MET
    assert (c.met_at, c.met_by, c.breached_at) == (at(9), "acknowledged", None)
    assert b.changed is True


def test_settled_exactly_at_the_deadline_is_met() -> None:
    c = clock(due=10)
    assert board(c).settle(c, at(10), "decided") == ClockState.MET


def test_settled_late_is_breached_and_records_when_it_was_done() -> None:
    c = clock(due=10)
    assert board(c).settle(c, at(11), "decided") == ClockState.BREACHED
    assert (c.state, c.breached_at, c.met_at, c.met_by) == (ClockState.BREACHED, at(11), at(11), "decided")


def test_a_paused_clock_is_judged_against_the_deadline_moved_by_the_pause() -> None:
    c = clock(due=10, state=ClockState.PAUSED, paused_at=at(8))
    assert board(c).settle(c, at(12), "decided") == ClockState.MET  # deadline moved to 14
    assert (c.paused_at, c.met_at) == (None, at(12))


def test_a_paused_clock_settled_after_its_moved_deadline_is_breached() -> None:
    c = clock(due=10, state=ClockState.PAUSED, paused_at=at(12))  # paused 2 hours after it fell due
    assert board(c).settle(c, at(13), "decided") == ClockState.BREACHED  # deadline moved to 11
    assert (c.paused_at, c.breached_at) == (None, at(13))


def test_an_already_breached_clock_records_when_it_was_done_but_stays_breached() -> None:
    c = clock(due=10, state=ClockState.BREACHED, breached_at=at(10))
    b = board(c)
    assert b.settle(c, at(12), "decided") == ClockState.BREACHED
    assert (c.breached_at, c.met_at, c.met_by) == (at(10), at(12), "decided")
    assert b.changed is True


def test_a_breached_clock_already_done_keeps_its_first_record() -> None:
    c = clock(due=10, state=ClockState.BREACHED, breached_at=at(10), met_at=at(12), met_by="first")
    assert board(c).settle(c, at(14), "second") == ClockState.BREACHED
    assert (c.met_at, c.met_by) == (at(12), "first")


@pytest.mark.parametrize("state", [ClockState.STOPPED, ClockState.MET])
def test_stopped_and_met_clocks_do_not_change_when_settled(state: ClockState) -> None:
    c = clock(due=10, state=state)
    before = c.model_copy()
    assert board(c).settle(c, at(12), "decided") == state
    assert c == before


def test_legacy_boards_settle_late_clocks_as_met() -> None:
    c = clock(due=10)
    assert board(c, late_is_breach=False).settle(c, at(11), "decided") == ClockState.MET
    assert (c.breached_at, c.met_at) == (None, at(11))


def test_strict_settles_late_clocks_as_breached_even_on_a_legacy_board() -> None:
    c = clock(due=10)
    assert board(c, late_is_breach=False).settle(c, at(11), "decided", strict=True) == ClockState.BREACHED


def test_not_strict_settles_late_clocks_as_met_on_a_current_board() -> None:
    c = clock(due=10)
    assert board(c).settle(c, at(11), "decided", strict=False) == ClockState.MET


def test_settle_named_settles_only_the_open_clocks_of_those_names() -> None:
    b = board(
        clock("acknowledgement", due=1),
        clock("simple_first_response", due=10),
        clock("regulatory_decision", due=5, state=ClockState.BREACHED, breached_at=at(5)),
        clock("follow_up", due=10),
    )
    b.settle_named(["acknowledgement", "simple_first_response", "regulatory_decision"], at(3), "resolved")
    assert states(b) == {
        "acknowledgement": ClockState.BREACHED,
        "simple_first_response": ClockState.MET,
        "regulatory_decision": ClockState.BREACHED,
        "follow_up": ClockState.RUNNING,
    }
    assert [c.met_by for c in b.clocks] == ["resolved", "resolved", None, None]
    assert b.changed is True


def test_settle_named_with_nothing_to_settle_still_marks_the_board_changed() -> None:
    b = board(clock())
    b.settle_named(["missing"], at(3), "resolved")
    assert b.changed is True


# -- unsettling, stopping --------------------------------------------------------------------------------


def test_unsettle_runs_again_the_clocks_met_by_that_duty() -> None:
    b = board(
        clock("regulatory_decision", state=ClockState.MET, met_at=at(3), met_by="proposal"),
        clock("acknowledgement", state=ClockState.MET, met_at=at(1), met_by="acknowledged"),
        clock("simple_first_response", state=ClockState.BREACHED, met_at=at(3), met_by="proposal"),
    )
    b.unsettle("proposal")
    decision, ack, first = b.clocks
    assert (decision.state, decision.met_at, decision.met_by) == (ClockState.RUNNING, None, None)
    assert (ack.state, ack.met_by) == (ClockState.MET, "acknowledged")
    assert (first.state, first.met_by) == (ClockState.BREACHED, "proposal")
    assert b.changed is True


@pytest.mark.parametrize("state", [ClockState.RUNNING, ClockState.PAUSED])
def test_stop_ends_an_open_clock(state: ClockState) -> None:
    c = clock(state=state, paused_at=at(1) if state == ClockState.PAUSED else None)
    b = board(c)
    b.stop(c)
    assert (c.state, c.paused_at, b.changed) == (ClockState.STOPPED, None, True)


@pytest.mark.parametrize("state", [ClockState.MET, ClockState.BREACHED])
def test_stop_leaves_an_ended_clock_alone(state: ClockState) -> None:
    c = clock(state=state)
    board(c).stop(c)
    assert c.state == state


def test_stop_all_stops_open_clocks_but_keeps_regulator_reports() -> None:
    b = board(
        clock("regulator_report_NFRA"),
        clock("acknowledgement", state=ClockState.MET),
        clock("simple_first_response"),
        clock("regulatory_decision", state=ClockState.PAUSED, paused_at=at(1)),
    )
    b.stop_all()
    assert states(b) == {
        "regulator_report_NFRA": ClockState.RUNNING,
        "acknowledgement": ClockState.MET,
        "simple_first_response": ClockState.STOPPED,
        "regulatory_decision": ClockState.STOPPED,
    }
    assert b.changed is True


def test_stop_all_with_settle_by_settles_each_open_clock_by_its_deadline() -> None:
    b = board(clock("regulator_report_NFRA"), clock("acknowledgement", due=1), clock("regulatory_decision", due=10))
    b.stop_all(settle_by="withdrawn", now=at(5))
    assert states(b) == {
        "regulator_report_NFRA": ClockState.RUNNING,
        "acknowledgement": ClockState.BREACHED,
        "regulatory_decision": ClockState.MET,
    }
    assert [c.met_by for c in b.clocks] == [None, "withdrawn", "withdrawn"]


def test_stop_all_keeps_what_it_is_told_to() -> None:
    b = board(clock("regulator_report_NFRA"), clock("investigation"))
    b.stop_all(keep=lambda c: c.name == "investigation")
    assert states(b) == {"regulator_report_NFRA": ClockState.STOPPED, "investigation": ClockState.RUNNING}


def test_stop_all_settling_needs_the_time() -> None:
    with pytest.raises(AssertionError, match=r"^settling needs the time$"):
        board(clock()).stop_all(settle_by="withdrawn")


# -- look-back revisits ----------------------------------------------------------------------------------


def test_open_revisit_is_the_latest_look_back_clock_still_to_do() -> None:
    first, second = clock("look_back_1", due=1), clock("look_back_2", due=2)
    assert board(first, second, clock("follow_up")).open_revisit() is second


def test_a_breached_revisit_not_yet_done_is_still_open() -> None:
    late = clock("look_back_1", state=ClockState.BREACHED, breached_at=at(10))
    assert board(late, clock("look_back_2", state=ClockState.MET)).open_revisit() is late


@pytest.mark.parametrize(
    "fields",
    [
        {"state": ClockState.MET, "met_at": T0},
        {"state": ClockState.BREACHED, "met_at": T0},
        {"state": ClockState.STOPPED},
        {"state": ClockState.PAUSED},
    ],
)
def test_revisits_done_or_ended_are_not_open(fields: dict[str, Any]) -> None:
    assert board(clock("look_back_1", **fields), clock("follow_up")).open_revisit() is None


# -- an incident shortens the company's own clocks -----------------------------------------------


def test_an_incident_halves_the_remaining_time_of_running_internal_clocks_only() -> None:
    internal = clock("simple_first_response", due=10)
    regulatory = clock("regulatory_decision", due=360)
    acknowledgement = clock("acknowledgement", due=24)
    report = clock("regulator_report_NFRA", due=24)
    b = board(internal, regulatory, acknowledgement, report)
    moved = b.shorten_internal(at(2), 0.5)
    assert [(c.name, old) for c, old in moved] == [("simple_first_response", at(10))]
    assert internal.due_at == at(6)  # 8 hours left become 4
    assert (regulatory.due_at, acknowledgement.due_at, report.due_at) == (at(360), at(24), at(24))
    assert b.changed


def test_shortening_never_moves_a_clock_later_nor_one_not_running_or_already_due() -> None:
    paused = clock("complex_first_response", due=120, state=ClockState.PAUSED, paused_at=at(1))
    met = clock("major_first_response", due=4, state=ClockState.MET, met_at=at(1))
    late = clock("simple_first_response", due=10)
    b = board(paused, met, late)
    assert b.shorten_internal(at(11), 0.5) == [] and late.due_at == at(10)
    assert b.shorten_internal(at(2), 1.0) == []  # a factor of 1 leaves them
    assert (paused.due_at, met.due_at) == (at(120), at(4)) and not b.changed
