"""Subscriptions for provider notifications (modelled on MedMij's): a provider tells the
service that a client's data changed by naming an opaque subscription id, never the
client, and the service then pulls that client's data from the provider.

The connect flow creates a subscription when a client connects their plan at a
provider's data service (``subscribe``), naming the registered confidential client that
will send the notifications; only that client may use the id. That client is the one
the provider's Organization names by client id (identifier system
``urn:ietf:params:oauth:client-id``, next to the provider's list name): the provider
system registered for that organization. Connecting again replaces the subscription;
disconnecting, or the client's consent for the provider ceasing, ends it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, insert, select

from ..db.models import resource, search_token
from ..db.sync_tables import sync_subscription
from .pull import enqueue_pull
from .registry import PROVIDER_NAME_SYSTEM

CLIENT_ID_SYSTEM = "urn:ietf:params:oauth:client-id"  # as auth.provider_systems names it


def _naive(moment: datetime | None) -> datetime | None:
    """Instants are stored as naive UTC."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    patient_id: str
    provider_name: str
    service_id: str
    notifier_client_id: str
    end_date: datetime | None


def create_subscription(
    conn: Connection,
    *,
    patient_id: str,
    provider_name: str,
    service_id: str,
    notifier_client_id: str,
    now: datetime,
    end_date: datetime | None = None,
) -> str:
    """A new opaque id, to be given to the provider for its notifications."""
    subscription_id = secrets.token_urlsafe(24)
    conn.execute(
        insert(sync_subscription).values(
            subscription_id=subscription_id,
            patient_id=patient_id,
            provider_name=provider_name,
            service_id=service_id,
            notifier_client_id=notifier_client_id,
            end_date=_naive(end_date),
            created_at=_naive(now),
        )
    )
    return subscription_id


def notifier_of(conn: Connection, provider_name: str) -> str | None:
    """The client id of the provider's system: the one client id that the live
    Organizations named by this provider's list name carry; None if none or several."""
    tok, res = search_token.c, resource.c
    named = select(tok.resource_id).where(
        tok.resource_type == "Organization",
        tok.param == "identifier",
        tok.system == PROVIDER_NAME_SYSTEM,
        tok.code == provider_name,
    )
    live = select(res.id).where(
        res.resource_type == "Organization", res.deleted.is_(False), res.id.in_(named)
    )
    clients = conn.execute(
        select(tok.code)
        .where(
            tok.resource_type == "Organization",
            tok.param == "identifier",
            tok.system == CLIENT_ID_SYSTEM,
            tok.resource_id.in_(live),
        )
        .distinct()
        .limit(2)
    ).scalars()
    found = [str(c) for c in clients if c]
    return found[0] if len(found) == 1 else None


def end_subscriptions(
    conn: Connection, patient_id: str, provider_name: str, service_id: str | None = None
) -> int:
    """End this client's subscriptions at this provider (one data service, or all)."""
    s = sync_subscription.c
    conditions = [s.patient_id == patient_id, s.provider_name == provider_name]
    if service_id is not None:
        conditions.append(s.service_id == service_id)
    return int(conn.execute(delete(sync_subscription).where(*conditions)).rowcount)


def subscribe(
    conn: Connection, *, patient_id: str, provider_name: str, service_id: str, now: datetime
) -> Subscription | None:
    """Replace this client's subscription at this data service (in the caller's
    transaction); None when the provider has no system that could notify."""
    end_subscriptions(conn, patient_id, provider_name, service_id)
    notifier = notifier_of(conn, provider_name)
    if notifier is None:
        return None
    subscription_id = create_subscription(
        conn,
        patient_id=patient_id,
        provider_name=provider_name,
        service_id=service_id,
        notifier_client_id=notifier,
        now=now,
    )
    return Subscription(subscription_id, patient_id, provider_name, service_id, notifier, None)


def subscriptions_of(conn: Connection, patient_id: str) -> dict[tuple[str, str], Subscription]:
    """The client's subscriptions by (provider, data service)."""
    rows = conn.execute(
        select(sync_subscription).where(sync_subscription.c.patient_id == patient_id)
    )
    return {
        (row.provider_name, row.service_id): Subscription(
            row.subscription_id,
            row.patient_id,
            row.provider_name,
            row.service_id,
            row.notifier_client_id,
            row.end_date,
        )
        for row in rows
    }


def find_subscription(conn: Connection, subscription_id: str) -> Subscription | None:
    row = conn.execute(
        select(sync_subscription).where(sync_subscription.c.subscription_id == subscription_id)
    ).first()
    if row is None:
        return None
    return Subscription(
        row.subscription_id,
        row.patient_id,
        row.provider_name,
        row.service_id,
        row.notifier_client_id,
        row.end_date,
    )


def notify(
    conn: Connection,
    *,
    subscription_id: str,
    client_id: str,
    now: datetime,
    max_attempts: int,
) -> int | None:
    """Queue a pull for the subscription's client; None when this client may not
    notify for this id (unknown, someone else's, or past its end). A burst of
    notifications gives one queued pull."""
    found = find_subscription(conn, subscription_id)
    if found is None or found.notifier_client_id != client_id:
        return None
    moment = _naive(now)
    assert moment is not None
    if found.end_date is not None and moment > found.end_date:
        return None
    return enqueue_pull(
        conn,
        patient_id=found.patient_id,
        provider_name=found.provider_name,
        service_id=found.service_id,
        now=moment,
        max_attempts=max_attempts,
    )
