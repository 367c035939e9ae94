"""Custom search attributes: what a manager filters on in the Web UI list.

Registered by ``make run`` (``temporal server start-dev --search-attribute``) and by
the test fixtures; the list below is the single source for both.
"""

from typing import Any

from temporalio.common import SearchAttributeKey

STATUS = SearchAttributeKey.for_keyword("ComplaintStatus")
TIER = SearchAttributeKey.for_keyword("ComplaintTier")
CATEGORY = SearchAttributeKey.for_keyword("ComplaintCategory")
CHANNEL = SearchAttributeKey.for_keyword("ComplaintChannel")
ASSIGNEE = SearchAttributeKey.for_keyword("ComplaintAssignee")
CUSTOMER_ID = SearchAttributeKey.for_keyword("ComplaintCustomerId")
CONTRACT_NUMBER = SearchAttributeKey.for_keyword("ComplaintContractNumber")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("ComplaintNextDeadline")
SLA_BREACHED = SearchAttributeKey.for_bool("ComplaintSlaBreached")
# An open complaint whose handler or team is implicated in another complaint's investigation.
UNDER_REVIEW = SearchAttributeKey.for_bool("ComplaintUnderReview")
# Step 5: a customer's early-warning case (open, acknowledged, acting, closed), and a contract
# clause's legal review (open, closed). The case's customer is in ComplaintCustomerId.
RISK_WARNING = SearchAttributeKey.for_keyword("RiskWarningStatus")
CLAUSE_REVIEW = SearchAttributeKey.for_keyword("ClauseReviewStatus")
# Step 6.2: an incident's status (on its workflow); the incidents a complaint is linked to (on the
# complaint: the Web UI lists an incident's complaints with ComplaintIncidents = 'incident-...');
# the recall a workflow belongs to (the recall itself, its remediations and the complaints it
# linked: RecallIds = 'equipment_finance-1', a recall's id); a recall's or a remediation's
# status. Codes and ids only: no personal data.
#
# The budget: Temporal's SQL visibility stores (SQLite, PostgreSQL, MySQL) hold at most 10 custom
# Keyword attributes and 3 of each other type (KeywordList, Bool, Datetime, ...). Keyword is full
# with IncidentStatus, so the recall's two are KeywordLists (one value in RecallStatus); a query
# `RecallStatus = 'overdue'` matches as with a Keyword.
INCIDENT_STATUS = SearchAttributeKey.for_keyword("IncidentStatus")
INCIDENTS = SearchAttributeKey.for_keyword_list("ComplaintIncidents")
RECALL_ID = SearchAttributeKey.for_keyword_list("RecallIds")
RECALL_STATUS = SearchAttributeKey.for_keyword_list("RecallStatus")

ALL: list[SearchAttributeKey[Any]] = [
    STATUS,
    TIER,
    CATEGORY,
    CHANNEL,
    ASSIGNEE,
    CUSTOMER_ID,
    CONTRACT_NUMBER,
    NEXT_DEADLINE,
    SLA_BREACHED,
    UNDER_REVIEW,
    RISK_WARNING,
    CLAUSE_REVIEW,
    INCIDENT_STATUS,
    INCIDENTS,
    RECALL_ID,
    RECALL_STATUS,
]

_CLI_TYPE = {"KEYWORD": "Keyword", "KEYWORD_LIST": "KeywordList", "DATETIME": "Datetime", "BOOL": "Bool"}


def dev_server_flags() -> list[str]:
    """``--search-attribute Name=Type`` flags for ``temporal server start-dev``."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE[key.indexed_value_type.name]}"]
    return flags


if __name__ == "__main__":
    print(" ".join(dev_server_flags()))
