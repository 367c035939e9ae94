"""Pure domain rules: policy, calendar, classification, roles and clocks.

Workflows (through ``imports_passed_through``) and activities both use these; nothing here
does I/O except reading policy files in ``domain.policy``.
"""
