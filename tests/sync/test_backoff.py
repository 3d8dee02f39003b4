"""Backoff with full jitter, and reading Retry-After."""

from __future__ import annotations

import random
from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from pgo_service.sync.backoff import backoff_seconds, parse_retry_after

NOW = datetime(2026, 12, 1, 12, 0, 0)


@given(st.integers(min_value=1, max_value=10_000), st.integers(min_value=0, max_value=2**32))
def test_full_jitter_stays_below_the_capped_exponential(attempt: int, seed: int) -> None:
    delay = backoff_seconds(attempt, base=5.0, cap=3600.0, rng=random.Random(seed))
    assert 0 <= delay <= (3600.0 if attempt > 20 else min(3600.0, 5.0 * 2 ** (attempt - 1)))


def test_jitter_spreads_workers_out() -> None:
    rng = random.Random(1)
    delays = [backoff_seconds(6, base=5.0, cap=3600.0, rng=rng) for _ in range(200)]
    assert min(delays) < 40 < 120 < max(delays) <= 160


def test_retry_after() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after(" 0 ", NOW) == 0.0
    assert parse_retry_after("Tue, 01 Dec 2026 12:02:30 GMT", NOW) == 150.0
    assert parse_retry_after("Tuesday, 01-Dec-26 12:00:10 GMT", NOW) == 10.0  # RFC 850 form
    assert parse_retry_after("Tue Dec  1 12:00:05 2026", NOW) == 5.0  # asctime form
    assert parse_retry_after("Mon, 30 Nov 2026 12:00:00 GMT", NOW) == 0.0  # in the past
    assert parse_retry_after("-5", NOW) is None
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None
