"""Shouwang stats: outcome aggregates from the public events, and the reports colleges file."""
