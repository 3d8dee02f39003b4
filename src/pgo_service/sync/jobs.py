"""The outbox: jobs written with the change that causes them, claimed by workers.

A job's life: ``queued`` → ``running`` (claimed, under a lease) → ``done``; a failed
attempt goes back to ``queued`` with a later ``run_after``, or to ``dead`` when it
cannot succeed or has used its attempts; ``cancelled`` when it no longer may run
(consent revoked). A worker that dies leaves its job ``running`` until the lease
runs out; then another worker claims it again. Results are recorded only by the
claim that is still current (same worker, same attempt, still ``running``), so a
late worker cannot overwrite a newer claim's outcome or a cancellation.

Claims on PostgreSQL use ``SELECT … FOR UPDATE SKIP LOCKED`` in a short
transaction of their own; SQLite serialises the claim with ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..db.engine import transaction
from ..db.sync_tables import sync_counter, sync_job

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
DEAD = "dead"
CANCELLED = "cancelled"
STATUSES = (QUEUED, RUNNING, DONE, DEAD, CANCELLED)

_ERROR_LENGTH = 500
_SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "authorization",
        "password",
        "secret",
        "client_secret",
        "code",
        "bsn",
    }
)
_BSN_SYSTEMS = ("http://fhir.nl/fhir/NamingSystem/bsn", "2.16.840.1.113883.2.4.6.3")
_NINE_DIGITS = re.compile(r"(?<![0-9A-Za-z])\d{9}(?![0-9A-Za-z])")  # not part of a longer word


class PayloadError(ValueError):
    """The payload would put a BSN or a credential into the outbox."""


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    provider_name: str | None
    patient_id: str | None
    payload: dict[str, Any]
    attempt: int  # 1 for the first run
    max_attempts: int
    locked_by: str


def _passes_eleven_test(digits: str) -> bool:
    total = sum(int(d) * (9 - i) for i, d in enumerate(digits[:8])) - int(digits[8])
    return total % 11 == 0 and digits != "000000000"


def check_payload(value: Any, path: str = "payload") -> None:
    """Refuse credentials and anything that looks like a BSN: payloads name things by
    reference, and the handler reads what it needs when it runs."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise PayloadError(f"{path}: keys are strings")
            if key.lower() in _SECRET_KEYS:
                raise PayloadError(f"{path}.{key}: credentials and BSNs do not go in a job")
            check_payload(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_payload(item, f"{path}[{index}]")
    elif isinstance(value, str):
        if any(system in value for system in _BSN_SYSTEMS):
            raise PayloadError(f"{path}: a BSN identifier does not go in a job")
        if any(_passes_eleven_test(m) for m in _NINE_DIGITS.findall(value)):
            raise PayloadError(f"{path}: a value that may be a BSN does not go in a job")
    elif value is not None and not isinstance(value, bool | int | float):
        raise PayloadError(f"{path}: {type(value).__name__} is not JSON")


def enqueue(
    conn: Connection,
    kind: str,
    payload: Mapping[str, Any],
    *,
    now: datetime,
    max_attempts: int,
    provider_name: str | None = None,
    patient_id: str | None = None,
    dedupe_key: str | None = None,
    run_after: datetime | None = None,
) -> int:
    """Add a job in the caller's transaction, so it exists if and only if the change
    that causes it commits. With ``dedupe_key``, a job with that key that is still
    queued is reused (its handler reads the current state when it runs)."""
    check_payload(payload)
    if max_attempts < 1:
        raise ValueError("max_attempts is at least 1")
    if dedupe_key is not None:
        existing = conn.execute(
            select(sync_job.c.id)
            .where(sync_job.c.dedupe_key == dedupe_key, sync_job.c.status == QUEUED)
            .limit(1)
        ).scalar_one_or_none()
        if existing is not None:
            return int(existing)
    result = conn.execute(
        insert(sync_job)
        .values(
            kind=kind,
            provider_name=provider_name,
            patient_id=patient_id,
            payload=json.dumps(payload, separators=(",", ":"), sort_keys=True),
            dedupe_key=dedupe_key,
            status=QUEUED,
            attempts=0,
            max_attempts=max_attempts,
            run_after=run_after or now,
            created_at=now,
            updated_at=now,
        )
        .returning(sync_job.c.id)
    )
    return int(result.scalar_one())


def cancel_jobs(
    conn: Connection, *, patient_id: str, provider_name: str, now: datetime, reason: str
) -> int:
    """Cancel the jobs for this patient and provider that have not finished; returns
    how many. A job that is running meanwhile keeps running, but its outcome is not
    recorded and it is never retried. Consent revocation calls this."""
    result = conn.execute(
        update(sync_job)
        .where(
            sync_job.c.patient_id == patient_id,
            sync_job.c.provider_name == provider_name,
            sync_job.c.status.in_((QUEUED, RUNNING)),
        )
        .values(status=CANCELLED, last_error=_clip(f"cancelled: {reason}"), updated_at=now)
    )
    return int(result.rowcount)


def requeue(conn: Connection, job_id: int, now: datetime) -> bool:
    """An operator sends a dead job round again, with fresh attempts."""
    result = conn.execute(
        update(sync_job)
        .where(sync_job.c.id == job_id, sync_job.c.status == DEAD)
        .values(status=QUEUED, attempts=0, run_after=now, updated_at=now)
    )
    return bool(result.rowcount)


def _claimable(kinds: Iterable[str], now: datetime) -> Any:
    return and_(
        sync_job.c.kind.in_(list(kinds)),
        or_(
            and_(sync_job.c.status == QUEUED, sync_job.c.run_after <= now),
            and_(sync_job.c.status == RUNNING, sync_job.c.locked_until <= now),
        ),
    )


def _bump(conn: Connection, name: str, kind: str, by: int = 1) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(sync_counter).values(name=name, kind=kind, value=by)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[sync_counter.c.name, sync_counter.c.kind],
            set_={"value": sync_counter.c.value + by},
        )
    )


def _clip(text: str) -> str:
    return text if len(text) <= _ERROR_LENGTH else text[: _ERROR_LENGTH - 1] + "…"


def claim(
    engine: Engine,
    worker_id: str,
    kinds: Iterable[str],
    *,
    now: datetime,
    lease: timedelta,
    limit: int = 1,
) -> list[ClaimedJob]:
    """Claim up to ``limit`` due jobs of these kinds in a transaction of its own.

    A ``running`` job whose lease ran out is claimed again (its worker is gone), unless
    that was its last attempt: then it is dead."""
    kinds = list(kinds)
    if not kinds:
        return []
    with transaction(engine, write=False) as conn:
        # Idle workers poll; only take the write lock (SQLite) when there is work.
        due = conn.execute(select(sync_job.c.id).where(_claimable(kinds, now)).limit(1)).first()
    if due is None:
        return []
    claimed: list[ClaimedJob] = []
    with transaction(engine) as conn:
        candidates = (
            select(sync_job)
            .where(_claimable(kinds, now))
            .order_by(sync_job.c.run_after, sync_job.c.id)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        for row in conn.execute(candidates).all():
            if row.status == RUNNING:
                _bump(conn, "lease_expired", row.kind)
                if row.attempts >= row.max_attempts:
                    conn.execute(
                        update(sync_job)
                        .where(sync_job.c.id == row.id)
                        .values(
                            status=DEAD,
                            locked_by=None,
                            locked_until=None,
                            last_error=_clip(
                                f"attempt {row.attempts} ended without a result"
                                f" (worker {row.locked_by} lost); no attempts left"
                            ),
                            updated_at=now,
                        )
                    )
                    _bump(conn, "dead", row.kind)
                    continue
            attempt = row.attempts + 1
            conn.execute(
                update(sync_job)
                .where(sync_job.c.id == row.id)
                .values(
                    status=RUNNING,
                    attempts=attempt,
                    locked_by=worker_id,
                    locked_until=now + lease,
                    updated_at=now,
                )
            )
            claimed.append(
                ClaimedJob(
                    id=int(row.id),
                    kind=row.kind,
                    provider_name=row.provider_name,
                    patient_id=row.patient_id,
                    payload=json.loads(row.payload),
                    attempt=attempt,
                    max_attempts=int(row.max_attempts),
                    locked_by=worker_id,
                )
            )
    return claimed


def _current_claim(job: ClaimedJob) -> Any:
    return and_(
        sync_job.c.id == job.id,
        sync_job.c.status == RUNNING,
        sync_job.c.locked_by == job.locked_by,
        sync_job.c.attempts == job.attempt,
    )


def record_done(engine: Engine, job: ClaimedJob, *, now: datetime) -> bool:
    """Mark the job done; ``False`` when this claim is no longer current."""
    with transaction(engine) as conn:
        result = conn.execute(
            update(sync_job)
            .where(_current_claim(job))
            .values(status=DONE, locked_by=None, locked_until=None, last_error=None, updated_at=now)
        )
        current = bool(result.rowcount)
        _bump(conn, "done" if current else "stale_result", job.kind)
    return current


def record_failure(
    engine: Engine,
    job: ClaimedJob,
    error: str,
    *,
    now: datetime,
    retry_at: datetime | None,
) -> str | None:
    """Record a failed attempt: back to ``queued`` until ``retry_at``, or ``dead`` when
    ``retry_at`` is None or no attempts are left. Returns the new status, or None when
    this claim is no longer current."""
    dead = retry_at is None or job.attempt >= job.max_attempts
    status = DEAD if dead else QUEUED
    values: dict[str, Any] = {
        "status": status,
        "locked_by": None,
        "locked_until": None,
        "last_error": _clip(f"attempt {job.attempt}: {error}"),
        "updated_at": now,
    }
    if not dead:
        values["run_after"] = retry_at
    with transaction(engine) as conn:
        result = conn.execute(update(sync_job).where(_current_claim(job)).values(**values))
        if not result.rowcount:
            _bump(conn, "stale_result", job.kind)
            return None
        _bump(conn, "dead" if dead else "retried", job.kind)
    return status


@dataclass(frozen=True)
class DeadJob:
    id: int
    kind: str
    provider_name: str | None
    patient_id: str | None
    attempts: int
    last_error: str | None
    updated_at: datetime


@dataclass(frozen=True)
class OutboxStatus:
    counts: dict[str, dict[str, int]]  # kind -> status -> jobs
    counters: dict[str, dict[str, int]]  # kind -> counter -> value
    oldest_due: datetime | None  # run_after of the longest-waiting queued job


def outbox_status(conn: Connection) -> OutboxStatus:
    counts: dict[str, dict[str, int]] = {}
    for row in conn.execute(
        select(sync_job.c.kind, sync_job.c.status, func.count()).group_by(
            sync_job.c.kind, sync_job.c.status
        )
    ):
        counts.setdefault(row[0], dict.fromkeys(STATUSES, 0))[row[1]] = int(row[2])
    counters: dict[str, dict[str, int]] = {}
    for row in conn.execute(select(sync_counter)):
        counters.setdefault(row.kind, {})[row.name] = int(row.value)
    oldest = conn.execute(
        select(func.min(sync_job.c.run_after)).where(sync_job.c.status == QUEUED)
    ).scalar_one_or_none()
    return OutboxStatus(counts, counters, oldest)


def dead_jobs(conn: Connection, limit: int = 50) -> list[DeadJob]:
    rows = conn.execute(
        select(sync_job)
        .where(sync_job.c.status == DEAD)
        .order_by(sync_job.c.updated_at.desc(), sync_job.c.id.desc())
        .limit(limit)
    )
    return [
        DeadJob(
            int(r.id), r.kind, r.provider_name, r.patient_id, r.attempts, r.last_error, r.updated_at
        )
        for r in rows
    ]
