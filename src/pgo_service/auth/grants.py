"""Grants (a user's consent to one app), and the codes and tokens issued under them.

A grant is the family of everything issued from one approval: its authorization
code, access tokens and refresh tokens. Revoking the grant (by the user on the
account page, by RFC 7009 revocation of a refresh token, or on detecting a replayed
code or refresh token) revokes the whole family at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from ..db.auth_tables import access_token, authorization_code, oauth_grant, refresh_token
from ..db.direct import DirectLookup
from .tokens import naive, new_id


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None else None


@dataclass(frozen=True)
class Grant:
    id: str
    client_id: str
    user_id: str | None
    actor_reference: str
    patient_id: str | None
    scope: str
    long_term: bool
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class StoredCode:
    grant_id: str
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True)
class StoredToken:
    """An access or refresh token row; ``rotated_at`` applies to refresh tokens only."""

    token_hash: str
    grant_id: str | None
    client_id: str
    scope: str
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    actor_reference: str = ""
    patient_id: str | None = None
    rotated_at: datetime | None = None


def _grant(row: Any) -> Grant:
    return Grant(
        row.id,
        row.client_id,
        row.user_id,
        row.actor_reference,
        row.patient_id,
        row.scope,
        bool(row.long_term),
        _aware(row.created_at) or row.created_at,
        _aware(row.revoked_at),
    )


# Built once: every /fhir request looks its bearer token up.
_ACCESS_TOKEN_BY_HASH = DirectLookup(
    select(access_token).where(access_token.c.token_hash == bindparam("token_hash"))
)


class GrantRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- grants ---------------------------------------------------------------

    def create(
        self,
        *,
        client_id: str,
        user_id: str | None,
        actor_reference: str,
        patient_id: str | None,
        scope: str,
        long_term: bool,
        now: datetime,
    ) -> Grant:
        grant = Grant(
            new_id(), client_id, user_id, actor_reference, patient_id, scope, long_term, now
        )
        self.conn.execute(
            insert(oauth_grant).values(
                id=grant.id,
                client_id=client_id,
                user_id=user_id,
                actor_reference=actor_reference,
                patient_id=patient_id,
                scope=scope,
                long_term=long_term,
                created_at=naive(now),
            )
        )
        return grant

    def get(self, grant_id: str) -> Grant | None:
        row = self.conn.execute(select(oauth_grant).where(oauth_grant.c.id == grant_id)).first()
        return _grant(row) if row else None

    def active_for_user(self, user_id: str) -> list[Grant]:
        rows = self.conn.execute(
            select(oauth_grant)
            .where(
                oauth_grant.c.user_id == user_id,
                oauth_grant.c.revoked_at.is_(None),
                oauth_grant.c.long_term.is_(True),
            )
            .order_by(oauth_grant.c.created_at.desc())
        )
        return [_grant(r) for r in rows]

    def revoke(self, grant_id: str, now: datetime) -> None:
        moment = naive(now)
        self.conn.execute(
            update(oauth_grant)
            .where(oauth_grant.c.id == grant_id, oauth_grant.c.revoked_at.is_(None))
            .values(revoked_at=moment)
        )
        for table in (access_token, refresh_token):
            self.conn.execute(
                update(table)
                .where(table.c.grant_id == grant_id, table.c.revoked_at.is_(None))
                .values(revoked_at=moment)
            )

    def revoke_client(self, client_id: str, now: datetime) -> int:
        """Revoke every grant and token of a client (one no longer allowed); how many grants."""
        moment = naive(now)
        result = self.conn.execute(
            update(oauth_grant)
            .where(oauth_grant.c.client_id == client_id, oauth_grant.c.revoked_at.is_(None))
            .values(revoked_at=moment)
        )
        for table in (access_token, refresh_token):
            self.conn.execute(
                update(table)
                .where(table.c.client_id == client_id, table.c.revoked_at.is_(None))
                .values(revoked_at=moment)
            )
        return int(result.rowcount)

    # -- authorization codes (RFC 6749 §4.1.2) --------------------------------

    def save_code(
        self,
        code_hash: str,
        grant: Grant,
        redirect_uri: str,
        code_challenge: str | None,
        expires_at: datetime,
    ) -> None:
        self.conn.execute(
            insert(authorization_code).values(
                code_hash=code_hash,
                grant_id=grant.id,
                client_id=grant.client_id,
                redirect_uri=redirect_uri,
                code_challenge=code_challenge,
                expires_at=naive(expires_at),
            )
        )

    def find_code(self, code_hash: str) -> StoredCode | None:
        c = authorization_code.c
        row = self.conn.execute(select(authorization_code).where(c.code_hash == code_hash)).first()
        if row is None:
            return None
        return StoredCode(
            row.grant_id,
            row.client_id,
            row.redirect_uri,
            row.code_challenge,
            row.expires_at.replace(tzinfo=UTC),
            _aware(row.used_at),
        )

    def claim_code(self, code_hash: str, now: datetime) -> bool:
        """Mark the code used; False if it already was (a concurrent or replayed use)."""
        c = authorization_code.c
        result = self.conn.execute(
            update(authorization_code)
            .where(c.code_hash == code_hash, c.used_at.is_(None))
            .values(used_at=naive(now))
        )
        return result.rowcount == 1

    # -- tokens ---------------------------------------------------------------

    def save_access_token(self, token: StoredToken) -> None:
        self.conn.execute(
            insert(access_token).values(
                token_hash=token.token_hash,
                grant_id=token.grant_id,
                client_id=token.client_id,
                actor_reference=token.actor_reference,
                patient_id=token.patient_id,
                scope=token.scope,
                issued_at=naive(token.issued_at),
                expires_at=naive(token.expires_at),
            )
        )

    def save_refresh_token(self, token: StoredToken) -> None:
        if token.grant_id is None:
            raise ValueError("a refresh token belongs to a grant")
        self.conn.execute(
            insert(refresh_token).values(
                token_hash=token.token_hash,
                grant_id=token.grant_id,
                client_id=token.client_id,
                scope=token.scope,
                issued_at=naive(token.issued_at),
                expires_at=naive(token.expires_at),
            )
        )

    def find_access_token(self, token_hash: str) -> StoredToken | None:
        row = _ACCESS_TOKEN_BY_HASH.first(self.conn, token_hash=token_hash)
        if row is None:
            return None
        return _stored_token(row, actor_reference=row.actor_reference, patient_id=row.patient_id)

    def find_refresh_token(self, token_hash: str) -> StoredToken | None:
        row = self.conn.execute(
            select(refresh_token).where(refresh_token.c.token_hash == token_hash)
        ).first()
        if row is None:
            return None
        return _stored_token(row, rotated_at=_aware(row.rotated_at))

    def claim_refresh_token(self, token_hash: str, now: datetime) -> bool:
        """Mark the refresh token rotated; False if it already was (reuse)."""
        r = refresh_token.c
        result = self.conn.execute(
            update(refresh_token)
            .where(r.token_hash == token_hash, r.rotated_at.is_(None), r.revoked_at.is_(None))
            .values(rotated_at=naive(now))
        )
        return result.rowcount == 1

    def revoke_access_token(self, token_hash: str, now: datetime) -> None:
        self.conn.execute(
            update(access_token)
            .where(access_token.c.token_hash == token_hash, access_token.c.revoked_at.is_(None))
            .values(revoked_at=naive(now))
        )


def _stored_token(row: Any, **extra: Any) -> StoredToken:
    return StoredToken(
        row.token_hash,
        row.grant_id,
        row.client_id,
        row.scope,
        row.issued_at.replace(tzinfo=UTC),
        row.expires_at.replace(tzinfo=UTC),
        _aware(row.revoked_at),
        **extra,
    )
