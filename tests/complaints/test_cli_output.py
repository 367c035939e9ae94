"""What the staff CLI prints, without a server: the timeline keeps words whole, times are UTC."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rich.console import Console

from complaints.cli import common, listing

CLASSIFIED = {
    "tier": "major",
    "rule": "several-regulators",
    "matched": "lodged with NFRA, PBOC",
    "policy_version": "2026.11-standard",
}


def printed(monkeypatch: pytest.MonkeyPatch, case: dict[str, object], width: int) -> str:
    console = Console(width=width, record=True, highlight=False, soft_wrap=False)
    monkeypatch.setattr(listing, "out", console)
    with console.capture() as captured:
        listing._print_timeline(case)
    return captured.get()


@pytest.mark.parametrize("width", [200, 100])
def test_show_never_cuts_a_policy_version_in_the_timeline(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    at = datetime(2026, 11, 27, 9, 30, tzinfo=timezone(timedelta(hours=8))).isoformat()
    case = {
        "timeline": [{"seq": 2, "at": at, "kind": "classified", "actor": "system", "detail": CLASSIFIED}],
        "notifications": [],
    }

    text = printed(monkeypatch, case, width)

    assert "policy_version=2026.11-standard" in text, text
    assert "2026-11-27 01:30 UTC" in text and "09:30" not in text


def test_a_narrow_terminal_wraps_the_detail_and_keeps_every_character(monkeypatch: pytest.MonkeyPatch) -> None:
    case = {
        "timeline": [
            {"seq": 2, "at": "2026-11-27T01:30:00+00:00", "kind": "classified", "actor": "system", "detail": CLASSIFIED}
        ],
        "notifications": [],
    }

    text = printed(monkeypatch, case, 80)

    cells = "".join(line.rsplit("│", 2)[1].strip() for line in text.splitlines() if line.count("│") >= 5)
    assert "policy_version=2026.11-standard" in cells and "…" not in text


def test_long_free_text_is_clipped_at_a_word_and_short_words_stay_whole() -> None:
    assert listing.clip("2026.11-standard") == "2026.11-standard"
    reason = "The customer was told on the phone that the fee would be waived and asks for it in writing"
    clipped = listing.clip(reason)
    assert clipped.endswith("…") and len(clipped) <= 61
    assert reason.startswith(clipped[:-1]) and reason[len(clipped) - 1] == " ", "cut between words"
    assert listing.clip("x" * 60) == "x" * 60


def test_every_cli_time_is_utc_labelled() -> None:
    shanghai = datetime(2026, 12, 12, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    assert common.when(shanghai) == "2026-12-12 01:30 UTC"
    assert common.when(None) == "—"
