"""Normalisation shared by index extraction and query parsing, so both sides agree."""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

MIN_TIME = -62135596800 * 1_000_000  # 0001-01-01T00:00:00Z
MAX_TIME = 253402300799 * 1_000_000 + 999_999  # 9999-12-31T23:59:59.999999Z

_DATE_RE = re.compile(
    r"^(?P<y>\d{4})(-(?P<m>\d{2})(-(?P<d>\d{2})"
    r"(T(?P<H>\d{2})(:(?P<M>\d{2})(:(?P<S>\d{2})(?P<f>\.\d+)?)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def normalize_string(value: str) -> str:
    """Case- and accent-insensitive form used by string search (R4 §3.1.1.4.8)."""
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def to_micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def date_range(value: str) -> tuple[int, int]:
    """The implicit range a FHIR date/dateTime/instant covers, in epoch microseconds.

    ``2024`` covers the whole year, ``2024-03-01T10:00`` the whole minute. A time
    without a zone is taken as UTC. Raises ValueError for anything malformed.
    """
    match = _DATE_RE.match(value.strip())
    if not match:
        raise ValueError(f"not a FHIR date: {value!r}")
    g = match.groupdict()
    year = int(g["y"])
    if g["m"] is None:
        start = datetime(year, 1, 1, tzinfo=UTC)
        end = datetime(year + 1, 1, 1, tzinfo=UTC) if year < 9999 else None
        return _bounds(start, end)
    month = int(g["m"])
    if g["d"] is None:
        start = datetime(year, month, 1, tzinfo=UTC)
        days = calendar.monthrange(year, month)[1]
        return _bounds(start, start + timedelta(days=days))
    day = int(g["d"])
    tz = _zone(g["tz"])
    if g["H"] is None:
        start = datetime(year, month, day, tzinfo=UTC)
        return _bounds(start, start + timedelta(days=1))
    if g["M"] is None:
        raise ValueError(f"a time needs hours and minutes: {value!r}")
    hour, minute = int(g["H"]), int(g["M"])
    start = datetime(year, month, day, hour, minute, tzinfo=tz)
    if g["S"] is None:
        return _bounds(start, start + timedelta(minutes=1))
    start = start.replace(second=int(g["S"]))
    if g["f"] is None:
        return _bounds(start, start + timedelta(seconds=1))
    digits = g["f"][1:]
    micros = int((digits + "000000")[:6])
    start = start.replace(microsecond=micros)
    precision = 10 ** max(0, 6 - len(digits))
    return _bounds(start, start + timedelta(microseconds=precision))


def _zone(text: str | None) -> timezone:
    if text is None or text == "Z":
        return UTC
    sign = 1 if text[0] == "+" else -1
    hours, minutes = int(text[1:3]), int(text[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _bounds(start: datetime, end: datetime | None) -> tuple[int, int]:
    low = to_micros(start)
    high = to_micros(end) - 1 if end is not None else MAX_TIME
    return low, high
