"""W3C trace context: the trace the work in progress belongs to, as events carry it on.

A request (or anything else that starts work) opens a span with `start_span`, adopting the
trace id of an incoming `traceparent` or starting a trace; the events the work causes carry
`current_traceparent()`, and the logs `current_trace_id()`. No framework is involved: the
service kit's edge middleware opens the span of each HTTP request.
"""

from __future__ import annotations

import contextvars
import re
import secrets
from collections.abc import Iterable

# (trace id, span id) of the work in progress.
_current: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "shouwang_trace", default=None
)
SpanToken = contextvars.Token[tuple[str, str] | None]

# W3C Trace Context: version-traceid-parentid-flags, lowercase hex; a later version may
# append fields, version 00 may not.
_TRACEPARENT_HEADER = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?")
_INVALID_TRACE_ID = "0" * 32
_INVALID_PARENT_ID = "0" * 16


def current_trace_id() -> str | None:
    """The trace id of the work in progress, if it has one."""
    value = _current.get()
    return value[0] if value else None


def current_traceparent() -> str | None:
    """The W3C traceparent to stamp on events caused by the work in progress."""
    value = _current.get()
    return f"00-{value[0]}-{value[1]}-01" if value else None


def trace_id_of(traceparent: str) -> str | None:
    """The trace id of a valid `traceparent` value, else None (the work then starts a new
    trace, as the spec asks). Events carry it on, and their schema accepts W3C's form only:
    a malformed header must never turn a request into an error."""
    match = _TRACEPARENT_HEADER.fullmatch(traceparent.strip())
    if (
        match is None
        or match[1] == "ff"
        or (match[1] == "00" and match[4] is not None)
        or match[2] == _INVALID_TRACE_ID
        or match[3] == _INVALID_PARENT_ID
    ):
        return None
    return match[2]


def incoming_trace_id(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The trace id of the first `traceparent` among raw (ASGI) headers, if it is valid."""
    for name, value in headers:
        if name == b"traceparent":
            return trace_id_of(value.decode("latin-1"))
    return None


def start_span(trace_id: str | None = None) -> SpanToken:
    """Open a span of `trace_id` (a new trace when None) for the work in progress; pass the
    token to `end_span` when the work is done."""
    fresh = secrets.token_hex(24)  # a trace id and a span id from one read of urandom
    return _current.set((trace_id or fresh[:32], fresh[32:]))


def end_span(token: SpanToken) -> None:
    """Close the span `start_span` opened: the trace in effect before it is back."""
    _current.reset(token)
