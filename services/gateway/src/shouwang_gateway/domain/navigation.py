"""Where the browser may be sent after signing in: only a path of this origin.

A `return_to` taken from the query string would otherwise let a crafted link send a person,
just signed in, to another site dressed as ours (an open redirect).
"""

from __future__ import annotations

import re

_SAFE_PATH = re.compile(r"^/(?![/\\])[A-Za-z0-9\-._~/?=&%#]*$")


def safe_return_to(value: str | None, default: str = "/") -> str:
    """`value` when it is a same-origin path (`/desk/queue`), else `default`."""
    if value and _SAFE_PATH.match(value) and "//" not in value and "\\" not in value:
        return value
    return default
