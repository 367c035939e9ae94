"""`complaints education`: customer education topics and the actions logged against them (step 5).

``list`` reads the database directly (no Temporal): each topic's complaints closed as a
customer misunderstanding (the policy's ``education.root_causes``) in the period and the
periods before, and each action with the topic's monthly complaints before and after it.
``log`` records a meeting, leaflet or page against a topic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from complaints.cli.common import (
    EXIT_NOT_FOUND,
    EXIT_REFUSED,
    EXIT_USAGE,
    As,
    CliError,
    Json,
    engine,
    out,
    print_json,
    require_staff,
    run,
    signer,
    temporal_client,
)
from complaints.config import Settings
from complaints.education import EducationActionInvalid, check, log_education
from complaints.intake import policy_in_force
from db.education_queries import overview
from domain.analysis import LABEL_FORMS, period_from_label, previous_period
from models.analysis import Period, PeriodKind
from models.education import ActionEffect, EducationActionRequest, EducationKind, EducationOverview

education_app = typer.Typer(
    help="Customer education: topics from complaints closed as a misunderstanding, and the actions logged.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _period(label: str | None, timezone: str) -> Period:
    if label is None:  # the quarter that ended last
        return previous_period(PeriodKind.QUARTER, datetime.now(UTC), timezone)
    try:
        return period_from_label(label)
    except ValueError as e:
        raise CliError(f"--period {label!r}: write it as {LABEL_FORMS}", EXIT_USAGE) from e


@education_app.command("list")
def education_list(
    period: Annotated[
        str | None,
        typer.Option("--period", help="2026-10, 2026-Q4 or 2026-H1 (default: the last whole quarter)."),
    ] = None,
    periods: Annotated[int, typer.Option("--periods", min=1, max=12, help="Periods shown, this one first.")] = 4,
    top: Annotated[
        int, typer.Option("--top", min=1, help="Topics shown: the most this period first, those with actions always.")
    ] = 20,
    as_json: Json = False,
) -> None:
    """Each education topic's complaints in the period and the periods before, and each action
    logged against it: the topic's complaints in the months before it and after it, and the change."""

    async def body(settings: Settings) -> None:
        policy = policy_in_force()
        chosen = _period(period, policy.timezone)
        today = datetime.now(ZoneInfo(policy.timezone)).date()
        with engine(settings).connect() as conn:
            found = overview(conn, chosen, policy, periods=periods, today=today)
        if as_json:
            print_json(found)
        else:
            _print(found, chosen, top)

    run(body)


def _print(found: EducationOverview, period: Period, top: int) -> None:
    causes = ", ".join(c.replace("_", " ") for c in found.root_causes)
    running = f"; it runs to {period.end}, counted to {found.as_of}" if found.as_of < period.end else ""
    out.print(
        f"Education topics {period.label} ({period.start} to {period.end}{running}): complaints closed as {causes}, "
        "by product and topic"
    )
    if not found.topics:
        out.print("none: no complaint closed with such a root cause, and no action logged")
        return
    topics = Table("product", "topic", *found.periods, "actions")
    shown = [t for i, t in enumerate(found.topics) if i < top or t.actions]
    for t in shown:
        latest = f"{len(t.actions)}, last {t.actions[-1].action.held_on}" if t.actions else "—"
        topics.add_row(t.product, t.topic, *(str(n) for n in t.counts), latest)
    out.print(topics)
    if len(shown) < len(found.topics):
        out.print(f"… and {len(found.topics) - len(shown)} topics with fewer complaints (--top, or --json for all)")
    done = [(t, e) for t in found.topics for e in t.actions]
    if not done:
        out.print("No education action logged yet: `complaints education log --product … --topic … --kind …`")
        return
    months = done[0][1].effect.months
    out.print(
        f"Actions held by {found.as_of}: the topic's complaints in the {months} months before each "
        "against the whole months after it so far (per month)"
    )
    actions = Table("held on", "product", "topic", "kind", "title", "reach", "by", "before", "after", "change")
    for t, e in sorted(done, key=lambda d: (d[1].action.held_on, d[1].action.id)):
        x = e.action
        actions.add_row(
            str(x.held_on), t.product, t.topic, x.kind.value, x.title, "—" if x.reach is None else f"{x.reach:,}",
            x.recorded_by, *_effect(e),
        )  # fmt: skip
    out.print(actions)


def _effect(e: ActionEffect) -> tuple[str, str, str]:
    f = e.effect
    before = f"{' '.join(map(str, f.before))} ({f.before_per_month:g}/month)"
    if f.after_per_month is None:
        return before, "—", f.verdict
    after = f"{' '.join(map(str, f.after))} ({f.after_per_month:g}/month)"
    if f.change_percent is None:
        return before, after, f.verdict
    sign = "+" if f.change_percent > 0 else "−" if f.change_percent < 0 else "±"
    return before, after, f"{sign}{abs(f.change_percent):.1f}% {f.verdict}"


@education_app.command("log")
def education_log(
    product: Annotated[
        str, typer.Option("--product", help="A product code of the policy's catalogue, or unspecified.")
    ],
    topic: Annotated[str, typer.Option("--topic", help="The complaint category the action explains.")],
    kind: Annotated[str, typer.Option("--kind", help=", ".join(k.value for k in EducationKind))],
    title: Annotated[str, typer.Option("--title", help="What the meeting, leaflet or page is called.")],
    held_on: Annotated[str, typer.Option("--held-on", help="The day it was held or published (YYYY-MM-DD).")],
    as_: As,
    reach: Annotated[int | None, typer.Option("--reach", help="People reached, if known.")] = None,
    note: Annotated[str, typer.Option("--note", help="Anything to add (up to 500 characters).")] = "",
    as_json: Json = False,
) -> None:
    """Log an education action (a meeting, a leaflet, a page) against a product and topic."""

    async def body(settings: Settings) -> None:
        policy = policy_in_force()
        # A ValidationError names each field refused; run() prints it and exits 2.
        request = EducationActionRequest.model_validate(
            {"product": product, "topic": topic, "kind": kind, "title": title, "held_on": held_on,
             "reach": reach, "recorded_by": as_, "note": note}
        )  # fmt: skip
        try:
            check(request, policy)  # the policy's catalogue and the day, before anything is sent
        except EducationActionInvalid as e:
            raise CliError(str(e), EXIT_USAGE) from e
        require_staff(settings, as_)
        # The worker checks the signature and the recorder's role, and logs it (EducationLogWorkflow).
        result = await log_education(await temporal_client(settings), settings.task_queue, request, signer(settings))
        if result.refused is not None or result.action is None:
            code = EXIT_USAGE if result.invalid else EXIT_NOT_FOUND if result.unknown_staff else EXIT_REFUSED
            raise CliError(("" if result.invalid or result.unknown_staff else "refused: ") + str(result.refused), code)
        action, new = result.action, result.recorded
        if as_json:
            print_json({"action": action.model_dump(mode="json"), "recorded": new})
            return
        what = "logged" if new else "already logged"
        reached = "" if action.reach is None else f", reach {action.reach:,}"
        out.print(
            f"{what} #{action.id}: {action.kind.value} {action.title!r} on {action.product} / {action.topic}, "
            f"held {action.held_on}{reached}, by {action.recorded_by}"
        )

    run(body)
