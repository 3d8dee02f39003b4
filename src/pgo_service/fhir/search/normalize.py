"""Normalisation shared by index extraction and query parsing, so both sides agree."""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta

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
    y, m, d, hh, mm, ss, fraction, zone = match.group("y", "m", "d", "H", "M", "S", "f", "tz")
    year = int(y)
    if m is None:
        low = _day_micros(year, 1, 1)
        return low, (_day_micros(year + 1, 1, 1) - 1 if year < 9999 else MAX_TIME)
    month = int(m)
    if d is None:
        low = _day_micros(year, month, 1)
        return low, _upper(low, calendar.monthrange(year, month)[1] * _DAY)
    day = _day_micros(year, month, int(d))
    if hh is None:
        return day, _upper(day, _DAY)
    if mm is None:
        raise ValueError(f"a time needs hours and minutes: {value!r}")
    hour, minute, second = int(hh), int(mm), int(ss or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"not a time of day: {value!r}")
    low = day + ((hour * 60 + minute) * 60 + second - _offset_seconds(zone)) * 1_000_000
    if ss is None:
        return low, _upper(low, 60_000_000)
    if fraction is None:
        return low, _upper(low, 1_000_000)
    digits = fraction[1:]
    low += int((digits + "000000")[:6])
    return low, _upper(low, 10 ** max(0, 6 - len(digits)))


# Computed from the calendar rather than with datetime objects: indexing a resource
# and every date in a query parse dates here, and the objects made it cost twice as much.
_DAY = 86_400_000_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _day_micros(year: int, month: int, day: int) -> int:
    """Midnight UTC of the day (ValueError for a day the calendar does not have)."""
    return (date(year, month, day).toordinal() - _EPOCH_ORDINAL) * _DAY


def _upper(low: int, width: int) -> int:
    return min(low + width - 1, MAX_TIME)


def _offset_seconds(text: str | None) -> int:
    if text is None or text == "Z":
        return 0
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours * 60 + minutes >= 24 * 60:
        raise ValueError(f"not a time zone: {text!r}")
    return (1 if text[0] == "+" else -1) * (hours * 60 + minutes) * 60
