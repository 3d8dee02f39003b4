"""Login throttling per login name, known or not (so it reveals nothing).

After ``FREE_ATTEMPTS`` failures the name is locked, for a period that doubles
with every further failure up to ``MAX_LOCK``; a successful login resets it.

Attempts on one name are counted one after another, also when they arrive at
the same moment: ``locked`` first makes sure the name has a row (an upsert, so
two first attempts cannot both insert it) and then locks that row until the
transaction ends. A second attempt therefore waits for the first to be counted
instead of being checked against the same, too low count, which would let
parallel guesses slip past the lock. (SQLite write transactions are serialised
already; there the row lock is a no-op.)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..db.auth_tables import login_throttle
from .tokens import naive

FREE_ATTEMPTS = 5
BASE_LOCK = timedelta(minutes=1)
MAX_LOCK = timedelta(hours=1)


def _insert(conn: Connection) -> Any:
    """The dialect's INSERT, which has ``ON CONFLICT`` (PostgreSQL, SQLite ≥ 3.24)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(login_throttle)


def lock_period(failures: int) -> timedelta | None:
    if failures < FREE_ATTEMPTS:
        return None
    period: timedelta = BASE_LOCK * 2 ** (failures - FREE_ATTEMPTS)
    return min(period, MAX_LOCK)


class LoginThrottle:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def locked(self, login_name: str, now: datetime) -> bool:
        """Whether the name is locked; holds the name's row lock until the transaction ends."""
        self.conn.execute(
            _insert(self.conn)
            .values(login_name=login_name, failures=0, last_failure_at=naive(now))
            .on_conflict_do_nothing(index_elements=[login_throttle.c.login_name])
        )
        row = self.conn.execute(
            select(login_throttle.c.locked_until)
            .where(login_throttle.c.login_name == login_name)
            .with_for_update()
        ).one()
        return bool(row.locked_until and row.locked_until > naive(now))

    def record_failure(self, login_name: str, now: datetime) -> None:
        c = login_throttle.c
        statement = _insert(self.conn).values(
            login_name=login_name, failures=1, last_failure_at=naive(now)
        )
        failures = self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=[c.login_name],
                set_={"failures": c.failures + 1, "last_failure_at": naive(now)},
            ).returning(c.failures)
        ).scalar_one()
        lock = lock_period(int(failures))
        self.conn.execute(
            update(login_throttle)
            .where(c.login_name == login_name)
            .values(locked_until=naive(now + lock) if lock else None)
        )

    def reset(self, login_name: str) -> None:
        """Clear the count. The row stays: deleting it under a waiting attempt would
        leave that attempt with no row to lock."""
        self.conn.execute(
            update(login_throttle)
            .where(login_throttle.c.login_name == login_name)
            .values(failures=0, locked_until=None)
        )
