"""Encryption of free-text notes before they leave the service that received them.

AES-256-GCM with a keyring: every ciphertext names its key id, so keys can be rotated while
old notes stay readable. The associated data binds a note to its campus and student, so a
ciphertext copied onto another student's event fails to decrypt.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field

NONCE_BYTES = 12


class EncryptedText(BaseModel):
    """A free-text note sealed with AES-256-GCM; only holders of the key can read it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alg: str = Field(default="A256GCM", description="Algorithm, always AES-256-GCM for now.")
    key_id: str = Field(description="Id of the key in the keyring that sealed the note.")
    nonce: str = Field(description="96-bit nonce, base64url without padding.")
    ciphertext: str = Field(description="Ciphertext with the GCM tag appended, base64url.")


class NoteKeyError(Exception):
    """A note cannot be sealed or opened with the configured keys."""


class NoteCipher:
    """Seals and opens notes with a keyring; `active_key_id` seals, every key opens."""

    def __init__(self, keys: dict[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise NoteKeyError(f"active note key {active_key_id!r} is not in the keyring")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise NoteKeyError(f"note key {key_id!r} must be 32 bytes (AES-256)")
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = active_key_id

    @classmethod
    def from_config(cls, spec: str) -> NoteCipher:
        """Build from `id1:base64key,id2:base64key`; the first key seals new notes."""
        keys: dict[str, bytes] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key_id, sep, encoded = part.partition(":")
            if not sep or not key_id:
                raise NoteKeyError("note keys look like 'id:base64key[,id:base64key]'")
            try:
                keys[key_id] = _b64decode(encoded)
            except ValueError as exc:
                raise NoteKeyError(f"note key {key_id!r} is not valid base64") from exc
        if not keys:
            raise NoteKeyError("no note key configured")
        return cls(keys, next(iter(keys)))

    def seal(self, text: str, *, campus_id: str, student_ref: str) -> EncryptedText:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self._active].encrypt(
            nonce, text.encode(), _aad(campus_id, student_ref)
        )
        return EncryptedText(
            key_id=self._active, nonce=_b64encode(nonce), ciphertext=_b64encode(sealed)
        )

    def open(self, note: EncryptedText, *, campus_id: str, student_ref: str) -> str:
        aead = self._keys.get(note.key_id)
        if aead is None:
            raise NoteKeyError(f"no key {note.key_id!r} in the keyring")
        try:
            plain = aead.decrypt(
                _b64decode(note.nonce), _b64decode(note.ciphertext), _aad(campus_id, student_ref)
            )
        except (InvalidTag, ValueError) as exc:
            raise NoteKeyError("note does not open with this key and student") from exc
        return plain.decode()


def generate_key() -> str:
    """A fresh random 256-bit key, base64url, for configuration."""
    return _b64encode(os.urandom(32))


def _aad(campus_id: str, student_ref: str) -> bytes:
    return f"shouwang-note:{campus_id}:{student_ref}".encode()


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
