"""Subscriptions for provider notifications (modelled on MedMij's): a provider tells the
service that a client's data changed by naming an opaque subscription id, never the
client, and the service then pulls that client's data from the provider.

The connect flow creates a subscription when a client connects their plan at a
provider's data service, naming the registered confidential client that will send the
notifications; only that client may use the id.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select

from ..db.sync_tables import sync_subscription
from .pull import enqueue_pull


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
