"""The range a FHIR date covers, against datetime's own arithmetic as the oracle."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgo_service.fhir.search.normalize import MAX_TIME, date_range, to_micros

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


_zones = st.one_of(
    st.none(),
    st.just("Z"),
    st.builds(
        lambda sign, h, m: f"{sign}{h:02d}:{m:02d}",
        st.sampled_from("+-"),
        st.integers(0, 23),
        st.sampled_from([0, 30, 45, 59]),
    ),
)


@settings(max_examples=500, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    zone=_zones,
    digits=st.integers(0, 9),
    with_seconds=st.booleans(),
)
def test_a_time_covers_its_precision(
    moment: datetime, zone: str | None, digits: int, with_seconds: bool
) -> None:
    text = moment.isoformat(timespec="minutes")
    width = timedelta(minutes=1)
    start = moment.replace(second=0, microsecond=0)
    if with_seconds:
        text += moment.strftime(":%S")
        start, width = start.replace(second=moment.second), timedelta(seconds=1)
        if digits:
            fraction = f"{moment.microsecond:06d}{moment.microsecond % 1000:03d}"[:digits]
            text += "." + fraction
            kept = int((fraction + "000000")[:6])
            start = start.replace(microsecond=kept)
            width = timedelta(microseconds=10 ** max(0, 6 - digits))
    offset = timedelta(0)
    if zone not in (None, "Z"):
        sign = 1 if zone[0] == "+" else -1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    aware = start.replace(tzinfo=timezone(offset))
    low = _micros(aware)
    assert date_range(text + (zone or "")) == (low, low + width // timedelta(microseconds=1) - 1)


@settings(max_examples=200, deadline=None)
@given(day=st.dates())
def test_a_day_a_month_and_a_year(day: date) -> None:
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    next_day = _micros(midnight) + 86_400_000_000 - 1
    assert date_range(day.isoformat()) == (_micros(midnight), min(next_day, MAX_TIME))
    first = midnight.replace(day=1)
    after = (
        (first + timedelta(days=32)).replace(day=1) if day.year < 9999 or day.month < 12 else None
    )
    month_end = _micros(after) - 1 if after else MAX_TIME
    assert date_range(day.isoformat()[:7]) == (_micros(first), month_end)
    year = first.replace(month=1)
    year_end = _micros(year.replace(year=day.year + 1)) - 1 if day.year < 9999 else MAX_TIME
    assert date_range(f"{day.year:04d}") == (_micros(year), year_end)


def test_the_last_moments_the_calendar_has() -> None:
    assert date_range("9999-12-31T23:59")[1] == MAX_TIME
    assert date_range("9999-12-31")[1] == MAX_TIME
    assert date_range("9999-12") == (to_micros(datetime(9999, 12, 1)), MAX_TIME)


@pytest.mark.parametrize(
    "text",
    [
        "2023-02-29",
        "2024-13",
        "2024-00-10",
        "2024-03-01T24:00",
        "2024-03-01T23:60",
        "2024-03-01T23:59:60",
        "2024-03-01T10:00:00+24:00",
        "2024-03-01T10",
        "0000",
        "2024-3-1",
        "yesterday",
    ],
)
def test_what_is_no_date_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        date_range(text)
