"""`complaints keys`: the staff's signing keys (issue 16).

``init`` makes your key pair in your own configuration directory (never in the repository) and
prints the public key; ``register`` adds a public key to the staff directory (a senior manager or
compliance, signed with their own key); ``revoke`` withdraws one (its owner, a senior manager or
compliance); ``list`` shows who has which keys, valid, ended or revoked. After a registration or
revocation the open complaints are asked to read the keys again (``refresh``, also on its own).
``demo`` makes and registers a key for every member of staff: for the demo's database only.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from complaints.actions import refresh_staff_keys
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
    run,
    temporal_client,
)
from complaints.config import Settings
from complaints.keys import KeyFileError, choose_key, keys_on_disk, make_key, set_up_demo_keys, sign_request
from complaints.temporal import TemporalUnreachable
from db.engine import make_engine, migrate
from db.seed import seed_staff_directory
from db.signed_actions import workflow_signed_actions
from db.staff_keys import (
    KEYS_WORKFLOW,
    REGISTER,
    REVOKE,
    KeyRegistryError,
    all_keys,
    anonymised_at,
    keys_of,
    list_keys,
    pinned_policy,
    register_key,
    revoke_key,
    signed_actions,
)
from domain.policy import PolicyStore
from domain.signatures import key_refusal, recheck_log, when
from models.signature import RegisterKeyRequest, RevokeKeyRequest, SigningMode, StaffKeyRow

keys_app = typer.Typer(
    help="Your signing key, and the staff's public keys: make, register, revoke, list.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Staff = Annotated[str, typer.Option("--staff", help="Whose key (staff id).")]


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as e:
        raise CliError(f"{option} {value}: not an ISO 8601 time, e.g. 2026-12-01T00:00:00Z", EXIT_USAGE) from e
    if moment.tzinfo is None:
        raise CliError(f"{option} {value}: say its time zone, e.g. 2026-12-01T00:00:00Z or +08:00", EXIT_USAGE)
    return moment


def _refused(e: KeyRegistryError) -> CliError:
    return CliError(str(e), EXIT_NOT_FOUND if e.kind == "not_found" else EXIT_REFUSED)


def _signing_key(settings: Settings, actor: str, now: datetime) -> str:
    """Which of ``actor``'s keys on this machine to sign with: registered and good now."""
    chosen = choose_key(actor, [k.as_key() for k in keys_of(engine(settings), actor)], now)
    if chosen is None:
        here = ", ".join(keys_on_disk(actor)) or "none"
        raise CliError(
            f"no key of {actor} here is registered and valid (keys here: {here}): "
            f"run `complaints keys init --as {actor}` and have a senior manager or compliance register it",
            EXIT_REFUSED,
        )
    return chosen


def status(row: StaffKeyRow, now: datetime) -> str:
    """``valid``, ``revoked …``, ``ended …``, ``valid from …`` as ``keys list`` shows a key now."""
    if row.revoked_at is not None:
        return f"revoked {when(row.revoked_at)} by {row.revoked_by}: {row.revoked_reason}"
    refusal = key_refusal(row.as_key(), now, now)
    if refusal is None:
        return "valid" + (f" until {when(row.valid_until)}" if row.valid_until else "")
    if now < row.valid_from:
        return f"valid from {when(row.valid_from)}"
    return f"ended {when(row.valid_until)}" if row.valid_until else refusal


@keys_app.command("init")
def keys_init(
    actor: As,
    rotate: Annotated[
        bool,
        typer.Option("--rotate", help="Replace your key; the old one stays usable until the rotation is registered."),
    ] = False,
    as_json: Json = False,
) -> None:
    """Make your signing key (in your configuration directory, mode 0600) and print its public key."""

    async def body(settings: Settings) -> None:
        try:
            made = make_key(actor, rotate=rotate)
        except KeyFileError as e:
            raise CliError(str(e), EXIT_USAGE) from e
        if as_json:
            print_json(made)
            return
        out.print(f"key id:     {made.key_id}")
        out.print(f"public key: {made.public_key}")
        out.print(f"private key written to {made.path} (mode 0600; never copy it into the repository)")
        replaces = f" --replaces {made.replaces}" if made.replaces else ""
        if made.replaces:
            out.print(f"your old key {made.replaces} stays usable until the new one is registered (with{replaces})")
        out.print("have a senior manager or compliance register it:")
        out.print(
            f"  complaints keys register --as <their id> --staff {actor} --public-key {made.public_key}{replaces}"
        )

    run(body)


@keys_app.command("register")
def keys_register(
    actor: As,
    staff: Staff,
    public_key: Annotated[str, typer.Option("--public-key", help="As `keys init` printed it (base64).")],
    valid_from: Annotated[
        str | None, typer.Option("--valid-from", help="ISO 8601 with a time zone; default now.")
    ] = None,
    valid_until: Annotated[
        str | None, typer.Option("--valid-until", help="ISO 8601 with a time zone; default open-ended.")
    ] = None,
    replaces: Annotated[
        str | None, typer.Option("--replaces", help="The key this one rotates out: it ends when this one starts.")
    ] = None,
    bootstrap: Annotated[
        bool,
        typer.Option("--bootstrap", help="Register your own first key unsigned: only while no registrar has any key."),
    ] = False,
    as_json: Json = False,
) -> None:
    """Register a staff member's public key (a senior manager or compliance, signed with their own key)."""

    async def body(settings: Settings) -> None:
        now = datetime.now(UTC)
        try:
            request = RegisterKeyRequest(
                actor=actor,
                staff_id=staff,
                public_key=public_key.strip(),
                valid_from=_moment(valid_from, "--valid-from") or now,
                valid_until=_moment(valid_until, "--valid-until"),
                replaces=replaces,
            )
            if not bootstrap:
                key_id = _signing_key(settings, actor, now)
                signature = sign_request(actor, KEYS_WORKFLOW, REGISTER, request, key_id=key_id, now=now)
                request = request.model_copy(update={"signature": signature})
            row = register_key(engine(settings), request, now, bootstrap=bootstrap)
        except KeyRegistryError as e:
            raise _refused(e) from e
        except KeyFileError as e:
            raise CliError(str(e), EXIT_REFUSED) from e
        if as_json:
            print_json(row)
            return
        ends = f", ending {replaces}" if replaces else ""
        out.print(f"key {row.key_id} of {row.staff_id} registered by {row.added_by}: {status(row, now)}{ends}")
        await _tell_open_complaints(settings)

    run(body)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id, as `keys list` shows it.")],
    actor: As,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the key; shown when it is refused).")],
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="From when nothing it signed counts (ISO 8601, e.g. when it was lost); default now."
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Revoke a key: its owner, a senior manager or compliance (signed with their own key)."""

    async def body(settings: Settings) -> None:
        now = datetime.now(UTC)
        try:
            request = RevokeKeyRequest(
                actor=actor, key_id=key_id, reason=reason.strip(), effective_at=_moment(since, "--since") or now
            )
            signing = _signing_key(settings, actor, now)
            signature = sign_request(actor, KEYS_WORKFLOW, REVOKE, request, key_id=signing, now=now)
            row = revoke_key(engine(settings), request.model_copy(update={"signature": signature}), now)
        except KeyRegistryError as e:
            raise _refused(e) from e
        except KeyFileError as e:
            raise CliError(str(e), EXIT_REFUSED) from e
        if as_json:
            print_json(row)
            return
        out.print(
            f"key {row.key_id} of {row.staff_id} revoked from {when(row.revoked_at or now)}: {row.revoked_reason}"
        )
        await _tell_open_complaints(settings)

    run(body)


@keys_app.command("list")
def keys_list(
    staff: Annotated[str | None, typer.Option("--staff", help="Only this staff member's keys.")] = None,
    as_json: Json = False,
) -> None:
    """The staff's registered public keys and whether each is valid now."""

    async def body(settings: Settings) -> None:
        rows = list_keys(engine(settings), staff)
        if as_json:
            print_json([r.model_dump(mode="json") for r in rows])
            return
        if not rows:
            out.print("no keys registered" + (f" for {staff}" if staff else " yet"))
            return
        now = datetime.now(UTC)
        table = Table("staff", "key id", "status", "valid from", "added by", "public key")
        for r in rows:
            table.add_row(r.staff_id, r.key_id, status(r, now), when(r.valid_from), r.added_by, r.public_key)
        out.print(table)

    run(body)


async def _tell_open_complaints(settings: Settings) -> None:
    """Best effort after a change: the directory is already right; complaints opened later read it anyway."""
    try:
        told = await asyncio.wait_for(refresh_staff_keys(await temporal_client(settings)), timeout=60)
    except (TemporalUnreachable, TimeoutError) as e:
        out.print(f"open workflows not told yet ({e}); run `complaints keys refresh` once Temporal is reachable")
        return
    out.print(f"{told} open workflow(s) asked to read the keys again")


@keys_app.command("refresh")
def keys_refresh() -> None:
    """Ask every open workflow that checks signatures to read the keys again (register and revoke do it too)."""

    async def body(settings: Settings) -> None:
        told = await refresh_staff_keys(await temporal_client(settings))
        out.print(f"{told} open workflow(s) asked to read the keys again")

    run(body)


@keys_app.command("demo")
def keys_demo() -> None:
    """The demo's keys: one for every member of staff in this configuration directory, registered at once.

    Only for a demo database, where one person plays every role (`make run` runs it). In
    production each person runs `keys init` and a registrar registers the public key, signed.
    """

    async def body(settings: Settings) -> None:
        migrate(settings.database_url)  # the demo's database, as the worker sets it up (both idempotent)
        demo = make_engine(settings.database_url)
        seed_staff_directory(demo, settings.staff_directory_file)
        new = set_up_demo_keys(demo)
        out.print(f"demo staff keys: {len(new)} new ({', '.join(new) or 'all were there'})")

    run(body)


def verify(
    complaint_id: Annotated[
        str,
        typer.Argument(
            help="A complaint (CMP-…), or the workflow id of an award, training, early warning, clause "
            "review, incident, recall or remediation (as `temporal workflow list` shows it)."
        ),
    ],
    as_json: Json = False,
) -> None:
    """Check every signed action of a complaint or workflow again, from its audit log (exit 1 if any fails).

    Each is checked as the workflow checked it, with the keys as the directory holds them now: an
    altered payload, actor or action fails as a bad signature, a copied row as a replay, and a key
    revoked back to before the action as revoked.
    """

    async def body(settings: Settings) -> None:
        db = engine(settings)
        policies = PolicyStore.from_file(settings.policy_file)
        found = signed_actions(db, complaint_id)
        if found is None:  # not a complaint: a cross-complaint workflow's actions, checked as its policy says now
            found, policy, known = workflow_signed_actions(db, complaint_id), policies.current, True
            if not found:
                raise CliError(f"no complaint and no workflow with signed actions {complaint_id}", EXIT_NOT_FOUND)
        else:
            erased = anonymised_at(db, complaint_id)
            if erased is not None:  # retention erased what was signed: nothing left to check it against
                out.print(
                    f"{complaint_id}: anonymised at {when(erased)} under the retention policy; "
                    f"its {len(found)} signed action(s) can no longer be checked"
                )
                return
            pinned = pinned_policy(db, complaint_id)
            known = pinned is not None and pinned in policies  # a version no file here holds: judged leniently
            policy = policies.get(pinned) if pinned is not None and known else policies.current
        rows = recheck_log(
            found,
            all_keys(db),
            timedelta(seconds=policy.signing.window_seconds),
            signatures_required=known and policy.signing.mode is SigningMode.REQUIRE,
        )
        failures = [r for r in rows if not r.ok]
        if as_json:
            actions = [r.model_dump(mode="json") for r in rows]
            print_json({"complaint_id": complaint_id, "signed_actions": actions, "failed": len(failures)})
        else:
            table = Table("log", "seq", "at", "action", "actor", "key id", "result")
            for r in rows:
                table.add_row(r.log, str(r.seq), when(r.at), r.action, r.actor, r.key_id or "-", r.result)
            out.print(table)
            verdict = f"{len(failures)} of {len(rows)} FAILED" if failures else f"all {len(rows)} verified"
            out.print(f"{complaint_id}: {verdict}")
        if failures:
            raise CliError(f"{len(failures)} signed action(s) of {complaint_id} do not verify", EXIT_REFUSED)

    run(body)
