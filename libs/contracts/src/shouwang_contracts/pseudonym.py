"""Pseudonymous references: events name people by keyed hashes, never by number or name.

`student_ref` is an HMAC-SHA256 of campus and student number (学号) under a secret key that
only intake and casework hold. The same inputs always give the same reference, so one student's
events line up across services, while a reader of the topics cannot go back to the number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from functools import lru_cache

MIN_KEY_BYTES = 32
_STUDENT_PREFIX = "stu_"
_PERSON_PREFIX = "per_"
_PLACEMENT_PREFIX = "plc_"


class Pseudonymizer:
    """Derives stable references for students and reporters from one secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"pseudonym key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key
        # The same reporters and students come back all day; HMAC plus base32 in Python is
        # the costliest step of a report, so remember recent answers (bounded, per key).
        self._digest = lru_cache(maxsize=65_536)(self._compute)

    def _compute(self, *parts: str) -> str:
        # NUL separates parts so ("a1", "2") and ("a", "12") never collide.
        message = "\x00".join(_normalise(part) for part in parts).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()[:20]
        return base64.b32encode(digest).decode().lower()

    def student_ref(self, campus_id: str, student_no: str) -> str:
        """The pseudonym of a student: same campus and 学号 → same reference."""
        return _STUDENT_PREFIX + self._digest("student", campus_id, student_no)

    def person_ref(self, campus_id: str, subject: str) -> str:
        """The pseudonym of a reporter or staff member (a token's `sub`)."""
        return _PERSON_PREFIX + self._digest("person", campus_id, subject)


class PlacementHasher:
    """Keyed hashes of where a student is placed, for the directory stream.

    Under a key of its own (`SHOUWANG_PLACEMENT_KEY`), held by casework, which publishes the
    hashes, and by the services that check scope or group by them (triage): a reader of the
    topic without it learns only which students are placed alike, never where.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"placement key must be at least {MIN_KEY_BYTES} bytes")
        self._inner = Pseudonymizer(key)

    def placement_ref(self, campus_id: str, grant: str) -> str:
        """The hash of one scope grant's text (`building:8号楼`, `room:8号楼/202`, ...)."""
        return _PLACEMENT_PREFIX + self._inner._digest("placement", campus_id, grant)


def _normalise(value: str) -> str:
    # Exports write 学号 with full-width digits or stray spaces now and then.
    return unicodedata.normalize("NFKC", value).strip()


def is_student_ref(value: str) -> bool:
    return value.startswith(_STUDENT_PREFIX) and len(value) == len(_STUDENT_PREFIX) + 32
