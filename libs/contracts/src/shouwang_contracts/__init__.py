"""Shouwang's shared contracts: the only code services share.

Events (envelope and payloads), topic names and keys, the domain vocabulary, student
pseudonyms and note encryption. Services depend on this package and never on each other.
"""

from .crypto import EncryptedText, NoteCipher, NoteKeyError
from .envelope import Envelope, Payload
from .instruments import INSTRUMENTS, BehaviorRecency, Instrument, InstrumentSpec
from .pseudonym import Pseudonymizer
from .vocabulary import Role, Severity, Signal, Tier

__all__ = [
    "INSTRUMENTS",
    "BehaviorRecency",
    "EncryptedText",
    "Envelope",
    "Instrument",
    "InstrumentSpec",
    "NoteCipher",
    "NoteKeyError",
    "Payload",
    "Pseudonymizer",
    "Role",
    "Severity",
    "Signal",
    "Tier",
]
