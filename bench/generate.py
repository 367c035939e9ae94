"""Realistic complaints straight into the projection, at scale, for measuring the periodic analysis.

    python -m bench.generate --count 1000000 --database-url postgresql://postgres@127.0.0.1:5432/complaints_bench
    python -m bench.generate --count 2000 --database-url sqlite:///.data/gen.db --end 2033-01-01 --months 12 --replace

Writes ``complaints`` rows (ids ``GEN-…``, source_system ``bench``), their ``complaint_clocks``
(acknowledgement, <tier>_first_response, regulatory_decision, and regulator_report_<code> for
majors) and the ``complaint_clauses`` of contract disputes into an already-migrated database
(``migrate`` is called first). Nothing goes through a workflow or the audit log: ``facts_seq``
equals ``last_seq``, so no refresh treats a row as stale.

The mix: about 70% simple, 25% complex, 5% major; categories and channels by tier; the policy's
products (15% none); received over ``--months`` months before ``--end`` with a weekly rhythm,
office hours and a slow growth; customers drawn so that some complain again and again (new
customers 87%, otherwise an earlier complaint's customer, recent ones likelier: a Zipf-like
tail); each clock met or breached at a few percent, due from the policy's limits (business days
counted as weekdays: roughly); complaints still unfinished at ``--end`` are open. The same seed
gives the same rows. Generated in chunks, never all in memory: COPY on PostgreSQL, executemany
in transactions of ``--chunk`` rows on SQLite.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import random
import time
from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, text
from sqlalchemy.engine import make_url

from complaints.config import PROJECT_ROOT
from db.engine import make_engine, migrate, normalise_url
from db.tables import Complaint, ComplaintClause, ComplaintClock
from domain.policy import load_policy
from models.policy import Policy, TimeLimit, TimeUnit

PREFIX = "GEN-"
SEQ = 12  # last_seq and facts_seq alike
GENERATOR_VERSION = "5"  # bump when the rows generated for a seed change: the bench regenerates
STANDARD_POLICY = PROJECT_ROOT / "policies" / "standard.yaml"
COMPLAINT_COLUMNS = (
    "complaint_id workflow_id source_system source_reference channel category tier tier_rule status customer_id "
    "customer_name contract_number staff_named assignee policy_version received_at acknowledged_at next_deadline "
    "closed_at sla_breached reopened_count satisfaction root_cause outcome resolution_communication team product "
    "region resolved_at remedy_paid amount_in_dispute amount_currency escalations extensions facts_seq last_seq "
    "snapshot updated_at anonymised_at"
).split()  # the order of generate's tuples; tests check that it names every column of the table
REGIONS = ["CN-SH", "CN-BJ", "CN-GD", "CN-ZJ", "CN-JS", "CN-SC"]  # where customers are (80% say)
CLOCK_COLUMNS = ["complaint_id", "name", "started_at", "due_at", "settled_at", "breached_at", "state"]
CLAUSE_COLUMNS = ["complaint_id", "clause", "source", "template"]  # cited at intake; the template from the number
COMPLAINTS = Complaint.__table__  # type: ignore[attr-defined]
CLOCKS = ComplaintClock.__table__  # type: ignore[attr-defined]
CLAUSES = ComplaintClause.__table__  # type: ignore[attr-defined]
JSON_COLUMNS = {"team", "snapshot"}  # generated as JSON text (COPY takes it as is)


def _weights(spec: str) -> dict[str, float]:
    """``"a:3 b:1"`` -> ``{"a": 3.0, "b": 1.0}``."""
    return {key: float(weight) for key, weight in (pair.split(":") for pair in spec.split())}


TIERS = _weights("simple:70 complex:25 major:5")
CATEGORIES = {  # by tier: the classification rules make contract disputes and product design complex
    "simple": _weights("fees_and_interest:34 service_attitude:22 repayment_collection:18 privacy:6 other:20"),
    "complex": _weights(
        "contract_dispute:45 product_design:15 fees_and_interest:15 repayment_collection:10 privacy:5 other:10"
    ),
    "major": _weights(
        "service_attitude:30 fees_and_interest:20 contract_dispute:20 repayment_collection:15 privacy:10 other:5"
    ),
}
CHANNELS = _weights("phone:35 app:20 email:14 web_platform:15 in_person:10 letter:6")  # majors: 30% referrals
CAUSE_OF = dict(  # the likeliest root cause of each category (60%)
    pair.split(":")
    for pair in (
        "contract_dispute:contract_wording fees_and_interest:pricing_error service_attitude:staff_conduct "
        "repayment_collection:collection_practice privacy:data_handling product_design:product_design "
        "other:process_delay"
    ).split()
)
FIRST_BREACH = {"simple": 0.08, "complex": 0.05, "major": 0.04}
EXTENSION = {"simple": 0.005, "complex": 0.10, "major": 0.25}
OPEN_STATUSES = _weights("in_handling:60 awaiting_customer_info:12 awaiting_approval:13 awaiting_customer_answer:15")
OUTCOMES = _weights("satisfied:80 letter:10 accepted:10")
HANDLERS = ["S-HND-001", "S-HND-002", "S-HND-003"]
NAMED_STAFF = ["S-RM-007", "S-HND-002", "S-HND-001"]
HOT_CLAUSE = "7.3"
CLAUSE_REFS = ["12.1", "4.2", "9.1", "3.5", "15.2", "6.4", "8.8", "2.3", "11.7", "14.1", "5.6", "10.2"]
HOURS = [0.1, 0.05, 0.05, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.4, 2.5, 2.2, 1.3, 1.9, 2.2, 2.1, 1.9, 1.5, 1.0, 0.8]
HOURS += [0.7, 0.6, 0.4, 0.2]
WEEKDAY = [1.15, 1.1, 1.05, 1.0, 0.95, 0.35, 0.25]
HOUR, DAY = 3600.0, 86400.0
NEW_CUSTOMER = 0.87  # otherwise an earlier complaint's customer again


@dataclass
class Chunk:
    complaints: list[tuple[Any, ...]] = field(default_factory=list)
    clocks: list[tuple[Any, ...]] = field(default_factory=list)
    clauses: list[tuple[str, str, str, str | None]] = field(default_factory=list)


def _picker(rng: random.Random, weights: Mapping[str, float]) -> Callable[[], str]:
    keys, cum = list(weights), list(accumulate(weights.values()))
    total, rand = cum[-1], rng.random
    return lambda: keys[bisect.bisect(cum, rand() * total)]


class Calendar:
    """Local days of the range (with room after it), their UTC starts and closes of business."""

    def __init__(self, policy: Policy, first: date, last: date) -> None:
        cal = policy.regulatory_pack.calendar
        zone = ZoneInfo(cal.timezone)
        self.days = [first + timedelta(d) for d in range((last - first).days + 120)]
        self.starts = [datetime.combine(d, datetime.min.time(), zone).timestamp() for d in self.days]
        self.closes = [datetime.combine(d, cal.close_of_business, zone).timestamp() for d in self.days]
        self.business = [d.weekday() < 5 for d in self.days]
        self._cache: dict[tuple[int, int], float] = {}

    def day(self, epoch: float) -> int:
        return bisect.bisect(self.starts, epoch) - 1

    def business_close(self, epoch: float, n: int) -> float:
        """Close of business on the n-th business day after the day of ``epoch`` (weekdays)."""
        key = (self.day(epoch), n)
        if key not in self._cache:
            d, left = key
            while left:
                d += 1
                left -= self.business[d]
            self._cache[key] = self.closes[d]
        return self._cache[key]

    def due(self, limit: TimeLimit) -> Callable[[float], float]:
        if limit.unit == TimeUnit.BUSINESS_DAYS:
            return lambda start: self.business_close(start, limit.amount)
        seconds = {TimeUnit.SECONDS: 1, TimeUnit.MINUTES: 60, TimeUnit.HOURS: HOUR, TimeUnit.CALENDAR_DAYS: DAY}
        span = limit.amount * seconds[limit.unit]
        return lambda start: start + span


def _rule(tier: str, category: str, channel: str, choice: Callable[[list[str]], str]) -> str:
    """The classification rule that would have given the tier (policies/standard.yaml's ids)."""
    if tier == "simple":
        return "default-simple"
    if tier == "complex":
        contract = category in ("contract_dispute", "product_design")
        return "contract-terms" if contract else choice(["large-amount", "legal-keywords"])
    if channel == "regulator_referral":
        return "regulator-referral"
    return "staff-misconduct" if category == "service_attitude" else "suspected-illegality"


def _months_before(end: date, months: int) -> date:
    index = end.year * 12 + end.month - 1 - months
    return date(index // 12, index % 12 + 1, min(end.day, 28))


def generate(
    policy: Policy, count: int, seed: int = 1, months: int = 24, end: date = date(2026, 11, 1)
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[str, str, str, str | None]]]]:
    """One (complaint row, its clock rows, its clause rows) at a time, in order of receipt."""
    rng = random.Random(seed)
    rand, logn, choice = rng.random, rng.lognormvariate, rng.choice
    disputes = random.Random(f"{seed}:amounts").lognormvariate  # its own: the other columns stay as they were
    first = _months_before(end, months)
    cal = Calendar(policy, first, end)
    end_epoch = datetime.combine(
        end, datetime.min.time(), ZoneInfo(policy.regulatory_pack.calendar.timezone)
    ).timestamp()
    ndays = (end - first).days
    weights = [WEEKDAY[cal.days[d].weekday()] * (0.85 + 0.3 * d / ndays) * rng.uniform(0.9, 1.1) for d in range(ndays)]
    cum = list(accumulate(weights))
    pick_tier = _picker(rng, TIERS)
    pick_category = {tier: _picker(rng, w) for tier, w in CATEGORIES.items()}
    pick_channel = _picker(rng, CHANNELS)
    pick_open = _picker(rng, OPEN_STATUSES)
    products = [p.code for p in policy.reporting.products]
    causes = {c.code: c for c in policy.root_causes}
    cause_codes = list(causes)
    pick_outcome = _picker(rng, OUTCOMES)
    scores = [1, 2, 3, 4, 5]
    score_cum = list(accumulate([3, 5, 14, 48, 30]))
    hour_cum = list(accumulate(HOURS))
    pack = policy.regulatory_pack
    ack_due = cal.due(pack.acknowledgement.limit)
    first_due = {tier.value: cal.due(spec.limit) for tier, spec in policy.tier_clocks.items()}
    decision_due = [cal.due(pack.decision.limit)] + [cal.due(e.limit) for e in pack.extensions]
    report_due = cal.due(policy.regulator_reporting.due)
    report_clock = f"regulator_report_{policy.regulator_reporting.default_regulator}"
    pausing = pack.pause_while_awaiting_customer
    window = max(1, count * 12 // max(months, 1))  # about a year of complaints: repeats are recent
    customers = array("I")
    teams = {h: json.dumps([h]) for h in [*HANDLERS, "S-LEG-001"]}
    ts = datetime.fromtimestamp

    def fraction(breach: float, median: float = 0.35) -> float:
        """Share of a clock's span used: under 1 if met, over 1 if breached."""
        if rand() < breach:
            return 1.0 + logn(math.log(0.25), 0.8)
        return min(logn(math.log(median), 0.6), 0.97)

    def at(x: float | None) -> datetime | None:
        return None if x is None else ts(x, UTC)

    n = done = 0
    for d in range(ndays):
        target = round(cum[d] * count / cum[-1])
        times = sorted(
            cal.starts[d] + (bisect.bisect(hour_cum, rand() * hour_cum[-1]) + rand()) * HOUR
            for _ in range(target - done)
        )
        done = target
        progress = d / ndays
        for r in times:
            n += 1
            cid = f"{PREFIX}{n:09d}"
            tier = pick_tier()
            category = pick_category[tier]()
            channel = "regulator_referral" if tier == "major" and rand() < 0.3 else pick_channel()
            rule = _rule(tier, category, channel, choice)
            product = choice(products) if products and rand() < 0.85 else None
            region = choice(REGIONS) if rand() < 0.8 else None
            if not customers or rand() < NEW_CUSTOMER:
                customer = n
            else:
                customer = customers[len(customers) - 1 - int(rand() ** 2 * min(len(customers), window))]
            customers.append(customer)
            contract = f"HT-{customer:07d}" if category == "contract_dispute" or rand() < 0.6 else None
            staff = category == "service_attitude" and (tier == "major" or rand() < 0.03)
            named = choice(NAMED_STAFF) if staff else None
            legal = tier == "complex" and category == "contract_dispute" and rand() < 0.3
            assignee = "S-LEG-001" if legal else choice(HANDLERS)
            # When each duty was done (epoch seconds), from each clock's span.
            a_due = ack_due(r)
            if rand() < 0.03:  # acknowledged late
                ack = a_due + logn(math.log(3 * HOUR), 1.0)
            else:  # minutes to hours
                ack = r + min(logn(math.log(2400), 1.0), 0.9 * (a_due - r))
            f_due = first_due[tier](r)
            responded = r + (f_due - r) * fraction(FIRST_BREACH[tier])
            extensions = 1 if rand() < EXTENSION[tier] else 0
            d_due = decision_due[min(extensions, len(decision_due) - 1)](r)
            if tier == "simple":
                resolved = responded
            else:
                resolved = max(r + (d_due - r) * fraction(0.07, 0.45 if tier == "complex" else 0.6), responded + HOUR)
            reopened = 0 if rand() < 0.95 else (1 if rand() < 0.85 else 2)
            closed = resolved + logn(math.log(2 * DAY), 0.6) + reopened * logn(math.log(4 * DAY), 0.5)
            withdrawn = rand() < 0.03
            if withdrawn:
                closed = ack + max(resolved - ack, HOUR) * rng.uniform(0.2, 0.8)
            clocks = [("acknowledgement", r, a_due, ack), (f"{tier}_first_response", r, f_due, responded)]
            clocks.append(("regulatory_decision", r, d_due, resolved))
            if tier == "major":
                started = r + logn(math.log(HOUR), 0.8)
                due = report_due(started)
                clocks.append((report_clock, started, due, started + (due - started) * fraction(0.06)))
            is_closed = closed <= end_epoch
            status = "withdrawn" if withdrawn else ("resolved" if rand() < 0.02 else "closed")
            if not is_closed:
                if resolved <= end_epoch:
                    status = "awaiting_root_cause" if rand() < 0.2 else "follow_up"
                elif ack > end_epoch:
                    status = "awaiting_assignment"
                else:
                    status = pick_open()
            rows, breached_any, next_deadline = [], False, None
            for name, start, due, settled in clocks:
                if start > end_epoch:
                    continue
                if is_closed and settled > closed:  # withdrawn before its duty was done
                    state, settled_at, breached_at = "stopped", None, None
                elif settled <= end_epoch:
                    late = settled > due
                    state, settled_at, breached_at = ("breached" if late else "met"), settled, (due if late else None)
                elif due <= end_epoch:
                    state, settled_at, breached_at = "breached", None, due
                else:
                    paused = pausing and status == "awaiting_customer_info" and name == "regulatory_decision"
                    state, settled_at, breached_at = ("paused" if paused else "running"), None, None
                    next_deadline = due if next_deadline is None else min(next_deadline, due)
                breached_any = breached_any or state == "breached"
                rows.append((cid, name, at(start), at(due), at(settled_at), at(breached_at), state))
            clauses: list[tuple[str, str, str, str | None]] = []
            if category == "contract_dispute" or (category == "product_design" and rand() < 0.3):
                k = 1 if rand() < 0.6 else (2 if rand() < 0.75 else 3)
                hot = rand() < 0.3 + 0.3 * progress  # the hot clause is cited more and more
                cited = [HOT_CLAUSE] if hot else []
                while len(cited) < k:
                    clause = CLAUSE_REFS[min(int(logn(0.5, 1.0)), len(CLAUSE_REFS) - 1)]
                    if clause not in cited:
                        cited.append(clause)
                clauses = [(cid, c, "intake", None) for c in cited]
            satisfaction = cause = outcome = remedy = None
            done_ok = is_closed and not withdrawn
            if withdrawn and is_closed:
                outcome = "withdrawn"
            if done_ok:
                outcome = pick_outcome()
                if outcome == "satisfied":
                    satisfaction = scores[bisect.bisect(score_cum, rand() * score_cum[-1])]
                    if satisfaction < 3 and reopened == 0 and rand() < 0.5:
                        reopened = 1
                primary = CAUSE_OF.get(category, "other")
                u = rand()
                if primary in causes and u < 0.6:
                    cause = primary
                elif "customer_misunderstanding" in causes and u < 0.75:
                    cause = "customer_misunderstanding"
                else:
                    cause = choice(cause_codes)
            if ((done_ok and causes[str(cause)].upheld) or status == "follow_up") and rand() < 0.45:
                remedy = Decimal(f"{logn(math.log(20000 if tier == 'major' else 1500), 0.9):.2f}")
            resolved_at = resolved if (not withdrawn and resolved <= end_epoch) else None
            disputed = None  # what a contract dispute or a fee complaint disputes (step 5's risk rule)
            if category in ("contract_dispute", "fees_and_interest"):
                disputed = Decimal(f"{disputes(math.log(2e5 if category == 'contract_dispute' else 9000), 1.2):.2f}")
            # fmt: off
            complaint = (  # in the order of COMPLAINT_COLUMNS
                cid, f"complaint-{cid}", "bench", f"{PREFIX}{seed}-{n}", channel, category, tier, rule, status,
                f"{PREFIX}C{customer:07d}", f"Customer {customer}", contract, named, assignee, policy.version, at(r),
                at(ack if ack <= end_epoch else None), at(next_deadline) if not is_closed else None,
                at(closed) if is_closed else None, breached_any, reopened, satisfaction, cause, outcome,
                "final_response" if done_ok and status != "withdrawn" else None, teams[assignee], product,
                region, at(resolved_at), remedy, disputed, "CNY" if disputed is not None else None,
                1 if rand() < 0.04 else 0, extensions, SEQ, SEQ, "{}",
                at(min(closed if is_closed else end_epoch, end_epoch)), None,
            )
            # fmt: on
            yield complaint, rows, clauses


def chunks(policy: Policy, count: int, size: int = 20_000, **options: Any) -> Iterator[Chunk]:
    chunk = Chunk()
    for complaint, clocks, clauses in generate(policy, count, **options):
        chunk.complaints.append(complaint)
        chunk.clocks.extend(clocks)
        chunk.clauses.extend(clauses)
        if len(chunk.complaints) >= size:
            yield chunk
            chunk = Chunk()
    if chunk.complaints:
        yield chunk


def psycopg_url(url: str) -> str:
    """The libpq form of a (SQLAlchemy) PostgreSQL URL."""
    return make_url(normalise_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


def delete_generated(conn: Connection, *, truncate: bool = True) -> None:
    """Remove every GEN- row (on PostgreSQL with ``truncate``: TRUNCATE, if the three tables, locked
    first, hold nothing else)."""
    tables = ("complaint_clocks", "complaint_clauses", "complaints")
    if truncate and conn.dialect.name == "postgresql":
        conn.execute(text(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE"))
        others = conn.execute(
            text(" UNION ALL ".join(f"(SELECT 1 FROM {t} WHERE complaint_id NOT LIKE :p LIMIT 1)" for t in tables)),
            {"p": f"{PREFIX}%"},
        ).first()
        if others is None:
            conn.execute(text(f"TRUNCATE {', '.join(tables)}"))
            return
    for table in tables:
        conn.execute(text(f"DELETE FROM {table} WHERE complaint_id LIKE :p"), {"p": f"{PREFIX}%"})


@dataclass
class Written:
    complaints: int = 0
    clocks: int = 0
    clauses: int = 0
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return self.complaints + self.clocks + self.clauses

    def add(self, part: Chunk) -> None:
        self.complaints, self.clocks = self.complaints + len(part.complaints), self.clocks + len(part.clocks)
        self.clauses += len(part.clauses)


def _copy(conn: Connection, part: Chunk) -> None:
    raw: Any = conn.connection.dbapi_connection
    with raw.cursor() as cur:
        for table, columns, rows in (
            ("complaints", COMPLAINT_COLUMNS, part.complaints),
            ("complaint_clocks", CLOCK_COLUMNS, part.clocks),
            ("complaint_clauses", CLAUSE_COLUMNS, part.clauses),
        ):
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)


def _insert(conn: Connection, part: Chunk) -> None:
    complaints = [
        {k: json.loads(v) if k in JSON_COLUMNS else v for k, v in zip(COMPLAINT_COLUMNS, row, strict=True)}
        for row in part.complaints
    ]
    for table, rows in (
        (COMPLAINTS, complaints),
        (CLOCKS, [dict(zip(CLOCK_COLUMNS, c, strict=True)) for c in part.clocks]),
        (CLAUSES, [dict(zip(CLAUSE_COLUMNS, c, strict=True)) for c in part.clauses]),
    ):
        if rows:
            conn.execute(insert(table), rows)


def write(
    url: str, policy: Policy, count: int, *, replace: bool = False, chunk: int | None = None, **options: Any
) -> Written:
    """Generate ``count`` complaints into the migrated database at ``url``, a transaction per chunk."""
    began, written = time.perf_counter(), Written()
    engine = make_engine(url)
    postgres = engine.dialect.name == "postgresql"
    try:
        with engine.connect() as conn:
            with conn.begin():
                if replace:
                    delete_generated(conn)
                elif conn.execute(text("SELECT 1 FROM complaints WHERE complaint_id LIKE 'GEN-%' LIMIT 1")).first():
                    raise ValueError("the database already holds generated (GEN-) complaints: --replace deletes them")
            for part in chunks(policy, count, chunk or (20_000 if postgres else 10_000), **options):
                with conn.begin():  # SQLAlchemy's, so that COPY on the raw connection commits with it
                    (_copy if postgres else _insert)(conn, part)
                written.add(part)
        if postgres:  # the planner's statistics, and the visibility map for index-only scans
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE complaints, complaint_clocks, complaint_clauses"))
    finally:
        engine.dispose()
    written.seconds = time.perf_counter() - began
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, required=True, help="complaints to generate")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--months", type=int, default=24, help="received over this many months before --end")
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 1), help="the day after the last")
    parser.add_argument("--policy", type=Path, default=STANDARD_POLICY)
    parser.add_argument("--chunk", type=int, help="complaints per transaction (20,000 PostgreSQL, 10,000 SQLite)")
    parser.add_argument("--replace", action="store_true", help="delete earlier GEN- rows first")
    args = parser.parse_args(argv)
    migrate(args.database_url)
    options = {"seed": args.seed, "months": args.months, "end": args.end}
    try:
        w = write(
            args.database_url, load_policy(args.policy), args.count, replace=args.replace, chunk=args.chunk, **options
        )
    except ValueError as err:
        raise SystemExit(str(err)) from err
    print(
        f"generated {w.complaints} complaints, {w.clocks} clocks, {w.clauses} clauses in {w.seconds:.1f} s "
        f"({w.complaints / w.seconds:,.0f} complaints/s, {w.rows / w.seconds:,.0f} rows/s)",
        flush=True,
    )


if __name__ == "__main__":
    main()
