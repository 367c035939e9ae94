"""Signed staff actions inside a workflow (issue 16): check, then accept once.

``SignedActions`` holds what the check needs (the registered keys, the nonces of the window) and
applies ``domain.signatures.verify`` deterministically, with the workflow's time. It is a plain
object a workflow builds in ``init`` and carries across continue-as-new:

- ``check``: in a validator, and again in the handler (the handler's re-check is the one that
  counts: two updates that carry the same nonce may both pass their validators before either
  handler runs; the second handler finds the first's nonce and is refused as a replay).
- ``hold``/``attach``/``commit``/``drop``: the handler holds the checked signature while it acts;
  the first event its actor records carries it (``detail["signed"]``, what ``complaints verify``
  re-checks); once the action went through its nonce is remembered. A refused action leaves
  nothing behind.

The mode comes from the complaint's pinned policy (``HandlingRules.signing_mode``): ``off`` for
complaints opened before signing, so their histories replay unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow

from activities.staff import StaffActivities
from domain.rules import Refused
from domain.signatures import prune_nonces, signed_payload, verify
from models.actions import Action
from models.signature import (
    Signature,
    SignedAction,
    SigningCarried,
    SigningMode,
    SigningRequest,
    SigningSetup,
    StaffKey,
)
from workflows.options import call


@dataclass(frozen=True)
class Held:
    """A checked action waiting for its handler to finish."""

    action: str
    actor: str
    payload: dict[str, Any]
    signature: Signature | None


def action_name(explicit: str | None = None) -> str:
    """The action being checked: a signal names itself; an update is the one running."""
    if explicit:
        return explicit
    info = workflow.current_update_info()
    if info is None:
        raise RuntimeError("a signal's signature check must name its action")
    return info.name


class SignedActions:
    """A workflow's signed actions: the keys, the nonces of the window, and the action whose turn it is.

    A workflow whose staff actions take turns (an ``asyncio.Lock``) runs each one's ``turn`` inside
    the lock; in between, ``check`` holds the signature of
    the action whose turn it is (not of another update's validator running meanwhile) and
    ``attach`` hands it to the first event that action's actor records.
    """

    def __init__(self, keys: list[StaffKey] | None = None, nonces: dict[str, datetime] | None = None) -> None:
        self.keys: list[StaffKey] = list(keys or [])
        self.nonces: dict[str, datetime] = dict(nonces or {})
        self._turn: str | None = None  # the update's id whose turn it is ("" a signal's or the run's)
        self._held: Held | None = None
        self._attached = False

    def refresh(self, keys: list[StaffKey]) -> None:
        self.keys = list(keys)

    def _begin_turn(self) -> None:
        self._turn, self._held, self._attached = _running_update(), None, False

    @asynccontextmanager
    async def turn(
        self, window: timedelta, signed_alone: Callable[[str, dict[str, Any]], Awaitable[None]]
    ) -> AsyncIterator[None]:
        """One action's turn (inside the workflow's lock): what it signed is remembered if it went
        through; ``signed_alone`` records it when none of its actor's events carried it."""
        self._begin_turn()
        done = False
        try:
            yield
            done = True
        finally:
            left = self._end_turn(done, window)
            if left is not None:
                await signed_alone(*left)

    def _end_turn(self, done: bool, window: timedelta) -> tuple[str, dict[str, Any]] | None:
        """The turn is over. ``done``: the action went through, so its nonce is remembered; if no
        event of its actor carried the signature, the actor and detail of one to record."""
        held, self._held, self._turn = self._held, None, None
        if held is None or not done:
            return None  # a refused action leaves no nonce and no audit row
        if held.signature is not None:
            self.nonces[held.signature.nonce] = held.signature.issued_at
        self.nonces = prune_nonces(self.nonces, workflow.now(), window)
        return None if self._attached else (held.actor, {"signed": signed_member(held)})

    def _in_turn(self) -> bool:
        return self._turn is not None and self._turn == _running_update()

    def check(
        self,
        mode: SigningMode,
        window: timedelta,
        request: Action | BaseModel,
        action: str | None = None,
        actor: str | None = None,
    ) -> None:
        """Refuse (``Refused``, with the reason) what the mode does not allow. In the handler's own
        turn (its re-check of the validator) the checked signature is held for the end of the turn.
        ``actor``: who acts, when the request does not call them ``actor`` (a training assignment's
        ``assigned_by``)."""
        if mode is SigningMode.OFF:
            return
        payload = signed_payload(request)
        name = action_name(action)
        who = actor if actor is not None else str(getattr(request, "actor", ""))
        signature: Signature | None = getattr(request, "signature", None)
        if signature is not None or mode is not SigningMode.RECORD:
            # cryptography raises a failed check from Rust, which imports cryptography.exceptions as
            # it raises: inside the sandbox that import must be the worker's own module, never a
            # fresh one (a second load of the Rust extension aborts the process).
            with workflow.unsafe.imports_passed_through():
                reason = verify(
                    self.keys,
                    who,
                    workflow.info().workflow_id,
                    name,
                    payload,
                    signature,
                    workflow.now(),
                    window,
                    self.nonces,
                )
            if reason:
                raise Refused(f"signature refused: {reason}")
        if self._in_turn():
            self._held = Held(name, who, payload, signature)

    def drop(self) -> None:
        """A signal's action refused after its signature held (recorded as refused, not as signed)."""
        self._held = None

    def attach(self, actor: str) -> dict[str, Any] | None:
        """The ``signed`` member for the first event the held action's actor records (None: not that event)."""
        held = self._held
        if held is None or self._attached or actor != held.actor or not self._in_turn():
            return None
        self._attached = True
        return signed_member(held)


SIGNED_ALONE = "signed_action"  # the event of an action none of whose actor's events carried its signature


def signed_member(held: Held) -> dict[str, Any]:
    """What ``complaints verify`` re-checks, kept as the ``signed`` member of the action's event
    (sealed at rest as one value when the projection is encrypted)."""
    signature = held.signature.model_dump(mode="json") if held.signature else None
    return {
        "action": held.action,
        "key_id": held.signature.key_id if held.signature else None,
        "payload": held.payload,
        "signature": signature,
    }


def _running_update() -> str:
    """The id of the update whose task this is ("" in a signal or the workflow's own run)."""
    info = workflow.current_update_info()
    return info.id if info is not None else ""


# The patch behind which the cross-complaint workflows check signed staff actions.
SIGNED_STAFF_ACTIONS = "signed-staff-actions"


class StaffSignatures:
    """The signed staff actions of a workflow that is not one complaint (award, training, early
    warning, clause review, incident, recall, remediation): ``SignedActions`` with the workflow's
    own signing set-up, and what it accepted kept in the ``signed_actions`` table.

    - ``load`` at the start of ``run``: the current policy's mode and window and the staff's keys
      (one activity). A run that started before signing existed replays with the mode ``off``
      (patch ``signed-staff-actions``); a continued run carries its set-up (``carry``).
    - ``check`` in a validator (after the workflow's own refusal) and again in the handler, inside
      ``turn`` (itself inside the workflow's lock): the action's signature held, and kept once the
      handler went through (``StaffActivities.record_signed_action``, on the nonce).
    - ``admit``: a workflow started by a staff action (a manual training assignment, a recall)
      checks its start request the same way, at the start of ``run``.
    - ``refresh`` on ``refresh_staff_keys``: the keys read again (after a key was registered or
      revoked).
    """

    def __init__(self, carried: SigningCarried | None = None) -> None:
        c = carried or SigningCarried()
        self.mode: SigningMode | None = c.mode  # None: not loaded yet (validators refuse for now)
        self.window = timedelta(seconds=c.window_seconds)
        self.actions = SignedActions(c.keys, c.nonces)

    async def load(self) -> None:
        if self.mode is not None:
            return  # carried across continue-as-new
        if not workflow.patched(SIGNED_STAFF_ACTIONS):
            self.mode = SigningMode.OFF  # a run from before signing: its history replays unchanged
            return
        setup = await self._load("Load the signing policy and the staff's keys")
        self.window = timedelta(seconds=setup.window_seconds)
        self.mode = setup.mode
        self.actions.nonces.update(setup.nonces)  # an earlier run's under this id: no replay across runs

    async def refresh(self) -> None:
        if self.mode is None or self.mode is SigningMode.OFF:
            return  # nothing checked, or the set-up not loaded yet (it reads the keys itself)
        await self._load("Reload the staff's signing keys")

    async def _load(self, summary: str) -> SigningSetup:
        setup: SigningSetup = await call(
            StaffActivities.load_signing, SigningRequest(workflow_id=workflow.info().workflow_id), summary=summary
        )
        self.actions.refresh(setup.keys)
        return setup

    def check(self, request: BaseModel, action: str | None = None, actor: str | None = None) -> None:
        if self.mode is None:
            raise Refused("the staff's signing keys are still being loaded; try again in a moment")
        self.actions.check(self.mode, self.window, request, action, actor)

    def turn(self) -> AbstractAsyncContextManager[None]:
        return self.actions.turn(self.window, self._keep)

    async def admit(self, request: BaseModel, action: str, actor: str | None = None) -> str | None:
        """The staff action that started the workflow, checked (None: admitted; else the reason)."""
        await self.load()
        try:
            async with self.turn():
                self.check(request, action, actor)
        except Refused as refused:
            return str(refused)
        return None

    async def _keep(self, actor: str, detail: dict[str, Any]) -> None:
        signed = detail["signed"]
        signature = signed.get("signature")
        await call(
            StaffActivities.record_signed_action,
            SignedAction(
                workflow_id=workflow.info().workflow_id,
                action=signed["action"],
                actor=actor,
                payload=signed["payload"],
                signature=Signature.model_validate(signature) if signature else None,
                at=workflow.now(),
            ),
            summary=f"Keep {actor}'s signed {signed['action']}",
        )

    def carry(self) -> SigningCarried:
        return SigningCarried(
            mode=self.mode,
            window_seconds=int(self.window.total_seconds()),
            keys=list(self.actions.keys),
            nonces=dict(self.actions.nonces),
        )
