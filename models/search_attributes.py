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
]

_CLI_TYPE = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool"}


def dev_server_flags() -> list[str]:
    """``--search-attribute Name=Type`` flags for ``temporal server start-dev``."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE[key.indexed_value_type.name]}"]
    return flags


if __name__ == "__main__":
    print(" ".join(dev_server_flags()))
