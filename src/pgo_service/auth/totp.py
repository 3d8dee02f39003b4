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


def matching_step(secret: str, code: str, moment: datetime) -> int | None:
    """The time step ``code`` belongs to, if it is the current one or one either side
    (RFC 6238 §5.2 clock drift); None if the code is wrong.

    Each step is compared, so the time taken does not tell which step matched.
    """
    code = code.strip()
    counter = int(moment.timestamp()) // STEP_SECONDS
    found = None
    for step in (counter - 1, counter, counter + 1):
        if hmac.compare_digest(_hotp(secret, step), code):
            found = step
    return found


def provisioning_uri(secret: str, login_name: str, issuer: str = "pgo-service") -> str:
    label = quote(f"{issuer}:{login_name}")
    return f"otpauth://totp/{label}?" + urlencode(
        {"secret": secret, "issuer": issuer, "digits": DIGITS, "period": STEP_SECONDS}
    )
