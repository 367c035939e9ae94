"""What staff type into an action: refused, with the field named, if a screen or the database cannot keep it."""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel, ValidationError

import models.actions
import models.investigation
from models.actions import Action, CustomerAnswer, FeedbackRequest, ProposalRequest
from models.complaint import WithdrawRequest
from models.intake import KEEPABLE


def request_models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = [WithdrawRequest]
    pending: list[type[BaseModel]] = [Action]
    while pending:
        model = pending.pop()
        found.append(model)
        pending.extend(model.__subclasses__())
    return found


def mentions_str(annotation: object) -> bool:
    return annotation is str or any(mentions_str(arg) for arg in typing.get_args(annotation))


def test_every_text_a_member_of_staff_types_is_checked() -> None:
    """A new free-text field cannot forget the check: it would let a NUL reach PostgreSQL."""
    assert models.actions and models.investigation  # every request model is loaded
    unchecked = []
    for model in request_models():
        for name, field in model.model_fields.items():
            metadata = _metadata(field.annotation, field.metadata)
            patterned = any(getattr(m, "pattern", None) for m in metadata)  # e.g. ^[A-Z]{3}$: nothing else passes
            if mentions_str(field.annotation) and not patterned and KEEPABLE not in metadata:
                unchecked.append(f"{model.__name__}.{name}")
    assert unchecked == []


def _metadata(annotation: object, own: list[object]) -> list[object]:
    found = list(own)
    for arg in typing.get_args(annotation):
        found.extend(getattr(arg, "__metadata__", ()))
        found.extend(_metadata(arg, []))
    return found


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda text: FeedbackRequest(actor="S-HND-001", message=text), "message"),
        (
            lambda text: ProposalRequest(actor="S-HND-001", explanation="Refund.", contract_revision=text),
            "contract_revision",
        ),
        (lambda text: CustomerAnswer(actor="S-HND-001", accepted=False, comments=text), "comments"),
        (lambda text: WithdrawRequest(reason=text, relayed_by="web"), "reason"),
        (lambda text: FeedbackRequest(actor=text, message="Hello"), "actor"),
    ],
)
@pytest.mark.parametrize("bad", ["a\x00b", "\x1b[31mred", "abc\u202edef"])
def test_control_characters_in_staff_text_are_refused_by_name(build: typing.Any, field: str, bad: str) -> None:
    with pytest.raises(ValidationError) as refused:
        build(bad)
    assert [error["loc"] for error in refused.value.errors()] == [(field,)]
    assert "is not allowed" in str(refused.value)


def test_tabs_and_new_lines_are_kept() -> None:
    assert FeedbackRequest(actor="S-HND-001", message="Line one\n\tLine two").message == "Line one\n\tLine two"
