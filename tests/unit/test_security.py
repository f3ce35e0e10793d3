"""Encryption at rest with key rotation, and token hashing."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from app.security import CredentialCipher, hash_token, new_api_token, same_secret


def key() -> SecretStr:
    return SecretStr(Fernet.generate_key().decode())


def test_round_trip_and_no_plaintext():
    cipher = CredentialCipher([key()])
    blob = cipher.encrypt(b'{"refresh_token": "1//secret"}')
    assert b"secret" not in blob
    assert cipher.decrypt(blob) == b'{"refresh_token": "1//secret"}'


def test_rotation_new_key_first_old_still_decrypts():
    old, new = key(), key()
    blob = CredentialCipher([old]).encrypt(b"token")
    rotated_cipher = CredentialCipher([new, old])
    assert rotated_cipher.decrypt(blob) == b"token"
    rotated = rotated_cipher.rotate(blob)
    assert CredentialCipher([new]).decrypt(rotated) == b"token"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        CredentialCipher([old]).decrypt(rotated)


def test_tokens_are_random_and_hashed():
    a, b = new_api_token(), new_api_token()
    assert a != b and a.startswith("gg_")
    assert len(hash_token(a)) == 64 and hash_token(a) != hash_token(b)
    assert same_secret(a, a) and not same_secret(a, b)
