"""Random credentials and their stored form, and the injectable clock.

Codes, tokens and session ids are 256-bit random strings; only their SHA-256 is
stored, so a copy of the database does not let anyone act as a client or user.
A plain hash (no salt, no stretching) suffices because the input has full entropy.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def naive(moment: datetime) -> datetime:
    """The naive UTC form the tables store."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def secret_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_id() -> str:
    return secrets.token_hex(16)
