"""The encryption keyring for secrets stored in the database.

A keyring is an ordered list of Fernet keys: the first encrypts, every key decrypts. Each
ciphertext names the id of the key that made it (``enc:v1:<key id>:<token>``), so a value made
under a key that is no longer configured is reported by id instead of failing obscurely.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from storage import key_files

PREFIX = "enc:v1:"
KEY_FILE_NAME = "encryption.key"


class KeyringError(Exception):
    """A key is malformed, missing, or a value cannot be decrypted."""


class MissingKeyError(KeyringError):
    def __init__(self, key_id: str):
        super().__init__(
            f"stored data is encrypted with key id {key_id}, which is not in ACKBOT_ENCRYPTION_KEYS"
        )
        self.key_id = key_id


def key_id_of(key: str) -> str:
    """A short, stable, non-secret name for a key (8 hex digits of its SHA-256)."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()[:8]


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


@dataclass(frozen=True, repr=False)
class Keyring:
    keys: tuple[str, ...]

    def __post_init__(self):
        if not self.keys:
            raise KeyringError("the keyring is empty")
        for position, key in enumerate(self.keys, start=1):
            try:
                Fernet(key)
            except (ValueError, TypeError):
                raise KeyringError(
                    f"key {position} is not a valid key (expected 32 url-safe base64 bytes,"
                    " as printed by `ackbot keys generate`)"
                ) from None

    def __repr__(self) -> str:
        return f"Keyring(key_ids={self.key_ids})"

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(key_id_of(key) for key in self.keys)

    @property
    def primary_id(self) -> str:
        return self.key_ids[0]

    def encrypt(self, plaintext: str) -> str:
        token = Fernet(self.keys[0]).encrypt(plaintext.encode("utf-8")).decode("ascii")
        return f"{PREFIX}{self.primary_id}:{token}"

    def decrypt(self, stored: str) -> str:
        key_id, token = split_ciphertext(stored)
        for key in self.keys:
            if key_id_of(key) == key_id:
                try:
                    return Fernet(key).decrypt(token.encode("ascii")).decode("utf-8")
                except InvalidToken:
                    raise KeyringError(f"a value under key id {key_id} failed to decrypt") from None
        raise MissingKeyError(key_id)


def split_ciphertext(stored: str) -> tuple[str, str]:
    """(key id, token) of a stored value; raises KeyringError if it is not ciphertext."""
    if not stored.startswith(PREFIX):
        raise KeyringError("a stored secret is not in the encrypted format")
    key_id, _, token = stored[len(PREFIX):].partition(":")
    return key_id, token


def load_or_create_key_file(data_dir: Path) -> tuple[str, bool]:
    """The key in ``data_dir/encryption.key``, made (mode 0600) if absent; returns (key, created)."""
    return key_files.load_or_create(data_dir / KEY_FILE_NAME, generate_key)
