"""Operator actions behind the admin CLI: clients, the OCL, users and minted tokens."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization
from sqlalchemy import Connection

from ..config import DEFAULT_PROVIDER_NAME
from .audit import AuditRecord, write_audit
from .clients import CONFIDENTIAL, PRIVATE_KEY_JWT, PUBLIC, ClientRepository, OAuthClient
from .crypto import SecretBox, b32_secret, hash_password
from .errors import OAuthError
from .grants import GrantRepository
from .issuing import ACCESS_TOKEN_LIFETIME, issue_access_token
from .ocl import OclError, parse_ocl
from .redirects import redirect_uri_problem
from .scopes import ScopeSet
from .tokens import new_id
from .totp import provisioning_uri
from .users import User, UserRepository

OCL = "ocl"
_SUBJECT_TYPES = ("Patient", "RelatedPerson", "Practitioner", "PractitionerRole")


class AdminError(ValueError):
    pass


@dataclass(frozen=True)
class ClientRegistration:
    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    scopes: str
    secret: str | None = None
    jwks: dict[str, Any] | None = None
    public: bool = False
    system: bool = False
    hostname: str | None = None


def register_client(
    conn: Connection,
    reg: ClientRegistration,
    now: datetime,
    *,
    dev_mode: bool = False,
    provider_name: str = DEFAULT_PROVIDER_NAME,
) -> OAuthClient:
    if sum([reg.public, reg.secret is not None, reg.jwks is not None]) != 1:
        raise AdminError("choose exactly one of --public, --secret and --jwks")
    hostname = reg.hostname or _hostname(reg)
    for uri in reg.redirect_uris:
        problem = redirect_uri_problem(uri, hostname, dev_mode=dev_mode)
        if problem:
            raise AdminError(f"redirect URI {uri}: {problem}")
    try:
        scopes = ScopeSet.parse(reg.scopes, provider_name)
    except OAuthError as exc:
        raise AdminError(str(exc)) from exc
    if "system" in scopes.contexts and not reg.system:
        raise AdminError("system/ scopes are only for clients registered with --system")
    if reg.jwks is not None:
        try:
            KeySet.import_key_set(cast(KeySetSerialization, reg.jwks))
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise AdminError(f"not a usable JWKS: {exc}") from exc
    kind = PUBLIC if reg.public else CONFIDENTIAL if reg.secret is not None else PRIVATE_KEY_JWT
    repo = ClientRepository(conn)
    existing = repo.get(reg.client_id)
    client = OAuthClient(
        client_id=reg.client_id,
        organisation_name=reg.name or (existing.organisation_name if existing else ""),
        hostname=hostname,
        redirect_uris=reg.redirect_uris,
        allowed_scopes=str(scopes),
        kind=kind,
        secret_hash=hash_password(reg.secret) if reg.secret is not None else None,
        jwks=reg.jwks,
        is_system=reg.system,
        disabled=existing.disabled if existing else False,
    )
    repo.save(client, now)
    return client


def _hostname(reg: ClientRegistration) -> str:
    """MedMij: the client id is the app's hostname; else the redirect URIs' host."""
    if "." in reg.client_id and "/" not in reg.client_id:
        return reg.client_id.lower()
    hosts = {urlsplit(u).hostname or "" for u in reg.redirect_uris}
    if len(hosts) != 1:
        raise AdminError("give --hostname: the redirect URIs do not share one host")
    return hosts.pop()


@dataclass(frozen=True)
class OclImport:
    imported: int
    disabled: tuple[str, ...]  # client ids no longer on the list


def import_ocl(conn: Connection, document: bytes, now: datetime) -> OclImport:
    """Add or rename the listed clients, and disable those the list no longer names.

    A disabled client can no longer authorize or get tokens, and every grant and
    token it holds is revoked; a later list that names it again enables it (its
    old tokens stay revoked). Clients registered only with ``clients add`` (provider
    systems, the operator's tools) are not on the list and not affected.

    Refuses a list that is not newer (Volgnummer) than the one imported last. The
    caller runs this in one transaction: on any error nothing of the list is kept.
    """
    try:
        listing = parse_ocl(document)
    except OclError as exc:
        raise AdminError(f"invalid OAuth client list: {exc}") from exc
    repo = ClientRepository(conn)
    previous = repo.list_sequence(OCL)
    if previous is not None and listing.sequence_number <= previous:
        relation = "the same as" if listing.sequence_number == previous else "older than"
        raise AdminError(
            f"this list (Volgnummer {listing.sequence_number}) is {relation} the one imported"
            f" last (Volgnummer {previous}); only a newer list is imported"
        )
    listed = {entry.hostname for entry in listing.entries}
    dropped = tuple(client_id for client_id in repo.listed() if client_id not in listed)
    for entry in listing.entries:
        client = repo.get(entry.hostname) or OAuthClient(entry.hostname, "", entry.hostname)
        repo.save(replace(client, organisation_name=entry.organisation_name), now)
        repo.set_listed(entry.hostname)
    grants = GrantRepository(conn)
    for client_id in dropped:
        repo.disable(client_id, now)
        revoked = grants.revoke_client(client_id, now)
        record = AuditRecord(
            event="revoke",
            client_id=client_id,
            detail=(
                f"client disabled: not on OAuth client list {listing.sequence_number};"
                f" {revoked} authorizations revoked"
            ),
        )
        write_audit(conn, record, now)
    repo.set_list_sequence(OCL, listing.sequence_number, now)
    return OclImport(len(listing.entries), dropped)


def add_user(
    conn: Connection,
    box: SecretBox,
    *,
    login_name: str,
    password: str,
    actor_reference: str,
    represents: tuple[str, ...],
    now: datetime,
) -> str:
    """Create the account; returns the TOTP provisioning URI (shown to the user once)."""
    kind, _, ident = actor_reference.partition("/")
    if kind not in ("Patient", "RelatedPerson") or not ident:
        raise AdminError("an account acts as Patient/<id> or RelatedPerson/<id>")
    if len(password) < 10:
        raise AdminError("a password has at least 10 characters")
    users = UserRepository(conn)
    if users.by_login(login_name) is not None:
        raise AdminError(f"login name {login_name!r} is taken")
    secret = b32_secret()
    user = User(
        id=new_id(),
        login_name=login_name,
        password_hash=hash_password(password),
        totp_secret=box.seal(secret.encode()),
        actor_reference=actor_reference,
        represented=represents,
    )
    users.add(user, now)
    return provisioning_uri(secret, login_name)


def mint_token(
    conn: Connection,
    *,
    subject: str,
    client_id: str,
    scope: str,
    now: datetime,
    patient_id: str | None = None,
    ttl: timedelta = ACCESS_TOKEN_LIFETIME,
    provider_name: str = DEFAULT_PROVIDER_NAME,
) -> str:
    """An access token for operators and automated tests, audited like any other."""
    kind, _, ident = subject.partition("/")
    if kind not in _SUBJECT_TYPES or not ident:
        raise AdminError(f"--subject is one of {', '.join(t + '/ID' for t in _SUBJECT_TYPES)}")
    client = ClientRepository(conn).get(client_id)
    if client is None:
        raise AdminError(f"unknown client {client_id!r}")
    if client.disabled:
        raise AdminError(f"client {client_id!r} is disabled: it is no longer on the client list")
    try:
        scopes = ScopeSet.parse(scope, provider_name)
    except OAuthError as exc:
        raise AdminError(str(exc)) from exc
    if not scopes.within(ScopeSet.stored(client.allowed_scopes)):
        raise AdminError("the scope exceeds what the client is registered for")
    if "system" in scopes.contexts and not client.is_system:
        raise AdminError("system/ scopes need a client registered with --system")
    if kind == "Patient":
        patient_id = patient_id or ident
    if "patient" in scopes.contexts and patient_id is None:
        raise AdminError("patient/ scopes need a patient: --subject Patient/ID or --patient ID")
    response = issue_access_token(
        conn,
        client_id=client_id,
        actor_reference=subject,
        patient_id=patient_id,
        scope=str(scopes),
        now=now,
        lifetime=ttl,
    )
    record = AuditRecord(
        event="token",
        client_id=client_id,
        actor_reference=subject,
        patient_id=patient_id,
        detail="minted by an operator",
    )
    write_audit(conn, record, now)
    token: str = response["access_token"]
    return token
