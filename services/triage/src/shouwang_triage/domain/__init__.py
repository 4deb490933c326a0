"""Triage's rules in plain Python: grading by policy, alert decisions, the escalation ladder.

Only the standard library is imported here, so every rule is testable in milliseconds and the
same inputs always give the same grade.
"""
