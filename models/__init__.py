"""Pydantic models shared by workflows, activities and clients.

Nothing here does I/O, so workflows may import it through
``workflow.unsafe.imports_passed_through()``.
"""
