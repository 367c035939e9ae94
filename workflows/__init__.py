"""Workflow definitions: deterministic code only (no I/O, no database imports)."""

from workflows.complaint import ComplaintWorkflow
from workflows.investigation import InvestigationWorkflow

__all__ = ["ComplaintWorkflow", "InvestigationWorkflow"]
