"""Workflow definitions: deterministic code only (no I/O, no database imports)."""

from workflows.complaint import ComplaintWorkflow

__all__ = ["ComplaintWorkflow"]
