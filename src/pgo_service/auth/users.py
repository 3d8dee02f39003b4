"""Accounts of clients and their representatives, and whom each may act for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from ..db.auth_tables import app_user, represented_patient


@dataclass(frozen=True)
class User:
    id: str
    login_name: str
    password_hash: str
    totp_secret: bytes  # sealed with SecretBox
    actor_reference: str  # Patient/<id> or RelatedPerson/<id>
    represented: tuple[str, ...] = ()

    def patients(self) -> tuple[str, ...]:
        """Patient ids this user may act for: themselves if a Patient, then whom they represent."""
        own: tuple[str, ...] = ()
        kind, _, ident = self.actor_reference.partition("/")
        if kind == "Patient":
            own = (ident,)
        return tuple(dict.fromkeys((*own, *self.represented)))


class UserRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _load(self, row: Any) -> User:
        represented = self.conn.execute(
            select(represented_patient.c.patient_id)
            .where(represented_patient.c.user_id == row.id)
            .order_by(represented_patient.c.patient_id)
        ).scalars()
        return User(
            id=row.id,
            login_name=row.login_name,
            password_hash=row.password_hash,
            totp_secret=row.totp_secret,
            actor_reference=row.actor_reference,
            represented=tuple(represented),
        )

    def by_login(self, login_name: str) -> User | None:
        row = self.conn.execute(select(app_user).where(app_user.c.login_name == login_name)).first()
        return self._load(row) if row else None

    def get(self, user_id: str) -> User | None:
        row = self.conn.execute(select(app_user).where(app_user.c.id == user_id)).first()
        return self._load(row) if row else None

    def add(self, user: User, now: datetime) -> None:
        self.conn.execute(
            insert(app_user).values(
                id=user.id,
                login_name=user.login_name,
                password_hash=user.password_hash,
                totp_secret=user.totp_secret,
                actor_reference=user.actor_reference,
                created_at=now,
            )
        )
        for patient_id in user.represented:
            self.conn.execute(
                insert(represented_patient).values(user_id=user.id, patient_id=patient_id)
            )

    def spend_totp_step(self, user_id: str, step: int) -> bool:
        """Record ``step`` as the last accepted TOTP step; False if it, or a later
        one, was accepted before (RFC 6238 §5.2: a code is accepted once).

        One conditional UPDATE, so of two logins with the same code only one wins.
        """
        c = app_user.c
        result = self.conn.execute(
            update(app_user)
            .where(c.id == user_id, or_(c.totp_last_step.is_(None), c.totp_last_step < step))
            .values(totp_last_step=step)
        )
        return result.rowcount == 1
