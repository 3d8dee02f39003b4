"""Time-based one-time passwords (RFC 6238 over HOTP, RFC 4226)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from datetime import datetime
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6


def _hotp(secret: str, counter: int) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F  # dynamic truncation, RFC 4226 §5.3
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def totp_at(secret: str, moment: datetime) -> str:
    return _hotp(secret, int(moment.timestamp()) // STEP_SECONDS)


def verify_totp(secret: str, code: str, moment: datetime) -> bool:
    """Accept the current step and one step either side (RFC 6238 §5.2 clock drift)."""
    code = code.strip()
    counter = int(moment.timestamp()) // STEP_SECONDS
    return any(hmac.compare_digest(_hotp(secret, counter + d), code) for d in (-1, 0, 1))


def provisioning_uri(secret: str, login_name: str, issuer: str = "pgo-service") -> str:
    label = quote(f"{issuer}:{login_name}")
    return f"otpauth://totp/{label}?" + urlencode(
        {"secret": secret, "issuer": issuer, "digits": DIGITS, "period": STEP_SECONDS}
    )
