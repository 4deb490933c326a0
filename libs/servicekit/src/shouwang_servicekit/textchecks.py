"""Text no query can take, looked for at the edge before it fails deeper as a 500.

A JSON body may escape a lone UTF-16 surrogate or a NUL, and a path or query string may hold a
NUL: Python takes them all, then encoding (sealing a note, the answer) or PostgreSQL fails.
`EdgeMiddleware` refuses them first (`problems.LoneSurrogate`, `problems.NulCharacter`).
"""

from __future__ import annotations

import re
from typing import Any

from .problems import LoneSurrogate, NulCharacter

# A JSON string escape of a UTF-16 surrogate: high (D800-DBFF) or low (DC00-DFFF).
_HIGH = rb"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW = rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_UNPAIRED = re.compile(_HIGH + rb"(?!" + _LOW + rb")|(?<!" + _HIGH + rb")" + _LOW)
_ESCAPED_BACKSLASH = re.compile(rb"\\\\")


def has_lone_surrogate(body: bytes) -> bool:
    """Whether a JSON text escapes a surrogate that is not half of a pair (`"\\ud800"`).

    Python's `json` accepts one, and the string then fails wherever it is encoded (sealing a
    note, PostgreSQL, the answer): a 500 from a malformed body. Escaped backslashes are
    blanked first, so `"\\\\ud800"` (a backslash, then letters) is text, not an escape.
    """
    if b"\\u" not in body:
        return False
    return _UNPAIRED.search(_ESCAPED_BACKSLASH.sub(b"__", body)) is not None


def has_nul(body: bytes) -> bool:
    """Whether a JSON text escapes a NUL character (`"\\u0000"`), which no PostgreSQL text
    column or parameter can hold: the query would fail as a 500."""
    if b"\\u0000" not in body:
        return False
    return b"\\u0000" in _ESCAPED_BACKSLASH.sub(b"__", body)


def json_fault(body: bytes) -> Exception | None:
    """The refusal a whole JSON body has earned, if any."""
    if has_lone_surrogate(body):
        return LoneSurrogate()
    if has_nul(body):
        return NulCharacter()
    return None


def nul_in_target(path: str, query: bytes) -> bool:
    """A NUL in the (decoded) path or the query string: `/v1/students/%00/file`."""
    return "\x00" in path or b"%00" in query


def declares_json(headers: Any) -> bool:
    """Whether the request's content type is JSON (`application/json` or `…+json`)."""
    for name, value in headers:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return bool(media == b"application/json" or media.endswith(b"+json"))
    return False
