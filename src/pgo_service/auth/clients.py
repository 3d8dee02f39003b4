"""Registered OAuth clients (pgo apps, provider systems, the operator's own tools)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ..db.auth_tables import client_list, oauth_client
from .tokens import naive

PUBLIC = "public"
CONFIDENTIAL = "confidential"  # client_secret_basic / client_secret_post
PRIVATE_KEY_JWT = "private_key_jwt"  # RFC 7523 §2.2
KINDS = (PUBLIC, CONFIDENTIAL, PRIVATE_KEY_JWT)


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    organisation_name: str
    hostname: str
    redirect_uris: tuple[str, ...] = ()
    allowed_scopes: str = ""
    kind: str = PUBLIC
    secret_hash: str | None = None
    jwks: dict[str, Any] | None = None
    is_system: bool = False
    # Dropped from the OAuth client list: it may not authorize or get tokens.
    disabled: bool = False

    @property
    def is_public(self) -> bool:
        return self.kind == PUBLIC


def _from_row(row: Any) -> OAuthClient:
    return OAuthClient(
        client_id=row.client_id,
        organisation_name=row.organisation_name,
        hostname=row.hostname,
        redirect_uris=tuple(json.loads(row.redirect_uris)),
        allowed_scopes=row.allowed_scopes,
        kind=row.kind,
        secret_hash=row.secret_hash,
        jwks=json.loads(row.jwks) if row.jwks else None,
        is_system=bool(row.is_system),
        disabled=row.disabled_at is not None,
    )


class ClientRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, client_id: str) -> OAuthClient | None:
        row = self.conn.execute(
            select(oauth_client).where(oauth_client.c.client_id == client_id)
        ).first()
        return _from_row(row) if row else None

    def save(self, client: OAuthClient, now: datetime) -> None:
        """Insert or update the registration; whether it is listed or disabled stays as is."""
        values = {
            "organisation_name": client.organisation_name,
            "hostname": client.hostname,
            "redirect_uris": json.dumps(list(client.redirect_uris)),
            "allowed_scopes": client.allowed_scopes,
            "kind": client.kind,
            "secret_hash": client.secret_hash,
            "jwks": json.dumps(client.jwks) if client.jwks else None,
            "is_system": client.is_system,
        }
        if self.get(client.client_id) is None:
            self.conn.execute(
                insert(oauth_client).values(client_id=client.client_id, created_at=now, **values)
            )
        else:
            self.conn.execute(
                update(oauth_client)
                .where(oauth_client.c.client_id == client.client_id)
                .values(**values)
            )

    def listed(self) -> list[str]:
        """Ids of the clients the imported OAuth client list names."""
        rows = self.conn.execute(
            select(oauth_client.c.client_id).where(oauth_client.c.on_client_list.is_(True))
        ).scalars()
        return sorted(rows)

    def set_listed(self, client_id: str) -> None:
        """On the current client list: (again) allowed to authorize and get tokens."""
        self.conn.execute(
            update(oauth_client)
            .where(oauth_client.c.client_id == client_id)
            .values(on_client_list=True, disabled_at=None)
        )

    def disable(self, client_id: str, now: datetime) -> None:
        """Off the client list: no more authorizations or tokens (see GrantRepository)."""
        self.conn.execute(
            update(oauth_client)
            .where(oauth_client.c.client_id == client_id)
            .values(on_client_list=False, disabled_at=naive(now))
        )

    def list_sequence(self, name: str) -> int | None:
        row = self.conn.execute(
            select(client_list.c.sequence_number).where(client_list.c.name == name)
        ).first()
        return int(row.sequence_number) if row else None

    def set_list_sequence(self, name: str, sequence: int, now: datetime) -> None:
        if self.list_sequence(name) is None:
            self.conn.execute(
                insert(client_list).values(name=name, sequence_number=sequence, imported_at=now)
            )
        else:
            self.conn.execute(
                update(client_list)
                .where(client_list.c.name == name)
                .values(sequence_number=sequence, imported_at=now)
            )
