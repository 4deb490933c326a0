"""Field types for what clients send, shared by every service's API models."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator
from pydantic_core import PydanticCustomError

_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _iso_8601_only(value: Any) -> Any:
    """Refuse a number where a date-time belongs.

    pydantic reads a number (or a numeric string, as query parameters arrive) as a Unix
    timestamp, in seconds or milliseconds by its size. The API documents ISO 8601 text, and a
    phone sending milliseconds or a spreadsheet serial date would be read as another time
    without a word, so numbers are refused like any other malformed date-time.
    """
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise PydanticCustomError("datetime_type", "Input should be an ISO 8601 date-time")
    return value


#: A date-time as ISO 8601 text (with or without an offset; the service decides what a
#: missing offset means).
IsoDatetime = Annotated[datetime, BeforeValidator(_iso_8601_only)]
#: A date-time as ISO 8601 text with an offset.
IsoAwareDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_8601_only)]
