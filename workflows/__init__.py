"""Workflow definitions: deterministic code only (no I/O, no database imports).

Import each workflow from its own module (``workflows.complaint``, ``workflows.investigation``):
the sandbox imports a workflow's module afresh for every run it builds, package first, so
this file imports nothing, and a complaint does not also load the investigation's module.
"""
