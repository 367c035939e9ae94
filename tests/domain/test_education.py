"""Customer education's rules: the months around an action, and whether its topic's complaints fell."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from complaints.config import PROJECT_ROOT
from complaints.education import EducationActionInvalid, check
from domain.education import add_months, effect, ended, windows
from domain.policy import PolicyStore
from models.education import EducationActionRequest, EducationPolicy

STANDARD = PolicyStore.from_file(PROJECT_ROOT / "policies" / "standard.yaml").current


def test_the_months_around_an_action_are_anchored_on_its_day() -> None:
    before, after = windows(date(2026, 5, 31), 3)
    assert before == [
        (date(2026, 2, 28), date(2026, 3, 31)),
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 4, 30), date(2026, 5, 31)),
    ]
    assert after == [
        (date(2026, 5, 31), date(2026, 6, 30)),
        (date(2026, 6, 30), date(2026, 7, 31)),
        (date(2026, 7, 31), date(2026, 8, 31)),
    ]
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2026, 1, 15), -13) == date(2024, 12, 15)
    # A month after the action counts once it has ended: the first runs to 29 June, so it counts from then.
    assert ended(after, date(2026, 6, 28)) == []
    assert ended(after, date(2026, 6, 29)) == after[:1]
    assert ended(after, date(2026, 12, 31)) == after


def test_complaints_per_month_before_and_after_give_the_change_in_percent() -> None:
    fell = effect([12, 10, 14], [6, 5, 7], 3)
    assert (fell.before_per_month, fell.after_per_month, fell.change_percent, fell.verdict) == (
        12.0,
        6.0,
        -50.0,
        "fell",
    )
    # Two whole months after: judged per month on those two.
    rose = effect([3, 3, 3], [4, 5], 3)
    assert (rose.after_per_month, rose.change_percent, rose.verdict) == (4.5, 50.0, "rose")
    assert effect([2, 2, 2], [2, 2, 2], 3).verdict == "unchanged"
    early = effect([5, 4, 3], [], 3)
    assert (early.after_per_month, early.change_percent, early.verdict) == (None, None, "too early")
    none = effect([0, 0, 0], [1], 3)
    assert (none.change_percent, none.verdict) == (None, "no complaints before")


def test_the_policy_names_the_root_causes_the_recorders_and_the_months_compared() -> None:
    assert STANDARD.education.root_causes == ["customer_misunderstanding"]
    assert "customer_misunderstanding" in {r.code for r in STANDARD.root_causes if not r.upheld}
    assert [r.value for r in STANDARD.education.recorder_roles] == [
        "relationship_manager",
        "manager",
        "senior_manager",
        "compliance",
    ]
    assert STANDARD.education.comparison_months == 3
    with pytest.raises(ValidationError, match="comparison_months"):
        EducationPolicy(comparison_months=0)
    with pytest.raises(ValidationError, match="codes must be unique"):
        EducationPolicy(root_causes=["customer_misunderstanding", "customer_misunderstanding"])


def request(**fields: object) -> EducationActionRequest:
    base: dict[str, object] = dict(
        product="overdraft", topic="fees_and_interest", kind="leaflet", title="How interest is charged",
        held_on="2026-10-15", recorded_by="S-RM-007",
    )  # fmt: skip
    return EducationActionRequest.model_validate(base | fields)


def test_an_action_names_a_known_product_a_category_a_kind_and_a_past_day() -> None:
    now = datetime(2026, 11, 30, 1, tzinfo=UTC)
    check(request(), STANDARD, now)
    check(request(product="unspecified"), STANDARD, now)
    with pytest.raises(EducationActionInvalid, match=r"^product: 'mortgage' is not in the policy's catalogue"):
        check(request(product="mortgage"), STANDARD, now)
    with pytest.raises(
        EducationActionInvalid, match=r"^held_on: 2026-12-01 lies in the future \(today is 2026-11-30\)"
    ):
        check(request(held_on="2026-12-01"), STANDARD, now)
    for field, value in (("topic", "weather"), ("kind", "webinar"), ("held_on", "2026-13-01"), ("reach", -1)):
        with pytest.raises(ValidationError) as caught:
            request(**{field: value})
        assert [e["loc"][0] for e in caught.value.errors()] == [field]
