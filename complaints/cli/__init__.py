"""`complaints`: the staff CLI. Reading through Temporal visibility and the database; acting
through the workflow's updates, whose validators decide what each staff member may do.

Exit codes: 0 done, 1 refused by the complaint (reason printed), 2 bad arguments,
3 unknown complaint or staff member, 4 no Temporal server (or database) reachable.

One module per subject: `listing` (list, mine, show), `handling` (up to the customer's answer),
`investigation` (the `investigation` sub-app and the legacy commands), `after_decision`
(follow-up, look-back, root cause, contact notes), `reports` (the `report` sub-app: the
periodic analysis and returns), `staff` (scorecards), `award` (the Service Quality Award), `training`;
`common` holds what they share.
"""

from __future__ import annotations

import typer

from complaints.cli import (
    after_decision,
    award,
    clauses,
    codec,
    education,
    handling,
    incident,
    investigation,
    keys,
    listing,
    recall,
    reports,
    retention,
    risk,
    signals,
    staff,
    training,
)

app = typer.Typer(
    help="Work on customer complaints: list, show, and act on them as a member of staff.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

# Registered here, in the order `complaints --help` lists them.
for name, command in (
    ("list", listing.list_complaints),
    ("mine", listing.mine),
    ("show", listing.show),
    ("assign", handling.assign),
    ("findings", handling.findings),
    ("legal-evaluation", handling.legal_evaluation),
    ("manager-evaluation", handling.manager_evaluation),
    ("loss", handling.loss),
    ("request-info", handling.request_info),
    ("info-received", handling.info_received),
    ("open-investigation", investigation.open_investigation),
    ("investigation-outcome", investigation.investigation_outcome),
    ("feedback", handling.feedback),
    ("propose", handling.propose),
    ("approve", handling.approve),
    ("reject", handling.reject),
    ("customer-answer", handling.customer_answer),
    ("extend", handling.extend),
    ("escalate", handling.escalate),
    ("follow-up-call", after_decision.follow_up_call),
    ("look-back", after_decision.look_back),
    ("adjust-look-back", after_decision.adjust_look_back),
    ("mark-look-back", after_decision.mark_look_back),
    ("root-cause", after_decision.root_cause),
    ("reapply-policy", handling.reapply_policy),
    ("contact-note", after_decision.contact_note),
    ("withdraw", handling.withdraw),
    ("review-done", investigation.review_done),
    ("verify", keys.verify),
):
    app.command(name)(command)
app.add_typer(investigation.investigation_app, name="investigation")
app.add_typer(reports.report_app, name="report")
app.add_typer(staff.staff_app, name="staff")
app.add_typer(award.award_app, name="award")
app.add_typer(training.training_app, name="training")
app.add_typer(education.education_app, name="education")
app.add_typer(clauses.clauses_app, name="clauses")
app.add_typer(signals.signals_app, name="signals")
app.add_typer(risk.risk_app, name="risk")
app.add_typer(incident.incident_app, name="incident")
app.add_typer(recall.recall_app, name="recall")
app.add_typer(retention.retention_app, name="retention")
app.add_typer(codec.codec_app, name="codec")
app.add_typer(keys.keys_app, name="keys")

__all__ = ["app"]
