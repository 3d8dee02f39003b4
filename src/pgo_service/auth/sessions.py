"""Browser sessions of the login and consent pages.

The cookie holds a random id; the table holds its hash, the CSRF token of the
forms, and how far the login got: ``anonymous`` → ``password`` (first factor
checked) → ``authenticated`` (TOTP checked), then the patient acted for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from ..db.auth_tables import login_session
from .tokens import naive, new_secret, secret_hash

SESSION_LIFETIME = timedelta(minutes=30)
ANONYMOUS, PASSWORD, AUTHENTICATED = "anonymous", "password", "authenticated"


@dataclass(frozen=True)
class LoginSession:
    id_hash: str
    csrf_token: str
    stage: str = ANONYMOUS
    user_id: str | None = None
    patient_id: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.stage == AUTHENTICATED and self.user_id is not None


class SessionRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def start(self, now: datetime) -> tuple[str, LoginSession]:
        raw = new_secret()
        session = LoginSession(id_hash=secret_hash(raw), csrf_token=new_secret())
        self.conn.execute(
            insert(login_session).values(
                id_hash=session.id_hash,
                csrf_token=session.csrf_token,
                stage=session.stage,
                expires_at=naive(now + SESSION_LIFETIME),
            )
        )
        return raw, session

    def find(self, raw: str | None, now: datetime) -> LoginSession | None:
        if not raw:
            return None
        row = self.conn.execute(
            select(login_session).where(
                login_session.c.id_hash == secret_hash(raw),
                login_session.c.expires_at > naive(now),
            )
        ).first()
        if row is None:
            return None
        return LoginSession(row.id_hash, row.csrf_token, row.stage, row.user_id, row.patient_id)

    def advance(
        self,
        session: LoginSession,
        *,
        stage: str | None = None,
        user_id: str | None = None,
        patient_id: str | None = None,
    ) -> LoginSession:
        """Move the session on; arguments left out keep their value."""
        updated = replace(
            session,
            stage=stage or session.stage,
            user_id=user_id or session.user_id,
            patient_id=patient_id or session.patient_id,
        )
        self.conn.execute(
            update(login_session)
            .where(login_session.c.id_hash == session.id_hash)
            .values(stage=updated.stage, user_id=updated.user_id, patient_id=updated.patient_id)
        )
        return updated

    def rotate(self, session: LoginSession, now: datetime) -> tuple[str, LoginSession]:
        """A fresh id after a privilege change, against session fixation."""
        self.end(session)
        raw, fresh = self.start(now)
        return raw, self.advance(
            fresh, stage=session.stage, user_id=session.user_id, patient_id=session.patient_id
        )

    def end(self, session: LoginSession) -> None:
        self.conn.execute(delete(login_session).where(login_session.c.id_hash == session.id_hash))
