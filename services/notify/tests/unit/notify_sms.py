"""Counting an SMS's segments as a gateway bills them.

A message in the GSM 03.38 alphabet goes 160 characters to a segment (its extension table's
characters take two); one character outside it makes the whole message UCS-2, 70 characters
to a segment. A longer message is sent in parts whose header takes room: 153 and 67.
"""

from __future__ import annotations

UCS2_SEGMENT = 70
UCS2_PART = 67
GSM7_SEGMENT = 160
GSM7_PART = 153
# The GSM 03.38 basic alphabet.
GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: Its extension table: each of these takes two of the 160.
GSM7_EXTENDED = frozenset("^{}\\[~]|€")


def is_gsm7(text: str) -> bool:
    return set(text) <= GSM7 | GSM7_EXTENDED


def gsm7_length(text: str) -> int:
    return sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)


def segments(text: str) -> int:
    """How many segments `text` takes."""
    if is_gsm7(text):
        length, single, part = gsm7_length(text), GSM7_SEGMENT, GSM7_PART
    else:
        length, single, part = len(text), UCS2_SEGMENT, UCS2_PART
    return 1 if length <= single else -(-length // part)
