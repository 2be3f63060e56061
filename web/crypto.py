"""Encryption at rest for Amazon codes and tokens.

`TOKEN_ENCRYPTION_KEY` holds one or more comma-separated Fernet keys: the first encrypts, every one
decrypts, so a key is rotated by putting the new one first.
"""

import hashlib

from cryptography.fernet import Fernet, MultiFernet


def fernet(keys: str) -> MultiFernet:
    """A MultiFernet for a comma-separated list of keys."""
    return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])


def encrypt(keys: str, secret: str) -> bytes:
    return fernet(keys).encrypt(secret.encode())


def decrypt(keys: str, token: bytes) -> str:
    return fernet(keys).decrypt(token).decode()


def digest(value: str) -> str:
    """SHA-256 of a link token or OAuth state: what the database keeps instead of the value."""
    return hashlib.sha256(value.encode()).hexdigest()
