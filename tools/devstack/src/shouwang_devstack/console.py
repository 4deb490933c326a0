"""What `up` prints: its own messages and its services' logs, one whole line at a time.

`up`'s messages and the tailers of its services' log files (one thread per service) share
stdout, so every line goes out in one locked write; JSON log lines are rendered for people.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

# `up`'s own messages and its log tailers (one thread per service) share stdout.
_STDOUT = threading.RLock()


def print_line(text: str) -> None:
    """Print one whole line and flush, in a single write: `print` writes the text and its
    newline separately, which glues together lines printed from several threads at once."""
    with _STDOUT:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def say(message: str) -> None:
    """Print a devstack message, flushed at once."""
    print_line(f"[devstack] {message}")


_QUIET_KEYS = {"time", "level", "logger", "message", "service", "color_message", "taskName"}


def render_line(line: str) -> str:
    """A JSON log line as `HH:MM:SS LEVEL message (logger) key=value…`; other lines unchanged."""
    if not line.startswith("{"):
        return line
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict) or "message" not in record:
        return line
    stamp = str(record.get("time", ""))
    clock = stamp[11:23] if len(stamp) >= 19 else stamp
    extras = " ".join(
        f"{key}={value}"
        for key, value in record.items()
        if key not in _QUIET_KEYS and value not in (None, "", [], {})
    )
    text = f"{clock} {record.get('level', '')!s:<7} {record['message']}"
    if record.get("logger"):
        text += f"  ({record['logger']})"
    return f"{text}  {extras}" if extras else text


def service_label(name: str) -> str:
    """The prefix of a service's log lines in `up`'s output (`triage   |`): the diagnosis of a
    failed test reads them back by it."""
    return f"{name:<{max(len('casework'), len(name))}} |"


def follow_file(path: Path, offset: int, label: str, stop: threading.Event) -> None:
    """Print new lines of `path` with a prefix until `stop` is set (then drain what is left)."""
    while not path.exists() and not stop.is_set():
        time.sleep(0.1)
    if not path.exists():
        return
    with path.open("rb") as handle:
        handle.seek(offset)
        pending = b""
        while True:
            chunk = handle.readline()
            if chunk:
                pending += chunk
                if pending.endswith(b"\n"):
                    line = pending.decode("utf-8", errors="replace").rstrip("\n")
                    print_line(f"{label} {render_line(line)}")
                    pending = b""
                continue
            if stop.is_set():
                if pending:
                    print_line(f"{label} {pending.decode('utf-8', errors='replace')}")
                return
            time.sleep(0.1)
