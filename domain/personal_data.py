"""Which members of an audit-log event's ``detail`` are personal data or free text.

The complaint's and the investigation's audit logs (``complaint_events.detail``,
``investigation_events.detail``) keep what happened as a small JSON object per event. Its
members are of two kinds:

- **free text and contact details**, what staff or the customer wrote (a reason, a note, the
  customer's comments, a finding's summary, the address a letter went to, an evidence link) and
  a signed action's request (``payload``, or ``signed``), whole: these are sealed at rest when a key ring is
  configured (``db/sealing.py``; README, 'The projection: encrypted at rest');
- **structure**: codes, staff ids, numbers and times (``tier``, ``to_tier``, ``clock``,
  ``due_at``, ``regulator``, ``number``, ``escalated_to`` ...), which SQL and the analysis read
  (``db/analysis_facts.py``, ``db/scorecards.py``), and so stay clear.

A new event member that holds anything a person wrote, or a contact detail, belongs here; a
member the database queries must not be here (tests/db/test_sealing.py checks the readers).
"""

from __future__ import annotations

SEALED_DETAIL_MEMBERS: frozenset[str] = frozenset(
    {
        # what staff wrote
        "summary",
        "opinion",
        "note",
        "comments",
        "explanation",
        "reason",
        "message",
        "situation",
        "requested",
        "scope",
        "findings",
        "method",
        "text",
        "clause_revision",
        "contract_revision",
        "cause",  # an error's words (a refused delivery names the address)
        # the customer's contact details and evidence links
        "recipient",
        "name",
        "company",
        "email",
        "phone",
        "address",
        "postal_address",
        "uri",
        # a signed staff action's request (free text included), whole: ``payload`` of a
        # ``signed_action`` event (workflows/signing.py), or ``signed`` as {payload, signature}
        "payload",
        "signed",
    }
)
