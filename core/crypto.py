"""Encryption at rest for Amazon codes and tokens.

`TOKEN_ENCRYPTION_KEY` holds one or more comma-separated Fernet keys: the first encrypts, every one
decrypts, so a key is rotated by putting the new one first.
"""

import base64
import hashlib
import hmac

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


def link_token(secret_key: str, *identity: str) -> str:
    """The token of an emailed link, derived from what the email is (HMAC-SHA256, 256 bits).

    A retried send rebuilds the same link and the same Message-ID, so the seller never holds two
    links for one email; without SECRET_KEY (which the database does not hold) nobody can derive
    it, and the database keeps only its SHA-256.
    """
    mac = hmac.new(secret_key.encode(), "|".join(identity).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def keyed_digest(secret_key: str, purpose: str, *identity: str) -> str:
    """HMAC-SHA256 (hex) of `identity` under a key derived from SECRET_KEY for one `purpose`.

    For ids shown outside the app (a workflow id in Temporal) that must not be recoverable by
    hashing guesses; the derived key keeps them apart from the emailed link tokens.
    """
    key = hmac.new(secret_key.encode(), f"purpose:{purpose}".encode(), hashlib.sha256).digest()
    return hmac.new(key, "|".join(identity).encode(), hashlib.sha256).hexdigest()
