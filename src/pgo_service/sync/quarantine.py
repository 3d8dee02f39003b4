"""Provider resources a pull set aside, so that one bad resource does not hold up the
rest of its page (``sync_quarantine``).

A resource that is not valid FHIR, or that a rule of the plan refuses, is recorded by
the provider's name, the data service, the resource type, the provider's id and
version, and the reason; never its content. The rest of the page is merged and the
pull's cursor moves on, so the valid resources are not read and retried again. When
the provider later serves a version that merges, its row goes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ..db.sync_tables import sync_quarantine

_REASON_LENGTH = 300
_LONG_NUMBER = re.compile(r"\d{8,}")  # a reason never carries a BSN, even quoted back


@dataclass(frozen=True)
class Rejected:
    """A provider resource that cannot be merged, and why."""

    remote_id: str
    version: str | None
    reason: str


@dataclass(frozen=True)
class Quarantined:
    provider_name: str
    service_id: str
    resource_type: str
    remote_id: str
    source_version: str | None
    reason: str
    first_seen: datetime
    last_seen: datetime


def clean_reason(text: str) -> str:
    """The reason as it is stored and shown: one line, short, no long numbers."""
    line = " ".join(text.split())
    return _LONG_NUMBER.sub("…", line)[:_REASON_LENGTH]


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def set_aside(
    conn: Connection,
    *,
    patient_id: str,
    provider_name: str,
    service_id: str,
    resource_type: str,
    rejected: Iterable[Rejected],
    now: datetime,
) -> None:
    """Record (or renew) these resources as set aside, in the caller's transaction."""
    moment = _naive(now)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for item in rejected:
        values = {
            "patient_id": patient_id,
            "provider_name": provider_name,
            "resource_type": resource_type,
            "remote_id": item.remote_id[:128],
            "service_id": service_id,
            "source_version": item.version[:128] if item.version else None,
            "reason": clean_reason(item.reason),
            "first_seen": moment,
            "last_seen": moment,
        }
        renewed = {k: values[k] for k in ("service_id", "source_version", "reason", "last_seen")}
        conn.execute(
            dialect.insert(sync_quarantine)
            .values(**values)
            .on_conflict_do_update(
                index_elements=[
                    sync_quarantine.c[k]
                    for k in ("patient_id", "provider_name", "resource_type", "remote_id")
                ],
                set_=renewed,
            )
        )


def clear(
    conn: Connection,
    *,
    patient_id: str,
    provider_name: str,
    resource_type: str,
    remote_ids: Iterable[str],
) -> None:
    """These resources merged: they are no longer set aside."""
    wanted = sorted(set(remote_ids))
    if not wanted:
        return
    q = sync_quarantine.c
    conn.execute(
        delete(sync_quarantine).where(
            q.patient_id == patient_id,
            q.provider_name == provider_name,
            q.resource_type == resource_type,
            q.remote_id.in_(wanted),
        )
    )


def quarantined(conn: Connection, limit: int = 50) -> tuple[int, list[Quarantined]]:
    """How many resources are set aside, and the most recently seen of them."""
    q = sync_quarantine.c
    total = int(conn.execute(select(func.count()).select_from(sync_quarantine)).scalar_one())
    rows = conn.execute(
        select(sync_quarantine).order_by(q.last_seen.desc(), q.provider_name).limit(limit)
    ).all()
    return total, [
        Quarantined(
            row.provider_name,
            row.service_id,
            row.resource_type,
            row.remote_id,
            row.source_version,
            row.reason,
            row.first_seen,
            row.last_seen,
        )
        for row in rows
    ]
