"""Connecting a client's plan to a provider: the service as OAuth client of the
provider's authorization server (MedMij's DVP side).

1. ``start_connection`` builds the authorization request for a data service from the
   registry: ``response_type=code``, our MedMij client id, our callback, the scope
   ``<provider>~<data service>``, PKCE S256 and a ``state`` sealed with the service's
   key (AES-GCM) that names the client, the provider, the data service, a nonce, the
   expiry and the PKCE verifier. The nonce is also kept server side until the callback.
2. ``complete_connection`` (the callback) opens the state, marks its pending request
   answered (so a state works once, and a wrong, expired, tampered or replayed one
   stores nothing), exchanges the code at the provider's token endpoint with no
   transaction open, and stores the tokens sealed, bound to whose they are, in the
   transaction that deletes the pending request: when the connection was forgotten
   meanwhile (consent revoked), the request is gone and nothing is stored.
3. ``ConnectionTokens`` is the ``TokenSource`` push and pull use: it answers the access
   token, refreshing it first when it has (nearly) expired. A short lease makes one
   process at a time use a rotating refresh token; ``invalid_grant`` (or any refusal)
   marks the connection broken, and its tokens are dropped.
   The same transaction creates the notification subscription (``subscriptions``),
   whose id the answer carries for the provider's system.
4. ``forget_connection`` (consent revoked) and ``disconnect`` (the client) delete the
   tokens and end the subscription in the caller's transaction; when the operator
   stated a revocation endpoint for the data service, the sealed tokens move to
   ``sync_token_revocation`` and an outbox job tells the provider (RFC 7009), then
   deletes them.

Tokens, codes, verifiers and states never go into a log, an error text or a job
payload; BSNs play no part.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
from sqlalchemy import Connection, Engine, Row, and_, delete, insert, or_, select, update

from ..config import Settings
from ..db.engine import transaction
from ..db.sync_tables import (
    sync_authorization_request,
    sync_connection,
    sync_revocation_endpoint,
    sync_token_revocation,
)
from .backoff import parse_retry_after
from .hosts import EndpointError, HostPolicy, check_endpoint, parse_host_list
from .jobs import ClaimedJob, cancel_jobs, enqueue
from .outbound import JobFailed, OutboundClient, RetryLater
from .pull import enqueue_pull
from .registry import DataServiceEntry, data_service, host_policy
from .subscriptions import end_subscriptions, subscribe, subscriptions_of
from .worker import Handler, JobContext

ACTIVE = "active"
BROKEN = "broken"
EXPIRED = "expired"  # shown, not stored: the access token ran out and there is no refresh token

REVOKE = "revoke_provider_token"
FIRST_PULL_ATTEMPTS = 10
REVOKE_ATTEMPTS = 8

_STATE_PURPOSE = "pgo-service/sync-connect-state"
_TOKENS_PURPOSE = "pgo-service/sync-tokens"
_DEFAULT_EXPIRES_IN = 900  # MedMij's access tokens live about 15 minutes
_MAX_TOKEN = 8192
_ERROR_LENGTH = 300


class Sealer(Protocol):
    """Authenticated encryption under the service's secret key (``auth.crypto.SecretBox``)."""

    def seal(self, plaintext: bytes) -> bytes: ...

    def open(self, sealed: bytes) -> bytes: ...


class ConnectError(Exception):
    """The request to connect (or its callback) cannot be served; ``status`` is the
    HTTP status to answer with. The message is safe to show: no token, code or state."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class ClientConfig:
    """How the service presents itself to providers' authorization servers."""

    client_id: str  # MedMij: the PGO's hostname on the OAuth client list
    redirect_uri: str
    http_timeout: float
    extra_hosts: frozenset[str]
    dev_mode: bool
    request_lifetime: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientConfig | None:
        """``None`` when connecting is not configured (no client id or callback)."""
        if not settings.sync_client_id or not settings.sync_redirect_uri:
            return None
        check_endpoint(settings.sync_redirect_uri, allow_loopback_http=settings.dev_mode)
        return cls(
            client_id=settings.sync_client_id,
            redirect_uri=settings.sync_redirect_uri,
            http_timeout=settings.sync_http_timeout_seconds,
            extra_hosts=parse_host_list(settings.sync_allowed_hosts),
            dev_mode=settings.dev_mode,
            request_lifetime=timedelta(seconds=settings.sync_connect_seconds),
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _epoch(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp())


def _scope(provider_name: str, service_id: str) -> str:
    return f"{provider_name}~{service_id}"


# ---------------------------------------------------------------- the authorization request


@dataclass(frozen=True)
class AuthorizationStart:
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class PendingAuthorization:
    nonce: str
    patient_id: str
    provider_name: str
    service_id: str
    verifier: str
    expires_at: datetime
    connected_by: str
    app_client_id: str


def _usable_service(
    conn: Connection, config: ClientConfig, provider_name: str, service_id: str
) -> tuple[DataServiceEntry, HostPolicy]:
    service = data_service(conn, provider_name, service_id)
    if service is None:
        raise ConnectError(
            404, "unknown_service", f"{provider_name} is not listed with data service {service_id}"
        )
    policy = host_policy(conn, config.extra_hosts, dev_mode=config.dev_mode)
    try:
        policy.check(service.authorization_endpoint)
        policy.check(service.token_endpoint)
    except EndpointError as exc:
        raise ConnectError(
            409,
            "host_not_allowed",
            f"{provider_name}'s authorization server may not be used: {exc}",
        ) from exc
    return service, policy


def start_connection(
    conn: Connection,
    sealer: Sealer,
    config: ClientConfig,
    *,
    patient_id: str,
    provider_name: str,
    service_id: str,
    connected_by: str,
    app_client_id: str,
    now: datetime,
) -> AuthorizationStart:
    """The URL to send the client's browser to, in the caller's transaction (which
    records the pending request)."""
    service, _policy = _usable_service(conn, config, provider_name, service_id)
    conn.execute(
        delete(sync_authorization_request).where(sync_authorization_request.c.expires_at < now)
    )
    verifier = _b64(secrets.token_bytes(48))
    nonce = _b64(secrets.token_bytes(24))
    expires_at = (now + config.request_lifetime).replace(microsecond=0)
    document = {
        "p": _STATE_PURPOSE,
        "n": nonce,
        "pt": patient_id,
        "pr": provider_name,
        "sv": service_id,
        "exp": _epoch(expires_at),
        "v": verifier,
        "by": connected_by,
        "app": app_client_id,
    }
    state = _b64(sealer.seal(json.dumps(document, separators=(",", ":")).encode()))
    conn.execute(
        insert(sync_authorization_request).values(
            nonce=nonce,
            patient_id=patient_id,
            provider_name=provider_name,
            service_id=service_id,
            expires_at=expires_at,
            answered=False,
        )
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": config.client_id,
            "redirect_uri": config.redirect_uri,
            "scope": _scope(provider_name, service_id),
            "state": state,
            "code_challenge": _b64(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256",
        }
    )
    return AuthorizationStart(f"{service.authorization_endpoint}?{query}", expires_at)


_BAD_STATE = "the state is not one this service issued, or it was altered"


def open_state(sealer: Sealer, state: str, now: datetime) -> PendingAuthorization:
    """The pending authorization a state stands for; ``ConnectError`` (400) when it is
    not ours, altered or expired."""
    if not state or len(state) > 4096:
        raise ConnectError(400, "invalid_state", _BAD_STATE)
    try:
        document = json.loads(sealer.open(_unb64(state)))
        if not isinstance(document, dict) or document.get("p") != _STATE_PURPOSE:
            raise ValueError("not a state")
        pending = PendingAuthorization(
            nonce=str(document["n"]),
            patient_id=str(document["pt"]),
            provider_name=str(document["pr"]),
            service_id=str(document["sv"]),
            verifier=str(document["v"]),
            expires_at=datetime.fromtimestamp(int(document["exp"]), UTC).replace(tzinfo=None),
            connected_by=str(document["by"]),
            app_client_id=str(document["app"]),
        )
    except Exception as exc:  # any failure to open or read it: the same answer
        raise ConnectError(400, "invalid_state", _BAD_STATE) from exc
    if pending.expires_at < now:
        raise ConnectError(400, "expired_state", "the authorization request has expired")
    return pending


def _request_of(pending: PendingAuthorization) -> Any:
    return and_(
        sync_authorization_request.c.nonce == pending.nonce,
        sync_authorization_request.c.patient_id == pending.patient_id,
        sync_authorization_request.c.provider_name == pending.provider_name,
        sync_authorization_request.c.service_id == pending.service_id,
    )


def _consume(conn: Connection, pending: PendingAuthorization, now: datetime) -> None:
    done = conn.execute(
        update(sync_authorization_request)
        .where(
            _request_of(pending),
            sync_authorization_request.c.answered.is_(False),
            sync_authorization_request.c.expires_at >= now,
        )
        .values(answered=True)
    )
    if done.rowcount != 1:
        raise ConnectError(
            400,
            "used_state",
            "this authorization request was already answered, has expired or was withdrawn",
        )


# ------------------------------------------------------------------- the token endpoint


@dataclass(frozen=True)
class TokenAnswer:
    access_token: str
    expires_at: datetime
    refresh_token: str | None
    scope: str | None


class TokenRefused(Exception):
    """The token endpoint refused the grant (an OAuth error such as ``invalid_grant``)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _oauth_error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str) and error and len(error) <= 64 and error.isascii():
        return error
    return f"HTTP {response.status_code}"


def _token_request(
    http: OutboundClient, endpoint: str, form: Mapping[str, str], now: datetime
) -> TokenAnswer:
    """POST a grant to the token endpoint. ``RetryLater`` when it may pass (timeouts,
    5xx, 429), ``JobFailed`` for a refused host or an unusable answer, ``TokenRefused``
    for an OAuth error."""
    response = http.request(
        "POST", endpoint, data=dict(form), headers={"Accept": "application/json"}
    )
    status = response.status_code
    if status in (400, 401):
        raise TokenRefused(_oauth_error(response))
    if status in (408, 425, 429) or status >= 500:
        raise RetryLater(
            f"the token endpoint answered HTTP {status}",
            parse_retry_after(response.headers.get("Retry-After"), now),
        )
    if status != 200:
        raise JobFailed(f"the token endpoint answered HTTP {status}")
    try:
        body = response.json()
    except ValueError as exc:
        raise JobFailed("the token endpoint's answer is not JSON") from exc
    if not isinstance(body, dict):
        raise JobFailed("the token endpoint's answer is not a JSON object")
    access = body.get("access_token")
    token_type = body.get("token_type")
    refresh = body.get("refresh_token")
    expires_in = body.get("expires_in", _DEFAULT_EXPIRES_IN)
    scope = body.get("scope")
    if not isinstance(access, str) or not access or len(access) > _MAX_TOKEN:
        raise JobFailed("the token endpoint's answer has no usable access_token")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise JobFailed("the token endpoint did not issue a bearer token")
    if refresh is not None and (not isinstance(refresh, str) or len(refresh) > _MAX_TOKEN):
        raise JobFailed("the token endpoint's refresh_token is unusable")
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)
    if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in < 0:
        raise JobFailed("the token endpoint's expires_in is not a number of seconds")
    return TokenAnswer(
        access_token=access,
        expires_at=now + timedelta(seconds=min(expires_in, 10 * 365 * 86400)),
        refresh_token=refresh or None,
        scope=scope if isinstance(scope, str) and len(scope) <= 1024 else None,
    )


# ------------------------------------------------------------------------ sealed tokens


def _seal_tokens(
    sealer: Sealer,
    provider_name: str,
    service_id: str,
    access_token: str | None,
    refresh_token: str | None,
) -> bytes:
    document = {
        "p": _TOKENS_PURPOSE,
        "pr": provider_name,
        "sv": service_id,
        "access_token": access_token,
        "refresh_token": refresh_token,
    }
    return sealer.seal(json.dumps(document, separators=(",", ":")).encode())


def _open_tokens(
    sealer: Sealer, sealed: bytes, provider_name: str, service_id: str
) -> tuple[str | None, str | None]:
    """(access token, refresh token); ``ValueError`` when the blob is not ours or was
    sealed for another data service."""
    try:
        document = json.loads(sealer.open(bytes(sealed)))
    except Exception as exc:
        raise ValueError("the stored tokens cannot be opened with this key") from exc
    if (
        not isinstance(document, dict)
        or document.get("p") != _TOKENS_PURPOSE
        or document.get("pr") != provider_name
        or document.get("sv") != service_id
    ):
        raise ValueError("the stored tokens belong elsewhere")
    access, refresh = document.get("access_token"), document.get("refresh_token")
    return (
        access if isinstance(access, str) else None,
        refresh if isinstance(refresh, str) else None,
    )


# ---------------------------------------------------------------------------- the callback


@dataclass(frozen=True)
class ConnectionInfo:
    id: int
    patient_id: str
    provider_name: str
    service_id: str
    status: str  # active | broken | expired
    scope: str
    connected_by: str
    app_client_id: str
    access_expires_at: datetime | None
    has_refresh_token: bool
    created_at: datetime
    updated_at: datetime
    last_error: str | None
    # Given to the provider's system for its notifications; None when the provider
    # has no registered system that could send them.
    subscription_id: str | None = None
    notifier: str | None = None


def _info(row: Row[Any], now: datetime) -> ConnectionInfo:
    status = row.status
    if (
        status == ACTIVE
        and not row.has_refresh_token
        and row.access_expires_at is not None
        and row.access_expires_at <= now
    ):
        status = EXPIRED
    return ConnectionInfo(
        id=int(row.id),
        patient_id=row.patient_id,
        provider_name=row.provider_name,
        service_id=row.service_id,
        status=status,
        scope=row.scope,
        connected_by=row.connected_by,
        app_client_id=row.app_client_id,
        access_expires_at=row.access_expires_at,
        has_refresh_token=bool(row.has_refresh_token),
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_error=row.last_error,
    )


def complete_connection(
    engine: Engine,
    sealer: Sealer,
    config: ClientConfig,
    *,
    state: str,
    code: str | None,
    error: str | None,
    now: datetime,
    transport: httpx.BaseTransport | None = None,
) -> ConnectionInfo:
    """Handle the provider's redirect back. The pending request is used up before the
    code is exchanged, so a state never works twice, whatever happens next; the tokens
    are only stored while the request still exists (not forgotten meanwhile)."""
    pending = open_state(sealer, state, now)
    with transaction(engine) as conn:
        _consume(conn, pending, now)
        if error is not None or not code:
            conn.execute(delete(sync_authorization_request).where(_request_of(pending)))
    if error is not None or not code:
        reason = error if error and error.isascii() and len(error) <= 64 else "no code"
        raise ConnectError(
            400, "authorization_failed", f"the provider did not authorize the connection ({reason})"
        )
    if len(code) > _MAX_TOKEN:
        raise ConnectError(400, "invalid_request", "the authorization code is too long")
    with transaction(engine, write=False) as conn:
        service, policy = _usable_service(conn, config, pending.provider_name, pending.service_id)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": config.redirect_uri,
        "client_id": config.client_id,
        "code_verifier": pending.verifier,
    }
    try:
        with OutboundClient(policy, timeout=config.http_timeout, transport=transport) as http:
            answer = _token_request(http, service.token_endpoint, form, now)
    except TokenRefused as exc:
        raise ConnectError(
            400, "code_refused", f"the provider refused the authorization code ({exc.error})"
        ) from exc
    except (RetryLater, JobFailed) as exc:
        raise ConnectError(
            502, "provider_unavailable", f"the provider's token endpoint failed: {exc}"
        ) from exc
    with transaction(engine) as conn:
        still = conn.execute(delete(sync_authorization_request).where(_request_of(pending)))
        if still.rowcount != 1:
            raise ConnectError(
                409,
                "withdrawn",
                "the connection was withdrawn while it was being made (disconnected, or the "
                "client's consent for this provider was revoked); nothing was stored",
            )
        info = record_connection(
            conn,
            sealer,
            patient_id=pending.patient_id,
            provider_name=pending.provider_name,
            service_id=pending.service_id,
            connected_by=pending.connected_by,
            app_client_id=pending.app_client_id,
            answer=answer,
            now=now,
        )
        # a notification from the provider can trigger a pull from now on
        subscription = subscribe(
            conn,
            patient_id=pending.patient_id,
            provider_name=pending.provider_name,
            service_id=pending.service_id,
            now=now,
        )
        if subscription is not None:
            info = replace(
                info,
                subscription_id=subscription.subscription_id,
                notifier=subscription.notifier_client_id,
            )
        # the plan shows the provider's agreements as soon as a worker has read them
        enqueue_pull(
            conn,
            patient_id=pending.patient_id,
            provider_name=pending.provider_name,
            service_id=pending.service_id,
            now=now,
            max_attempts=FIRST_PULL_ATTEMPTS,
        )
        return info


def record_connection(
    conn: Connection,
    sealer: Sealer,
    *,
    patient_id: str,
    provider_name: str,
    service_id: str,
    connected_by: str,
    app_client_id: str,
    answer: TokenAnswer,
    now: datetime,
) -> ConnectionInfo:
    """Store (or replace) the client's tokens at this data service, sealed."""
    sealed = _seal_tokens(
        sealer, provider_name, service_id, answer.access_token, answer.refresh_token
    )
    values = {
        "status": ACTIVE,
        "scope": answer.scope or _scope(provider_name, service_id),
        "tokens": sealed,
        "access_expires_at": answer.expires_at,
        "has_refresh_token": answer.refresh_token is not None,
        "refreshing_until": None,
        "connected_by": connected_by,
        "app_client_id": app_client_id,
        "last_error": None,
        "updated_at": now,
    }
    key = (
        sync_connection.c.patient_id == patient_id,
        sync_connection.c.provider_name == provider_name,
        sync_connection.c.service_id == service_id,
    )
    if conn.execute(update(sync_connection).where(*key).values(**values)).rowcount == 0:
        conn.execute(
            insert(sync_connection).values(
                patient_id=patient_id,
                provider_name=provider_name,
                service_id=service_id,
                created_at=now,
                **values,
            )
        )
    row = conn.execute(select(sync_connection).where(*key)).one()
    return _info(row, now)


# ------------------------------------------------------------------ listing and forgetting


def list_connections(conn: Connection, patient_id: str, now: datetime) -> list[ConnectionInfo]:
    rows = conn.execute(
        select(sync_connection)
        .where(sync_connection.c.patient_id == patient_id)
        .order_by(sync_connection.c.provider_name, sync_connection.c.service_id)
    ).all()
    subscriptions = subscriptions_of(conn, patient_id) if rows else {}
    result = []
    for row in rows:
        info = _info(row, now)
        subscription = subscriptions.get((row.provider_name, row.service_id))
        if subscription is not None:
            info = replace(
                info,
                subscription_id=subscription.subscription_id,
                notifier=subscription.notifier_client_id,
            )
        result.append(info)
    return result


def set_revocation_endpoint(
    conn: Connection, provider_name: str, service_id: str, uri: str | None, *, dev_mode: bool
) -> None:
    """State (or with ``None`` forget) a data service's RFC 7009 revocation endpoint."""
    key = (
        sync_revocation_endpoint.c.provider_name == provider_name,
        sync_revocation_endpoint.c.service_id == service_id,
    )
    conn.execute(delete(sync_revocation_endpoint).where(*key))
    if uri is not None:
        check_endpoint(uri, allow_loopback_http=dev_mode)
        conn.execute(
            insert(sync_revocation_endpoint).values(
                provider_name=provider_name, service_id=service_id, uri=uri
            )
        )


def revocation_endpoint(conn: Connection, provider_name: str, service_id: str) -> str | None:
    value = conn.execute(
        select(sync_revocation_endpoint.c.uri).where(
            sync_revocation_endpoint.c.provider_name == provider_name,
            sync_revocation_endpoint.c.service_id == service_id,
        )
    ).scalar_one_or_none()
    return None if value is None else str(value)


def _forget(conn: Connection, row: Row[Any], now: datetime) -> None:
    # the provider's notifications no longer pull anything for this client
    end_subscriptions(conn, row.patient_id, row.provider_name, row.service_id)
    # without the client's tokens nothing queued for them at this provider can run
    cancel_jobs(
        conn,
        patient_id=row.patient_id,
        provider_name=row.provider_name,
        now=now,
        reason="the client's connection to this provider ended",
    )
    if row.tokens is not None and revocation_endpoint(conn, row.provider_name, row.service_id):
        revocation_id = conn.execute(
            insert(sync_token_revocation)
            .values(
                provider_name=row.provider_name,
                service_id=row.service_id,
                tokens=row.tokens,
                created_at=now,
            )
            .returning(sync_token_revocation.c.id)
        ).scalar_one()
        # No patient on the job: cancelling a client's jobs must not cancel this one.
        enqueue(
            conn,
            REVOKE,
            {"revocation": int(revocation_id)},
            now=now,
            max_attempts=REVOKE_ATTEMPTS,
            provider_name=row.provider_name,
        )
    conn.execute(delete(sync_connection).where(sync_connection.c.id == row.id))


def forget_connection(conn: Connection, patient_id: str, provider_name: str, now: datetime) -> int:
    """Delete this client's tokens at this provider (every data service) in the
    caller's transaction, and withdraw its unanswered authorization requests; the
    provider is told when it offers revocation. Consent revocation calls this.
    Returns how many connections were forgotten."""
    conn.execute(
        delete(sync_authorization_request).where(
            sync_authorization_request.c.patient_id == patient_id,
            sync_authorization_request.c.provider_name == provider_name,
        )
    )
    end_subscriptions(conn, patient_id, provider_name)
    rows = conn.execute(
        select(sync_connection).where(
            sync_connection.c.patient_id == patient_id,
            sync_connection.c.provider_name == provider_name,
        )
    ).all()
    for row in rows:
        _forget(conn, row, now)
    return len(rows)


def disconnect(conn: Connection, connection_id: int, patient_id: str, now: datetime) -> bool:
    """The client ends one of their connections; ``False`` when they hold no such one."""
    row = conn.execute(
        select(sync_connection).where(
            sync_connection.c.id == connection_id, sync_connection.c.patient_id == patient_id
        )
    ).first()
    if row is None:
        return False
    _forget(conn, row, now)
    return True


def revoke_handler(sealer: Sealer, client_id: str) -> Handler:
    """Tell the provider (RFC 7009) that forgotten tokens are no longer wanted, then
    delete them. On the last attempt, or when the provider refuses, they are deleted
    all the same: a token we no longer hold cannot be misused through us."""

    def revoke(job: ClaimedJob, context: JobContext) -> None:
        revocation_id = job.payload.get("revocation")
        with transaction(context.engine, write=False) as conn:
            row = conn.execute(
                select(sync_token_revocation).where(sync_token_revocation.c.id == revocation_id)
            ).first()
            endpoint = (
                None
                if row is None
                else revocation_endpoint(conn, row.provider_name, row.service_id)
            )
        if row is None:
            return
        try:
            if endpoint is not None:
                access, refresh = _open_tokens(
                    sealer, row.tokens, row.provider_name, row.service_id
                )
                for token, hint in ((refresh, "refresh_token"), (access, "access_token")):
                    if token is not None:
                        _revoke_one(context, endpoint, token, hint, client_id)
        except RetryLater:
            if job.attempt < job.max_attempts:
                raise
            _drop_revocation(context.engine, row.id)
            raise
        except (JobFailed, ValueError) as exc:
            _drop_revocation(context.engine, row.id)
            raise JobFailed(str(exc)) from exc
        _drop_revocation(context.engine, row.id)

    return revoke


def _revoke_one(context: JobContext, endpoint: str, token: str, hint: str, client_id: str) -> None:
    response = context.http.request(
        "POST",
        endpoint,
        data={"token": token, "token_type_hint": hint, "client_id": client_id},
        headers={"Accept": "application/json"},
    )
    status = response.status_code
    if status == 200:
        return
    if status == 400 and _oauth_error(response) == "unsupported_token_type":
        return  # RFC 7009 §2.2.1: the server does not revoke this kind; nothing to do
    if status in (408, 425, 429) or status >= 500:
        raise RetryLater(
            f"the revocation endpoint answered HTTP {status}",
            parse_retry_after(response.headers.get("Retry-After"), context.clock()),
        )
    raise JobFailed(f"the revocation endpoint refused ({_oauth_error(response)})")


def _drop_revocation(engine: Engine, revocation_id: int) -> None:
    with transaction(engine) as conn:
        conn.execute(
            delete(sync_token_revocation).where(sync_token_revocation.c.id == revocation_id)
        )


# ----------------------------------------------------------------- tokens for push and pull


class ConnectionTokens:
    """A ``TokenSource`` (see ``sync.push``) over the stored connections: the access
    token, refreshed first when it expires within ``skew``. Raises ``RetryLater`` when
    the refresh may pass later (the provider is slow, down, or another process is
    refreshing this connection right now); answers ``None`` when there is no usable
    connection, including one the provider has just refused to refresh."""

    def __init__(
        self,
        engine: Engine,
        sealer: Sealer,
        config: ClientConfig,
        *,
        clock: Callable[[], datetime] = utc_now,
        transport: httpx.BaseTransport | None = None,
        skew: timedelta = timedelta(seconds=30),
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self.engine = engine
        self.sealer = sealer
        self.config = config
        self.clock = clock
        self.skew = skew
        self.lease = lease
        self.http = OutboundClient(
            HostPolicy((), dev_mode=config.dev_mode),
            timeout=config.http_timeout,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def __call__(
        self, conn: Connection, provider_name: str, service_id: str, patient_id: str | None
    ) -> str | None:
        if patient_id is None:
            return None
        row = conn.execute(
            select(sync_connection).where(
                sync_connection.c.patient_id == patient_id,
                sync_connection.c.provider_name == provider_name,
                sync_connection.c.service_id == service_id,
            )
        ).first()
        if row is None or row.status != ACTIVE or row.tokens is None:
            return None
        try:
            access, refresh = _open_tokens(self.sealer, row.tokens, provider_name, service_id)
        except ValueError as exc:
            raise JobFailed(f"the tokens for {provider_name} cannot be read: {exc}") from exc
        now = self.clock()
        if access is not None and (
            row.access_expires_at is None or row.access_expires_at - self.skew > now
        ):
            return access
        if refresh is None:
            return None
        service = data_service(conn, provider_name, service_id)
        if service is None:
            return None
        self.http.policy = host_policy(conn, self.config.extra_hosts, dev_mode=self.config.dev_mode)
        return self._refresh(row, refresh, service.token_endpoint, now)

    def _refresh(self, row: Row[Any], refresh: str, endpoint: str, now: datetime) -> str | None:
        lease_until = now + self.lease
        with transaction(self.engine) as conn:
            claimed = conn.execute(
                update(sync_connection)
                .where(
                    sync_connection.c.id == row.id,
                    sync_connection.c.status == ACTIVE,
                    sync_connection.c.tokens == row.tokens,
                    or_(
                        sync_connection.c.refreshing_until.is_(None),
                        sync_connection.c.refreshing_until < now,
                    ),
                )
                .values(refreshing_until=lease_until)
            ).rowcount
        if claimed != 1:
            return self._after_other_refresh(row, now)
        mine = and_(
            sync_connection.c.id == row.id,
            sync_connection.c.tokens == row.tokens,
            sync_connection.c.refreshing_until == lease_until,
        )
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": self.config.client_id,
        }
        try:
            answer = _token_request(self.http, endpoint, form, now)
        except TokenRefused as exc:
            with transaction(self.engine) as conn:
                conn.execute(
                    update(sync_connection)
                    .where(mine)
                    .values(
                        status=BROKEN,
                        tokens=None,
                        has_refresh_token=False,
                        access_expires_at=None,
                        refreshing_until=None,
                        last_error=(
                            f"the provider refused to refresh the access ({exc.error}); "
                            "connect again"
                        )[:_ERROR_LENGTH],
                        updated_at=self.clock(),
                    )
                )
            return None
        except (RetryLater, JobFailed) as exc:
            with transaction(self.engine) as conn:
                conn.execute(
                    update(sync_connection)
                    .where(mine)
                    .values(refreshing_until=None, last_error=str(exc)[:_ERROR_LENGTH])
                )
            raise
        refresh_token = answer.refresh_token or refresh  # rotated, or kept
        sealed = _seal_tokens(
            self.sealer, row.provider_name, row.service_id, answer.access_token, refresh_token
        )
        with transaction(self.engine) as conn:
            stored = conn.execute(
                update(sync_connection)
                .where(mine)
                .values(
                    tokens=sealed,
                    access_expires_at=answer.expires_at,
                    has_refresh_token=True,
                    refreshing_until=None,
                    last_error=None,
                    updated_at=self.clock(),
                )
            ).rowcount
        # Forgotten meanwhile (consent revoked, disconnected): the new token is not used.
        return answer.access_token if stored == 1 else None

    def _after_other_refresh(self, row: Row[Any], now: datetime) -> str | None:
        with transaction(self.engine, write=False) as conn:
            current = conn.execute(
                select(sync_connection).where(sync_connection.c.id == row.id)
            ).first()
        if current is None or current.status != ACTIVE or current.tokens is None:
            return None
        if current.tokens != row.tokens and (
            current.access_expires_at is None or current.access_expires_at - self.skew > now
        ):
            access, _refresh = _open_tokens(
                self.sealer, current.tokens, row.provider_name, row.service_id
            )
            return access
        raise RetryLater("another process is refreshing this connection's token", 2.0)


def connection_handlers(settings: Settings, sealer: Sealer) -> dict[str, Handler]:
    """The job kinds of connections (revoking forgotten tokens), when configured."""
    config = ClientConfig.from_settings(settings)
    if config is None:
        return {}
    return {REVOKE: revoke_handler(sealer, config.client_id)}
