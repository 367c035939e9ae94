"""Step 5: a customer's risk score from the policy's rules, every rule that fired with its figures.

Pure: the figures come from ``db/risk_queries.py``, the rules from the policy's ``risk`` section.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from models.intake import Category, Channel
from models.loan_book import notches_down
from models.risk import ComplaintSignal, CustomerFigures, FiredRule, RiskPolicy, RiskScore


def workflow_id(customer_id: str) -> str:
    return f"early-warning-{customer_id}"


def _money(amount: Decimal | None) -> str:
    return f"{amount or 0:,.2f}"


def _day(at: datetime) -> str:
    return at.date().isoformat()


def _within(moments: Sequence[datetime], as_of: datetime, days: int) -> list[datetime]:
    since = as_of - timedelta(days=days)
    return sorted(m for m in moments if since <= m <= as_of)


def _complaints_within(figures: CustomerFigures, days: int) -> list[ComplaintSignal]:
    since = figures.as_of - timedelta(days=days)
    return sorted(
        (c for c in figures.complaints if since <= c.received_at <= figures.as_of), key=lambda c: c.received_at
    )


def _ids(complaints: Sequence[ComplaintSignal]) -> str:
    return ", ".join(c.complaint_id for c in complaints)


def refiled(complaints: Sequence[ComplaintSignal]) -> list[tuple[ComplaintSignal, ComplaintSignal]]:
    """(withdrawn, filed again): a later complaint of the same category after a withdrawal."""
    pairs = []
    for w in complaints:
        if w.status != "withdrawn":
            continue
        after = w.closed_at or w.received_at
        again = [c for c in complaints if c.category == w.category and c is not w and c.received_at > after]
        if again:
            pairs.append((w, min(again, key=lambda c: c.received_at)))
    return pairs


def score(figures: CustomerFigures, rules: RiskPolicy) -> RiskScore:
    """The customer's points and every rule that fired, its figures in words."""
    fired: list[FiredRule] = []
    as_of = figures.as_of

    bands = sorted(rules.days_past_due, key=lambda b: b.days)
    reached = [b for b in bands if figures.days_past_due >= b.days]
    if reached:
        band = reached[-1]
        record = f" (record {figures.days_past_due_record})" if figures.days_past_due_record else ""
        fired.append(
            FiredRule(
                rule="days_past_due",
                points=band.points,
                why=f"{figures.days_past_due} days past due{record}, at least {band.days}",
            )
        )

    r = rules.restructuring
    hits = _within(figures.restructurings, as_of, r.within_days)
    if len(hits) >= r.count:
        why = f"{len(hits)} restructuring(s) in the last {r.within_days} days ({', '.join(map(_day, hits))})"
        fired.append(FiredRule(rule="restructuring", points=r.points, why=why))

    r = rules.covenant_breach
    hits = _within(figures.covenant_breaches, as_of, r.within_days)
    if len(hits) >= r.count:
        why = f"{len(hits)} covenant breach(es) in the last {r.within_days} days ({', '.join(map(_day, hits))})"
        fired.append(FiredRule(rule="covenant_breach", points=r.points, why=why))

    rr = rules.rating_down
    since = as_of - timedelta(days=rr.within_days)
    downs = [(at, a, b, notches_down(a, b)) for at, a, b in figures.rating_changes if since <= at <= as_of]
    worst = max(downs, key=lambda d: d[3], default=None)
    if worst is not None and worst[3] >= rr.notches:
        at, a, b, n = worst
        why = f"rating down {n} notches, {a} to {b} on {_day(at)} (at least {rr.notches})"
        fired.append(FiredRule(rule="rating_down", points=rr.points, why=why))

    r = rules.drawdowns_refused
    since = as_of - timedelta(days=r.within_days)
    refused = sorted(d for d in figures.drawdowns_refused if since <= d[0] <= as_of)
    if len(refused) >= r.count:
        amounts = ", ".join(f"{amount} {currency} on {_day(at)}" for at, amount, currency in refused)
        why = f"{len(refused)} drawdowns refused in the last {r.within_days} days ({amounts})"
        fired.append(FiredRule(rule="drawdowns_refused", points=r.points, why=why))

    r = rules.repeat_complaints
    found = _complaints_within(figures, r.within_days)
    if len(found) >= r.count:
        why = f"{len(found)} complaints in the last {r.within_days} days ({_ids(found)})"
        fired.append(FiredRule(rule="repeat_complaints", points=r.points, why=why))

    r = rules.repayment_collection_complaint
    found = [c for c in _complaints_within(figures, r.within_days) if c.category == Category.REPAYMENT_COLLECTION]
    if len(found) >= r.count:
        why = f"{len(found)} repayment and collection complaint(s) in the last {r.within_days} days ({_ids(found)})"
        fired.append(FiredRule(rule="repayment_collection_complaint", points=r.points, why=why))

    ra = rules.amount_in_dispute
    window = _complaints_within(figures, ra.within_days)
    disputed = [c for c in window if c.amount_in_dispute is not None and c.amount_currency == ra.currency]
    total = sum((c.amount_in_dispute or Decimal(0) for c in disputed), Decimal(0))
    # Filed before the complaints row kept its amounts: the classification's amount rule says.
    proxied = [c for c in window if c.amount_in_dispute is None and c.tier_rule in ra.tier_rules]
    reasons = []
    if disputed and total >= ra.at_least:
        each = "; ".join(f"{c.complaint_id} {_money(c.amount_in_dispute)}" for c in disputed)
        reasons.append(
            f"{_money(total)} {ra.currency} in dispute in {len(disputed)} complaint(s) in the last "
            f"{ra.within_days} days ({each}), at least {_money(ra.at_least)}"
        )
    if proxied:
        rules_named = "/".join(sorted({c.tier_rule or "" for c in proxied}))
        reasons.append(
            f"{len(proxied)} complaint(s) with a large amount in dispute (classified {rules_named}): {_ids(proxied)}"
        )
    if reasons:
        fired.append(FiredRule(rule="amount_in_dispute", points=ra.points, why="; ".join(reasons)))

    r = rules.refiled_after_withdrawal
    pairs = refiled(_complaints_within(figures, r.within_days))
    if len(pairs) >= r.count:
        words = "; ".join(
            f"{w.complaint_id} withdrawn, {again.complaint_id} filed again ({w.category})" for w, again in pairs
        )
        fired.append(FiredRule(rule="refiled_after_withdrawal", points=r.points, why=words))

    rg = rules.regulator_involved
    found = [
        c
        for c in _complaints_within(figures, rg.within_days)
        if c.channel == Channel.REGULATOR_REFERRAL or c.tier_rule in rg.tier_rules or c.regulator_report
    ]
    if found:
        why = f"a regulator involved in {len(found)} complaint(s): {_ids(found)}"
        fired.append(FiredRule(rule="regulator_involved", points=rg.points, why=why))

    return RiskScore(
        customer_id=figures.customer_id,
        as_of=as_of,
        points=sum(f.points for f in fired),
        threshold=rules.threshold,
        fired=fired,
    )


def explain(result: RiskScore) -> list[str]:
    """One line per fired rule, then the total against the threshold."""
    lines = [f"+{f.points:>3}  {f.rule}: {f.why}" for f in result.fired]
    verdict = "over the threshold" if result.crossed else "under the threshold"
    lines.append(f"= {result.points} points ({verdict} of {result.threshold})")
    return lines
