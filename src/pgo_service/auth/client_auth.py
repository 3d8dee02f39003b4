"""Client authentication at the token, revocation and introspection endpoints.

Each client authenticates only with the method it was registered for:

- public clients send ``client_id`` alone (RFC 6749 §2.3; they prove possession
  with PKCE instead);
- confidential clients send their secret with HTTP Basic or in the form
  (``client_secret_basic`` / ``client_secret_post``, RFC 6749 §2.3.1);
- provider systems send a JWT signed with a key of their registered JWKS
  (``private_key_jwt``, RFC 7523 §2.2 and §3), whose ``jti`` is accepted once.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import unquote

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization
from sqlalchemy import Connection, delete, insert
from sqlalchemy.exc import IntegrityError

from ..db.auth_tables import client_assertion_jti
from .clients import CONFIDENTIAL, PRIVATE_KEY_JWT, PUBLIC, ClientRepository, OAuthClient
from .crypto import DUMMY_PASSWORD_HASH, verify_password
from .errors import invalid_client, invalid_request
from .tokens import naive

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ("RS256", "RS384", "PS256", "ES256", "ES384")
MAX_ASSERTION_LIFETIME = timedelta(minutes=5)
LEEWAY_SECONDS = 2


def _basic(headers: Mapping[str, str]) -> tuple[str, str] | None:
    value = headers.get("authorization", "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise invalid_client("Malformed Basic credentials") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise invalid_client("Malformed Basic credentials")
    return unquote(client_id), unquote(secret)  # RFC 6749 §2.3.1: form-urlencoded first


def authenticate_client(
    conn: Connection,
    form: Mapping[str, str],
    headers: Mapping[str, str],
    *,
    audience: tuple[str, ...],
    now: datetime,
) -> OAuthClient:
    client = _authenticate(conn, form, headers, audience=audience, now=now)
    if client.disabled:
        raise invalid_client("Client disabled: it is no longer on the OAuth client list")
    return client


def _authenticate(
    conn: Connection,
    form: Mapping[str, str],
    headers: Mapping[str, str],
    *,
    audience: tuple[str, ...],
    now: datetime,
) -> OAuthClient:
    basic = _basic(headers)
    methods = [bool(basic), "client_secret" in form, "client_assertion" in form]
    if sum(methods) > 1:
        raise invalid_request("Use exactly one client authentication method")
    if basic is not None:
        return _by_secret(conn, *basic)
    if "client_secret" in form:
        return _by_secret(conn, form.get("client_id", ""), form["client_secret"])
    if "client_assertion" in form:
        return _by_assertion(conn, form, audience=audience, now=now)
    client = ClientRepository(conn).get(form.get("client_id", ""))
    if client is None or client.kind != PUBLIC:
        raise invalid_client("Unknown client or client authentication missing")
    return client


def _by_secret(conn: Connection, client_id: str, secret: str) -> OAuthClient:
    client = ClientRepository(conn).get(client_id)
    stored = client.secret_hash if client and client.kind == CONFIDENTIAL else None
    # Compare against a dummy hash when there is nothing to compare, so timing says nothing.
    matches = verify_password(secret, stored or DUMMY_PASSWORD_HASH)
    if client is None or stored is None or not matches:
        raise invalid_client("Client authentication failed")
    return client


def _by_assertion(
    conn: Connection, form: Mapping[str, str], *, audience: tuple[str, ...], now: datetime
) -> OAuthClient:
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise invalid_client("Unsupported client_assertion_type")
    assertion = form["client_assertion"]
    claimed = _unverified_issuer(assertion)
    client = ClientRepository(conn).get(claimed)
    if client is None or client.kind != PRIVATE_KEY_JWT or not client.jwks:
        raise invalid_client("Unknown client or not registered for private_key_jwt")
    if form.get("client_id") not in (None, client.client_id):
        raise invalid_client("client_id does not match the assertion")
    claims = _verified_claims(assertion, client.jwks, client.client_id, audience, now)
    _accept_jti_once(conn, client.client_id, claims, now)
    return client


def _unverified_issuer(assertion: str) -> str:
    """The ``iss`` claim, read only to find whose keys verify the signature."""
    try:
        payload = assertion.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error) as exc:
        raise invalid_client("Malformed client assertion") from exc
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    if not isinstance(issuer, str):
        raise invalid_client("Malformed client assertion")
    return issuer


def _verified_claims(
    assertion: str,
    jwks: dict[str, Any],
    client_id: str,
    audience: tuple[str, ...],
    now: datetime,
) -> dict[str, Any]:
    """RFC 7523 §3: iss and sub are the client, aud this server, exp present, signature valid."""
    try:
        token = jwt.decode(
            assertion,
            KeySet.import_key_set(cast(KeySetSerialization, jwks)),
            algorithms=ASSERTION_ALGORITHMS,
        )
        registry = jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": client_id},
            sub={"essential": True, "value": client_id},
            aud={"essential": True, "values": list(audience)},
            exp={"essential": True},
            jti={"essential": True},
        )
        registry.validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise invalid_client("Client assertion rejected") from exc
    claims: dict[str, Any] = dict(token.claims)
    if int(claims["exp"]) > (now + MAX_ASSERTION_LIFETIME).timestamp():
        raise invalid_client("Client assertion lives too long")
    return claims


def _accept_jti_once(
    conn: Connection, client_id: str, claims: dict[str, Any], now: datetime
) -> None:
    """Remember each jti until its assertion expires; a second use is a replay (RFC 7523 §3)."""
    table = client_assertion_jti
    conn.execute(delete(table).where(table.c.expires_at < naive(now)))
    expires = datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo)
    try:
        with conn.begin_nested():
            conn.execute(
                insert(table).values(
                    client_id=client_id, jti=str(claims["jti"]), expires_at=naive(expires)
                )
            )
    except IntegrityError as exc:
        raise invalid_client("Client assertion replayed (jti already used)") from exc
