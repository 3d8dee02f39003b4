"""Periods of participation and their relation to a moment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..fhir.search.normalize import MAX_TIME, MIN_TIME, date_range, to_micros


def bounds(period: Any) -> tuple[int, int]:
    """Inclusive [start, end] of a FHIR Period in epoch microseconds (open ends unbounded)."""
    if not isinstance(period, dict):
        return MIN_TIME, MAX_TIME
    start = date_range(period["start"])[0] if period.get("start") else MIN_TIME
    end = date_range(period["end"])[1] if period.get("end") else MAX_TIME
    return start, end


def is_active(period: Any, moment: datetime) -> bool:
    start, end = bounds(period)
    return start <= to_micros(moment) <= end


def has_ended(period: Any, moment: datetime) -> bool:
    return bounds(period)[1] < to_micros(moment)


def _end_exclusive(period: Any) -> int:
    """The first moment after the period: an end with a time is exclusive, a date-only
    end includes that whole day (so one participation can end as the next begins)."""
    end = period.get("end") if isinstance(period, dict) else None
    if not end:
        return MAX_TIME
    low, high = date_range(end)
    return low if "T" in end else high + 1


def overlaps(first: Any, second: Any) -> bool:
    a_start, b_start = bounds(first)[0], bounds(second)[0]
    return a_start < _end_exclusive(second) and b_start < _end_exclusive(first)
