"""Shouwang triage: grade every warning, own it, and escalate it until someone acts."""
