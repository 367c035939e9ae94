"""Pure rules of step 4: the service quality score, the Service Quality Award's ranking, and the
training a person's figures call for. No I/O: the figures come from ``db/scorecards.py``.

The score is the policy's formula (``performance.scorecard``): each term earns its weight in
a straight line from ``worst`` (nothing) to ``best`` (all of it), clamped; a figure a person
does not have (no satisfaction rated, no clock settled) earns nothing and is left out of the
maximum, so nobody is punished or rewarded for what did not happen. Every term is shown as a
``ScoreLine`` so a person can see how their score came about.
"""

from __future__ import annotations

from collections.abc import Mapping

from models.analysis import TeamRow
from models.award import AwardDecision, AwardProposal
from models.performance import (
    AwardPolicy,
    Nominee,
    Scorecard,
    ScoreInput,
    ScoreLine,
    ScoreTerm,
    TrainingNeed,
    TrainingRule,
)
from models.roles import Role

# Who the award ranks: the people who hold complaints to their close. Others (managers, legal,
# compliance...) have cards but are not nominees: their work is not measured by complaints held.
NOMINATED_ROLES = frozenset({Role.HANDLER.value})
ALL_TIERS = "all"  # the key of a card's medians over every tier together (what the formula uses)


def term_points(value: float, term: ScoreTerm) -> float:
    """``weight`` at ``best``, nothing at ``worst``, a straight line between, clamped outside
    (works whichever way the scale runs: best 0 / worst 20 for a rate where less is better)."""
    share = (value - term.worst) / (term.best - term.worst)
    return term.weight * min(1.0, max(0.0, share))


def score(inputs: Mapping[ScoreInput, float | None], terms: list[ScoreTerm]) -> tuple[float | None, list[ScoreLine]]:
    """The score out of 100 over the terms that had a value (None: none had), and every line."""
    lines: list[ScoreLine] = []
    earned = possible = 0.0
    for term in terms:
        value = inputs.get(term.input)
        points = 0.0 if value is None else term_points(value, term)
        if value is not None:
            earned, possible = earned + points, possible + term.weight
        lines.append(ScoreLine(input=term.input, value=value, weight=term.weight, points=round(points, 2)))
    total = round(100.0 * earned / possible, 1) if possible else None
    return total, lines


def inputs_of(card: Scorecard) -> dict[ScoreInput, float | None]:
    """Each figure of a card the formula, the award or a training rule may use."""
    counts = {
        ScoreInput.CASES: card.cases,
        ScoreInput.ESCALATIONS_RECEIVED: card.escalations_received,
        ScoreInput.ACCOUNTABILITY_ENTRIES: card.accountability_entries,
        ScoreInput.TRAINING_OVERDUE: card.training_overdue,
    }
    return {
        **{k: float(v) for k, v in counts.items()},
        ScoreInput.CLOCKS_MET_RATE: card.clocks_met_rate,
        ScoreInput.SATISFACTION_AVERAGE: card.satisfaction_average,
        ScoreInput.REOPEN_RATE: card.reopen_rate,
        ScoreInput.MEDIAN_FIRST_RESPONSE_HOURS: card.median_first_response_hours.get(ALL_TIERS),
    }


# ---- the Service Quality Award ------------------------------------------------------------


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def ineligible_because(card: Scorecard, award: AwardPolicy, decisions: list[str], own_breaches: int) -> list[str]:
    """Every reason the award's eligibility rules leave this person out, in words (none: eligible)."""
    reasons = []
    if card.cases < award.min_cases:
        reasons.append(f"fewer than {_plural(award.min_cases, 'case', 'cases')} ({card.cases})")
    for kind in award.exclude_decisions:
        if kind.value in decisions:
            reasons.append(f"{kind.value} decision in the quarter")
    if award.exclude_own_breach and own_breaches > 0:
        clocks = card.clocks_met + card.clocks_breached
        rate = 100.0 * own_breaches / clocks if clocks else 100.0
        if rate > award.own_breach_tolerance:
            breached = f"{_plural(own_breaches, 'breached clock', 'breached clocks')} on their own complaints"
            tolerated = award.own_breach_tolerance
            reasons.append(f"{breached} ({rate:.1f}%, over {tolerated:g}%)" if tolerated else breached)
    if card.score is None:
        reasons.append("no figure of the formula to score")
    return reasons


def nominees(
    cards: list[Scorecard], award: AwardPolicy, decisions: dict[str, list[str]], own_breaches: dict[str, int]
) -> list[Nominee]:
    """The handlers, eligible ones ranked first (score, then more cases, then staff id), then
    those left out with their reasons. Other roles are not nominees (``NOMINATED_ROLES``)."""
    found = []
    for card in cards:
        if card.role not in NOMINATED_ROLES:
            continue
        reasons = ineligible_because(card, award, decisions.get(card.staff_id, []), own_breaches.get(card.staff_id, 0))
        found.append(
            Nominee(
                staff_id=card.staff_id,
                name=card.name,
                team=card.team,
                score=card.score,
                rank=None,
                eligible=not reasons,
                reasons=reasons,
                cases=card.cases,
                satisfaction_average=card.satisfaction_average,
                clocks_met_rate=card.clocks_met_rate,
                score_lines=card.score_lines,
            )
        )
    found.sort(key=lambda n: (not n.eligible, -(n.score if n.score is not None else -1.0), -n.cases, n.staff_id))
    rank = 0
    for nominee in found:
        if nominee.eligible:
            rank += 1
            nominee.rank = rank
    return found


# ---- training the figures call for ---------------------------------------------------------

_WORDS = {
    ScoreInput.SATISFACTION_AVERAGE: ("satisfaction average", "{:.2f}", "rated cases"),
    ScoreInput.CLOCKS_MET_RATE: ("clocks met rate", "{:.1f}%", "cases"),
    ScoreInput.REOPEN_RATE: ("reopen rate", "{:.1f}%", "cases"),
    ScoreInput.MEDIAN_FIRST_RESPONSE_HOURS: ("median first response", "{:.1f} h", "cases"),
}


def _crossed(rule: TrainingRule, value: float) -> float | None:
    """The bound ``value`` crossed, or None."""
    if rule.above is not None and value > rule.above:
        return rule.above
    if rule.below is not None and value < rule.below:
        return rule.below
    return None


def training_due(cards: list[Scorecard], rules: list[TrainingRule]) -> list[TrainingNeed]:
    """Each rule each card crossed with at least ``min_cases`` behind the figure (rated cases
    for the satisfaction average, closed cases otherwise), in the cards' then the rules' order."""
    needs = []
    for card in cards:
        inputs = inputs_of(card)
        for rule in rules:
            value = inputs.get(rule.input)
            cases = card.satisfaction_cases if rule.input is ScoreInput.SATISFACTION_AVERAGE else card.cases
            threshold = None if value is None or cases < rule.min_cases else _crossed(rule, value)
            if value is None or threshold is None:
                continue
            label, shown, unit = _WORDS.get(rule.input, (rule.input.value.replace("_", " "), "{:g}", "cases"))
            side = "above" if rule.above is not None else "below"
            needs.append(
                TrainingNeed(
                    staff_id=card.staff_id,
                    course=rule.course,
                    rule=rule.id,
                    figure=value,
                    threshold=threshold,
                    cases=cases,
                    detail=f"{label} {shown.format(value)} over {cases} {unit}, "
                    f"{side} {shown.format(threshold)} (rule {rule.id})",
                )
            )
    return needs


# ---- the team table of the periodic analysis -----------------------------------------------


def team_table(cards: list[Scorecard]) -> list[TeamRow]:
    """The people who closed a complaint or had a clock settle or breach in the period, most
    cases first: the periodic analysis's team table."""
    active = [c for c in cards if c.cases or c.clocks_met or c.clocks_breached]
    active.sort(key=lambda c: (-c.cases, c.staff_id))
    return [
        TeamRow(
            staff_id=c.staff_id,
            name=c.name,
            cases=c.cases,
            clocks_met_rate=c.clocks_met_rate,
            satisfaction_average=c.satisfaction_average,
            reopen_rate=c.reopen_rate,
            score=c.score,
        )
        for c in active
    ]


def award_refusal(proposal: AwardProposal, decided: bool, decision: AwardDecision) -> str | None:
    """Why a senior manager's award ``decision`` cannot be taken (None: it can); the award
    workflow's validator and its handler both ask, so it stays pure and deterministic."""
    if decided:
        return f"the award for {proposal.quarter} is already decided"
    if decision.actor not in proposal.approvers:
        roles = ", ".join(r.value for r in proposal.approver_roles)
        return f"{decision.actor} may not approve the award: it takes {roles}"
    winners = decision.winners or proposal.proposed
    if not winners:
        return "no eligible nominee to award; name the winners"
    if decision.actor in winners:
        return f"{decision.actor} may not approve an award for themselves"
    eligible = {n.staff_id for n in proposal.nominees if n.eligible}
    unknown = [w for w in winners if w not in eligible]
    if unknown:
        return f"not eligible nominees: {', '.join(unknown)}"
    if len(set(winners)) != len(winners):
        return "a winner is named twice"
    if len(winners) > proposal.winners_allowed:
        return f"at most {proposal.winners_allowed} winners"
    return None
