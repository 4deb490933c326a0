"""Shouwang's shared contracts: the wire, and nothing else.

Events (envelope and payloads), topic names and keys, the domain vocabulary, student
pseudonyms, note encryption, bearer tokens and W3C trace context. No web framework: the shell
every service wears is the service kit (`shouwang_servicekit`). Services depend on these two
packages and never on each other.
"""

from .crypto import EncryptedText, NoteCipher, NoteKeyError
from .envelope import Envelope, Payload
from .instruments import INSTRUMENTS, BehaviorRecency, Instrument, InstrumentSpec
from .pseudonym import Pseudonymizer
from .vocabulary import ReportChannel, Role, Severity, Signal, Tier

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
    "ReportChannel",
    "Role",
    "Severity",
    "Signal",
    "Tier",
]
