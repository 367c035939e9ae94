"""What every command of the staff CLI shares: options, output, exit codes, error handling,
the Temporal client and the database engine, and the two ways of acting on a complaint
(an update that answers, a signal that does not)."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar, overload

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from complaints.actions import ComplaintActions
from complaints.codec import KeyRingError
from complaints.config import Settings
from complaints.intake import (
    ActionRefused,
    ComplaintNotFound,
    StaffNotFound,
    describe_validation_error,
)
from complaints.keys import KeyFileError, KeyFileSigner
from complaints.temporal import TemporalUnreachable, connect, exit_process
from db.engine import make_engine, normalise_url
from db.staff_keys import keys_for
from db.tables import Complaint, Staff
from domain.times import fmt_utc
from models.actions import ActionResult
from models.complaint import Status
from models.intake import Category, EvidenceRef, Money
from models.policy import Tier

EXIT_REFUSED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_UNREACHABLE = 1, 2, 3, 4

# Piped output (scripts, logs) gets wide lines instead of 80-column wrapping.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)

StatusChoice = StrEnum("StatusChoice", {s.value: s.value for s in Status})  # type: ignore[misc]
TierChoice = StrEnum("TierChoice", {t.value: t.value for t in Tier})  # type: ignore[misc]
CategoryChoice = StrEnum("CategoryChoice", {c.value: c.value for c in Category})  # type: ignore[misc]

As = Annotated[str, typer.Option("--as", help="Your staff id; your role comes from the staff directory.")]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
ComplaintId = Annotated[str, typer.Argument(help="Complaint id, e.g. CMP-29B545EDD8B4.")]

Request = TypeVar("Request", bound=BaseModel)
# An update on the complaint, named by its method: `ComplaintActions.record_findings`.
ComplaintAction = Callable[[ComplaintActions, str, Request], Awaitable[ActionResult]]
# A signal (fire and forget), named by its method: `ComplaintActions.escalate`.
ComplaintSignal = Callable[[ComplaintActions, str, Request], Awaitable[None]]


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def run(body: Callable[[Settings], Coroutine[Any, Any, None]]) -> None:
    """Run a command body; turn every expected failure into a sentence and an exit code."""
    settings = Settings()
    code = 0
    try:
        asyncio.run(body(settings))
    except StaffNotFound as e:
        err.print(f"error: {e}")
        code = EXIT_NOT_FOUND
    except ActionRefused as e:
        err.print(f"refused: {e}")
        code = EXIT_REFUSED
    except ComplaintNotFound as e:
        err.print(f"error: {e}")
        code = EXIT_NOT_FOUND
    except ValidationError as e:
        err.print("error: " + "; ".join(describe_validation_error(e)))
        code = EXIT_USAGE
    except TemporalUnreachable as e:
        err.print(f"error: {e}")
        code = EXIT_UNREACHABLE
    except OperationalError as e:
        err.print(f"error: the database at {settings.database_url} cannot be read: {e.orig}")
        code = EXIT_UNREACHABLE
    except KeyRingError as e:  # the payload key ring: missing, unreadable, or lacking a key id
        err.print(f"error: {e}")
        code = EXIT_UNREACHABLE
    except KeyFileError as e:  # the signing key: unreadable, open to others, or in the project
        err.print(f"error: {e}")
        code = EXIT_USAGE
    except CliError as e:
        err.print(f"error: {e}")
        code = e.code
    exit_process(code)


def when(value: datetime | None) -> str:
    """Every time the CLI prints, as the Web UI and the letters write it: converted to UTC, labelled."""
    return fmt_utc(value)


def print_json(data: Any) -> None:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    out.print_json(json.dumps(data, ensure_ascii=False, default=_json_value))


def _json_value(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


@functools.cache
def _engine_for(url: str) -> Engine:
    """The worker's database, as it is: never a new, empty one (SQLite would create the file)."""
    needs = "the CLI reads the worker's database: set COMPLAINTS_DATABASE_URL to the URL the worker uses"
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database or "").is_file():
            raise CliError(f"no database at {url} (the file does not exist); {needs}", EXIT_UNREACHABLE)
    engine = make_engine(url)
    if not inspect(engine).has_table(Complaint.__tablename__):
        raise CliError(f"the database at {url} has no complaints tables; {needs}", EXIT_UNREACHABLE)
    return engine


def engine(settings: Settings) -> Engine:
    """One engine per command run, however many reads it makes."""
    return _engine_for(settings.database_url)


def require_staff(settings: Settings, staff_id: str) -> None:
    """An ``--as`` the staff directory (as the worker seeded it) holds, active; else exit 3."""
    with Session(engine(settings)) as session:
        member = session.get(Staff, staff_id)
    if member is None or not member.active:
        raise CliError(f"no staff member {staff_id} in the staff directory", EXIT_NOT_FOUND)


async def temporal_client(settings: Settings) -> Client:
    return await connect(settings)


def signer(settings: Settings) -> KeyFileSigner:
    """Sign with the newest key here that the staff directory holds good (after ``keys init --rotate``,
    the old one until the new one is registered)."""
    return KeyFileSigner(registered=lambda staff_id: keys_for(engine(settings), [staff_id]))


# -- acting ------------------------------------------------------------------------------


def act(complaint_id: str, action: ComplaintAction[Request], build: Callable[[], Request], as_json: bool) -> None:
    """Run one update on the complaint, e.g. ``act(cid, ComplaintActions.assign, lambda: AssignRequest(...), ...)``."""

    async def body(settings: Settings) -> None:
        request = build()  # a ValidationError here names the bad argument
        actions = ComplaintActions(await temporal_client(settings), signer(settings))
        result = await action(actions, complaint_id, request)
        if as_json:
            print_json(result)
        else:
            out.print(f"{complaint_id}: {result.message} (status {result.status})")

    run(body)


def signal(
    complaint_id: str, action: ComplaintSignal[Request], build: Callable[[], Request], as_json: bool, done: str
) -> None:
    """Fire-and-forget actions: the complaint records what it made of them in its timeline."""

    async def body(settings: Settings) -> None:
        request = build()
        # No answer comes back from a signal, so an unknown sender is caught here (exit 3).
        require_staff(settings, getattr(request, "actor", ""))
        client = await temporal_client(settings)
        try:
            await action(ComplaintActions(client, signer(settings)), complaint_id, request)
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise ComplaintNotFound(f"no complaint {complaint_id} (or it is closed)") from e
            raise
        if as_json:
            print_json({"complaint_id": complaint_id, "signalled": action.__name__})
        else:
            out.print(f"{complaint_id}: {done}")

    run(body)


@overload
def money(amount: Decimal, currency: str, option: str) -> Money: ...
@overload
def money(amount: Decimal | None, currency: str, option: str) -> Money | None: ...
def money(amount: Decimal | None, currency: str, option: str) -> Money | None:
    if amount is None:
        return None
    try:
        return Money(amount=amount, currency=currency)
    except ValidationError as e:
        raise CliError(f"{option} {amount} {currency}: " + "; ".join(describe_validation_error(e)), EXIT_USAGE) from e


def evidence_refs(items: list[str]) -> list[EvidenceRef]:
    refs = []
    for item in items:
        uri, _, digest = item.rpartition("#sha256=")
        if not uri:
            raise CliError(f"--evidence {item!r}: write it as URI#sha256=<64 hex digits>", EXIT_USAGE)
        refs.append(EvidenceRef(uri=uri, sha256=digest))
    return refs
