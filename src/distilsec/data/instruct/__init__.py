"""Instruction data for the local CTI assistant: chat records from the knowledge's structured links.

Modules: :mod:`.records` (the record and its chat form), :mod:`.templates` (template generators),
:mod:`.teacher_written` (LLM-written records grounded in a quoted passage), :mod:`.split` (held-out
entities), :mod:`.decontaminate` (benchmark decontamination and the audit), :mod:`.card`.
"""
