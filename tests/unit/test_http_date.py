from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

from hypothesis import given
from hypothesis import strategies as st

from pgo_service.api.responses import http_date


@given(
    moment=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30)),
    offset=st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_http_date_is_the_imf_fixdate(moment: datetime, offset: int) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset)))
    assert http_date(aware) == format_datetime(aware.astimezone(UTC), usegmt=True)
