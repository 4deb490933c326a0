"""The figures a year has hidden so far (`hidden_cells`), which its later decisions keep
hidden (domain/linked.py, "Sticky within a year").

Answers (of one replica or several) decide the same year at once: `remember` adds a
decision's cells under a lock only if the year's set is still the one that decision forced,
else hands back the newer set for the caller to decide again, so no two answers that add
cells build on different sets. An answer that adds nothing is not checked: read just before
another one's write, it may still show a cell that write added (the window of one request).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from typing import Any

from ..domain.suppression import Key
from .db import Conn

# Transaction advisory locks for the years' sets: this key, with the year and family's CRC.
_LOCK = 0x5357_4843


def _encode(cell: Key) -> str:
    """A cell's key as JSON: a spine's ((campus, college), col), a table's ("cell", row, col)."""
    return json.dumps(cell, ensure_ascii=False)


def _decode(text: str) -> Key:
    key: Key = _tuples(json.loads(text))
    return key


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


async def hidden_cells(conn: Conn, year: int, family: str) -> frozenset[Key]:
    """The cells `family`'s figures of `year` have hidden so far (`service_layer.kept`)."""
    rows = await conn.fetch(
        "SELECT cell FROM hidden_cells WHERE year = $1 AND family = $2", year, family
    )
    return frozenset(_decode(r["cell"]) for r in rows)


async def remember(
    conn: Conn, year: int, family: str, seen: frozenset[Key], cells: Iterable[Key]
) -> frozenset[Key] | None:
    """Add `cells` to the year's set if it is still `seen` (None), else the set as it is now
    (nothing added). Commits before it returns: an answer goes out only once it is kept."""
    async with conn.transaction():
        key = zlib.crc32(f"{year}/{family}".encode())
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", _LOCK, key - 2**31)
        now = await hidden_cells(conn, year, family)
        if now != seen:
            return now
        await conn.executemany(
            "INSERT INTO hidden_cells (year, family, cell) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING",
            [(year, family, _encode(cell)) for cell in set(cells) - seen],
        )
    return None
