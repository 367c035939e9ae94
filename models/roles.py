"""Who staff are, and what an investigation may decide for them: each defined once, here."""

from enum import StrEnum


class Role(StrEnum):
    HANDLER = "handler"
    RELATIONSHIP_MANAGER = "relationship_manager"
    LEGAL = "legal"
    FINANCE = "finance"
    MANAGER = "manager"
    SENIOR_MANAGER = "senior_manager"
    COMPLIANCE = "compliance"


class Accountability(StrEnum):
    """What an investigation decides for the people it names responsible, mildest first."""

    NONE = "none"
    TRAINING = "training"
    WARNING = "warning"
    DISCIPLINARY = "disciplinary"
