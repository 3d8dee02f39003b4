"""Password hashing (scrypt) and encryption of secrets at rest (AES-GCM)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(candidate.hex(), digest)


# A fixed hash to compare against when the login name is unknown, so that unknown
# and known names take the same time.
DUMMY_PASSWORD_HASH = hash_password("unused")


class SecretBox:
    """Authenticated encryption under a key derived from the service's secret key."""

    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"pgo-service/secret-box\0" + secret_key.encode()).digest()

    def seal(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(self._key).encrypt(nonce, plaintext, None)

    def open(self, sealed: bytes) -> bytes:
        return AESGCM(self._key).decrypt(sealed[:12], sealed[12:], None)


def b32_secret() -> str:
    """A 160-bit TOTP secret in base32, as authenticator apps expect."""
    return base64.b32encode(os.urandom(20)).decode().rstrip("=")
