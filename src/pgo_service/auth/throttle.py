"""Login throttling per login name, known or not (so it reveals nothing).

After ``FREE_ATTEMPTS`` failures the name is locked, for a period that doubles
with every further failure up to ``MAX_LOCK``; a successful login resets it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from ..db.auth_tables import login_throttle
from .tokens import naive

FREE_ATTEMPTS = 5
BASE_LOCK = timedelta(minutes=1)
MAX_LOCK = timedelta(hours=1)


class LoginThrottle:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def locked(self, login_name: str, now: datetime) -> bool:
        row = self.conn.execute(
            select(login_throttle.c.locked_until).where(login_throttle.c.login_name == login_name)
        ).first()
        return bool(row and row.locked_until and row.locked_until > naive(now))

    def record_failure(self, login_name: str, now: datetime) -> None:
        row = self.conn.execute(
            select(login_throttle.c.failures).where(login_throttle.c.login_name == login_name)
        ).first()
        failures = (row.failures if row else 0) + 1
        locked_until = None
        if failures >= FREE_ATTEMPTS:
            lock = min(BASE_LOCK * 2 ** (failures - FREE_ATTEMPTS), MAX_LOCK)
            locked_until = naive(now + lock)
        values = {"failures": failures, "locked_until": locked_until, "last_failure_at": naive(now)}
        if row is None:
            self.conn.execute(insert(login_throttle).values(login_name=login_name, **values))
        else:
            self.conn.execute(
                update(login_throttle)
                .where(login_throttle.c.login_name == login_name)
                .values(**values)
            )

    def reset(self, login_name: str) -> None:
        self.conn.execute(delete(login_throttle).where(login_throttle.c.login_name == login_name))
