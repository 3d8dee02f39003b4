"""The two login steps (password, then TOTP) with throttling and auditing.

Both steps fail with the same message whatever went wrong, and count towards the
same per-name throttle, so neither reveals whether an account exists. A TOTP code
is accepted once: the account stores the time step of the last accepted code and
refuses that step and earlier ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from .audit import FAILURE, AuditRecord, write_audit
from .crypto import DUMMY_PASSWORD_HASH, SecretBox, verify_password
from .sessions import AUTHENTICATED, PASSWORD, LoginSession, SessionRepository
from .throttle import LoginThrottle
from .totp import matching_step
from .users import User, UserRepository

FAILED = "De combinatie van gegevens klopt niet."
LOCKED = "Te veel mislukte pogingen. Probeer het later opnieuw."


@dataclass(frozen=True)
class LoginResult:
    session: LoginSession | None = None
    raw_session_id: str | None = None  # set when the session id changed
    error: str | None = None


def check_password(
    conn: Connection,
    session: LoginSession,
    login_name: str,
    password: str,
    now: datetime,
    correlation_id: str | None = None,
) -> LoginResult:
    throttle = LoginThrottle(conn)
    user = UserRepository(conn).by_login(login_name)
    if throttle.locked(login_name, now):
        _failed(conn, user, "locked", now, correlation_id)
        return LoginResult(error=LOCKED)
    ok = verify_password(password, user.password_hash if user else DUMMY_PASSWORD_HASH)
    if user is None or not ok:
        throttle.record_failure(login_name, now)
        _failed(conn, user, "password", now, correlation_id)
        return LoginResult(error=FAILED)
    return LoginResult(SessionRepository(conn).advance(session, stage=PASSWORD, user_id=user.id))


def check_totp(
    conn: Connection,
    session: LoginSession,
    code: str,
    box: SecretBox,
    now: datetime,
    correlation_id: str | None = None,
) -> LoginResult:
    user = UserRepository(conn).get(session.user_id or "")
    if user is None or session.stage != PASSWORD:
        return LoginResult(error=FAILED)
    throttle = LoginThrottle(conn)
    if throttle.locked(user.login_name, now):
        _failed(conn, user, "locked", now, correlation_id)
        return LoginResult(error=LOCKED)
    step = matching_step(box.open(user.totp_secret).decode(), code, now)
    if step is None or not UserRepository(conn).spend_totp_step(user.id, step):
        # A code seen before (or an older one) counts as a wrong code: it may be an
        # observed or phished one replayed within its validity window.
        throttle.record_failure(user.login_name, now)
        _failed(conn, user, "totp" if step is None else "totp replayed", now, correlation_id)
        return LoginResult(error=FAILED)
    throttle.reset(user.login_name)
    sessions = SessionRepository(conn)
    raw, fresh = sessions.rotate(session, now)
    patients = user.patients()
    fresh = sessions.advance(
        fresh, stage=AUTHENTICATED, patient_id=patients[0] if len(patients) == 1 else None
    )
    write_audit(
        conn,
        AuditRecord(
            event="login", actor_reference=user.actor_reference, correlation_id=correlation_id
        ),
        now,
    )
    return LoginResult(fresh, raw)


def _failed(
    conn: Connection, user: User | None, step: str, now: datetime, correlation_id: str | None
) -> None:
    record = AuditRecord(
        event="login-failed",
        outcome=FAILURE,
        actor_reference=user.actor_reference if user else None,
        detail=f"failed step: {step}",
        correlation_id=correlation_id,
    )
    write_audit(conn, record, now)
