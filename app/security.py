"""Encryption at rest and token hashing."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr


class CredentialCipher:
    """Fernet encryption with key rotation: the first key encrypts, every key decrypts."""

    def __init__(self, keys: list[SecretStr]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(k.get_secret_value().encode()) for k in keys])

    def encrypt(self, plaintext: bytes) -> bytes:
        """Encrypt a credential blob."""
        return self._fernet.encrypt(plaintext)

    def decrypt(self, ciphertext: bytes, ttl: int | None = None) -> bytes:
        """Decrypt a blob written with any configured key; ValueError if none fits.

        With `ttl` (seconds), a blob older than that is refused too.
        """
        try:
            return self._fernet.decrypt(ciphertext, ttl=ttl)
        except InvalidToken:
            raise ValueError("credential cannot be decrypted with the configured keys") from None

    def rotate(self, ciphertext: bytes) -> bytes:
        """Re-encrypt with the first (newest) key."""
        return self._fernet.rotate(ciphertext)


def new_api_token() -> str:
    """A random personal API token; only its hash is stored."""
    return "gg_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 hex digest (tokens are long and random, so no salt or KDF is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(a.encode(), b.encode())


def hmac_hex(message: str, key: str) -> str:
    """HMAC-SHA256 of `message` (hex): for one-click links and webhook signatures."""
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_signature(message: str, signature: str, key: str) -> bool:
    """Constant-time check of a `sign` result."""
    return hmac.compare_digest(hmac_hex(message, key), signature)
