"""What a demo term reads and writes beside the platform's APIs.

The census file of the day (`census_for_today`), the count of terms played (`next_term`) and
stats' outcome table as aligned text (`render_csv`); what the local sinks received is read by
`sinks.LocalSinks`. `say` narrates a step; `wait_for` polls until something happened.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from ._proc import DevstackError
from .words import text

T = TypeVar("T")


def census_for_today(samples: Path, now: datetime | None = None) -> bytes:
    """The sample census with every valid date moved to now, to the second, so each term's file
    is a new upload (the same file twice is one batch: stamped to the minute, two `make demo`
    runs in one minute shared a batch and the second term's census was never graded)."""
    rows = list(csv.reader(io.StringIO((samples / "census_phq9.csv").read_text("utf-8-sig"))))
    stamp = (now or datetime.now(UTC)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    for row in rows[1:]:
        if len(row) > 2 and re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", row[2]):
            row[2] = stamp
        writer.writerow(row)
    return out.getvalue().encode()


def render_csv(text: str) -> str:
    """A CSV table as aligned columns (CJK characters count as two). A line of one cell (the
    title, the note on suppressed cells) is printed as it is and sets no column's width."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows:
        return ""

    def width(cell: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in cell)

    table = [r for r in rows if len(r) > 1] or rows
    widths = [max(width(r[i]) for r in table if i < len(r)) for i in range(max(map(len, rows)))]
    lines = []
    for row in rows:
        cells = [cell + " " * (widths[i] - width(cell)) for i, cell in enumerate(row)]
        lines.append("  " + "  ".join(cells).rstrip())
    return "\n".join(lines)


def next_term(data: Path) -> int:
    """Count this term in `<data>/demo-terms.json`; the first term is 1."""
    path = data / "demo-terms.json"
    played = json.loads(path.read_text()) if path.is_file() else {"terms": 0}
    played["terms"] = int(played.get("terms", 0)) + 1
    path.write_text(json.dumps(played))
    return int(played["terms"])


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def wait_for(what: str, check: Callable[[], T | None], within: float) -> T:
    """Poll `check` until it returns something, or fail naming `what`."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise DevstackError(text("gave_up", seconds=f"{within:.0f}", what=what))
        time.sleep(0.5)
