"""What a demo term reads and writes beside the platform's APIs.

The messages the local sinks received (`Sinks`: mail as .eml files, robots, SMS and webhooks
as JSON lines, under the data dir), the census file of the day (`census_for_today`), the count
of terms played (`next_term`) and stats' outcome table as aligned text (`render_csv`).
"""

from __future__ import annotations

import csv
import email
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path


@dataclass
class Sinks:
    """What the local sinks received since this term began."""

    data: Path
    _mail_seen: set[str] = field(default_factory=set)
    _offsets: dict[str, int] = field(default_factory=dict)

    def mark(self) -> None:
        self._mail_seen = {p.name for p in self.mail_dir.glob("*.eml")}
        self._offsets = {p.name: p.stat().st_size for p in self.webhooks_dir.glob("*.jsonl")}

    @property
    def mail_dir(self) -> Path:
        return self.data / "mail"

    @property
    def webhooks_dir(self) -> Path:
        return self.data / "webhooks"

    def messages(self) -> list[tuple[str, str]]:
        """(channel, text) of every message received since `mark()`."""
        found: list[tuple[str, str]] = []
        for path in sorted(self.mail_dir.glob("*.eml")):
            if path.name not in self._mail_seen:
                found.append(("email", _mail_text(email.message_from_bytes(path.read_bytes()))))
        for path in sorted(self.webhooks_dir.glob("*.jsonl")):
            with path.open("rb") as handle:
                handle.seek(self._offsets.get(path.name, 0))
                for line in handle.read().decode("utf-8", errors="replace").splitlines():
                    if line.strip():
                        body = json.loads(line).get("body")
                        found.append((path.stem, json.dumps(body, ensure_ascii=False)))
        return found


def _mail_text(message: Message) -> str:
    parts = [str(message.get("Subject", ""))]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(parts)


def census_for_today(samples: Path) -> bytes:
    """The sample census with every valid date moved to today, marked with the term, so each
    term's file is a new upload (the same file twice is one batch)."""
    rows = list(csv.reader(io.StringIO((samples / "census_phq9.csv").read_text("utf-8-sig"))))
    stamp = datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M")
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
