"""Every event type Shouwang publishes, registered once for schema export and decoding."""

from __future__ import annotations

from ..envelope import Payload
from .intake import ReportSubmitted, ScreeningSubmitted

EVENT_TYPES: dict[str, type[Payload]] = {
    cls.EVENT_TYPE: cls
    for cls in (
        ReportSubmitted,
        ScreeningSubmitted,
    )
}

__all__ = ["EVENT_TYPES", "ReportSubmitted", "ScreeningSubmitted"]
