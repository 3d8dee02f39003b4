"""The resource store: current versions, version history and the search index.

All writes for one resource (current row, version row, index rows) happen on the
caller's connection, inside the caller's transaction: a search never sees a
resource its read would not. The store never commits.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    update,
)

from ..db.direct import DirectInsert, DirectLookup
from ..db.models import INDEX_TABLES, resource, resource_version
from .compartment import patient_compartment
from .jsonio import dump_json
from .search.extract import entries_with, extract
from .search.index import ENTRY_TYPES, ON_RESOURCE_TABLE, IndexEntry
from .search.parts import without_parts
from .visibility import RowFilter

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def ordered_id() -> str:
    """A UUID of version 7 (RFC 9562): its leading 48 bits are the Unix time in
    milliseconds, so new rows go to the end of every index led by the id instead of
    dirtying pages all over it (which halved the cost of a batch of audit events).
    The id reveals when the resource was created, as its first version's
    ``meta.lastUpdated`` does to whoever may read it."""
    millis = time.time_ns() // 1_000_000 & (1 << 48) - 1
    rand = int.from_bytes(os.urandom(10), "big")
    value = millis << 80 | 0x7 << 76 | (rand >> 64 & 0xFFF) << 64 | 0b10 << 62
    return str(uuid.UUID(int=value | rand & (1 << 62) - 1))


def format_instant(moment: datetime) -> str:
    # isoformat ends in "+00:00" in UTC; it costs less than strftime and keeps a year
    # before 1000 at four digits, as an instant needs.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class StoredVersion:
    resource_type: str
    id: str
    version_id: int
    last_updated: datetime
    deleted: bool
    content: bytes | None
    method: str = ""
    patient_id: str | None = None

    @property
    def etag(self) -> str:
        return f'W/"{self.version_id}"'

    @property
    def reference(self) -> str:
        return f"{self.resource_type}/{self.id}"


def keys_among(
    type_column: ColumnElement[str], id_column: ColumnElement[str], keys: Iterable[tuple[str, str]]
) -> ColumnElement[bool]:
    """``(type, id)`` among ``keys``, as one ``IN`` list per type: SQLite scans the
    whole table for a row-value ``IN`` but searches an index for this."""
    by_type: dict[str, list[str]] = {}
    for kind, key in keys:
        by_type.setdefault(kind, []).append(key)
    return or_(
        *(and_(type_column == kind, id_column.in_(ids)) for kind, ids in sorted(by_type.items()))
    )


def _any_of(keys: Iterable[tuple[str, str]]) -> ColumnElement[bool]:
    return keys_among(resource.c.resource_type, resource.c.id, keys)


def _from_row(row: Any, method: str = "") -> StoredVersion:
    return StoredVersion(
        resource_type=row.resource_type,
        id=row.id,
        version_id=row.version_id,
        last_updated=_aware(row.last_updated),
        deleted=bool(row.deleted),
        content=row.content,
        method=method,
        patient_id=row.patient_id,
    )


_COLUMNS = (
    resource.c.resource_type,
    resource.c.id,
    resource.c.version_id,
    resource.c.last_updated,
    resource.c.deleted,
    resource.c.content,
    resource.c.patient_id,
)


# Up to this many keys, reading each by id on the driver beats building one query.
_FEW = 8

# Built once: the read path is the hottest statement of the server.
_READ = DirectLookup(
    select(*_COLUMNS).where(
        resource.c.resource_type == bindparam("resource_type"), resource.c.id == bindparam("id")
    )
)


_INSERT_CURRENT = DirectInsert(resource)
_INSERT_VERSION = DirectInsert(resource_version)
_UPDATE_CURRENT = update(resource).where(
    resource.c.resource_type == bindparam("key_type"), resource.c.id == bindparam("key_id")
)
_INSERT_INDEX = {kind: DirectInsert(table) for kind, table in INDEX_TABLES.items()}
_DELETE_INDEX = {
    kind: delete(table).where(
        table.c.resource_type == bindparam("resource_type"),
        table.c.resource_id == bindparam("resource_id"),
    )
    for kind, table in INDEX_TABLES.items()
}


def _add_index_rows(
    rows: dict[str, list[tuple[Any, ...]]],
    entries: Iterable[IndexEntry],
    resource_type: str,
    resource_id: str,
    patient_id: str | None,
) -> None:
    """Append the index-table rows of one resource's ``entries`` to ``rows``, by kind,
    as tuples of ``INDEX_KEYS[kind]``."""
    listed = entries if isinstance(entries, list) else list(entries)
    for entry in without_parts(resource_type, listed):
        if entry.param in ON_RESOURCE_TABLE:
            continue
        values = _VALUES_OF[type(entry)](entry)
        row = (resource_type, resource_id, entry.param, patient_id, *values)
        rows.setdefault(entry.kind, []).append(row)


def _values_getter(kind: type[IndexEntry]) -> Callable[[IndexEntry], tuple[Any, ...]]:
    first, *names = kind.__slots__
    assert first == "param", kind  # every entry type leads with its parameter
    if len(names) == 1:
        return lambda entry: (getattr(entry, names[0]),)
    return attrgetter(*names)


# An entry's own values after its param, and the index-table columns of its rows in
# the tables' order (its owner, the param, the compartment, then those values).
_VALUES_OF = {kind: _values_getter(kind) for kind in ENTRY_TYPES}
INDEX_KEYS = {
    kind.kind: ("resource_type", "resource_id", "param", "patient_id", *kind.__slots__[1:])
    for kind in ENTRY_TYPES
}


@dataclass(frozen=True, slots=True)
class NewRows:
    """The table rows of new resources, each its version 1."""

    currents: list[dict[str, Any]]
    versions: list[dict[str, Any]]
    index: dict[str, list[tuple[Any, ...]]]  # rows of INDEX_KEYS[kind]

    @classmethod
    def of(
        cls,
        resource_type: str,
        bodies: Iterable[tuple[str, dict[str, Any]]],
        index: Callable[[dict[str, Any]], Iterable[IndexEntry]] | None = None,
        clock: Clock = utc_now,
        *,
        compartment: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> NewRows:
        """``index`` and ``compartment`` stand in for the general extraction and
        compartment rules where a writer knows its resources' shape."""
        entries_of = index or (lambda document: extract(resource_type, document))
        compartment_of = compartment or (
            lambda document: patient_compartment(resource_type, document)
        )
        rows = cls([], [], {})
        for resource_id, body in bodies:
            moment = clock()
            meta = {**(body.get("meta") or {}), "versionId": "1"}
            meta["lastUpdated"] = format_instant(moment)
            document = {**body, "resourceType": resource_type, "id": resource_id, "meta": meta}
            patient_id = compartment_of(document)
            row = {
                "resource_type": resource_type,
                "id": resource_id,
                "version_id": 1,
                "last_updated": _naive(moment),
                "deleted": False,
                "patient_id": patient_id,
                "content": dump_json(document),
            }
            rows.currents.append(row)
            rows.versions.append({**row, "method": "POST"})
            entries = entries_of(document)
            _add_index_rows(rows.index, entries, resource_type, resource_id, patient_id)
        return rows


class ResourceStore:
    def __init__(self, conn: Connection, clock: Clock = utc_now) -> None:
        self.conn = conn
        self.clock = clock
        self._postgres = conn.dialect.name == "postgresql"

    # -- locking --------------------------------------------------------------

    def lock(self, key: str) -> None:
        """Serialise writers that share ``key`` until this transaction ends.

        SQLite write transactions already hold the database write lock
        (BEGIN IMMEDIATE); PostgreSQL takes a transaction-scoped advisory lock.
        """
        if self._postgres:
            digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
            number = int.from_bytes(digest, "big", signed=True)
            self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": number})

    # -- reads ----------------------------------------------------------------

    def read(self, resource_type: str, resource_id: str) -> StoredVersion | None:
        row = _READ.first(self.conn, resource_type=resource_type, id=resource_id)
        return _from_row(row) if row else None

    def read_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], StoredVersion]:
        """Current, non-deleted versions of many resources (a few: one read each, on the
        driver; more: one query)."""
        wanted = sorted(set(keys))
        if len(wanted) <= _FEW:
            found = (self.read(kind, key) for kind, key in wanted)
            return {(v.resource_type, v.id): v for v in found if v is not None and not v.deleted}
        rows = self.conn.execute(
            select(*_COLUMNS).where(_any_of(wanted), resource.c.deleted.is_(False))
        ).all()
        return {(r.resource_type, r.id): _from_row(r) for r in rows}

    def compartments(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
        """The patient compartment of each existing, non-deleted resource among ``keys``."""
        wanted = sorted(set(keys))
        if len(wanted) <= _FEW:
            return {key: v.patient_id for key, v in self.read_many(wanted).items()}
        rows = self.conn.execute(
            select(resource.c.resource_type, resource.c.id, resource.c.patient_id).where(
                _any_of(wanted), resource.c.deleted.is_(False)
            )
        ).all()
        return {(r.resource_type, r.id): r.patient_id for r in rows}

    def vread(self, resource_type: str, resource_id: str, version_id: int) -> StoredVersion | None:
        v = resource_version.c
        row = self.conn.execute(
            select(
                v.resource_type,
                v.id,
                v.version_id,
                v.last_updated,
                v.deleted,
                v.content,
                v.patient_id,
            ).where(
                v.resource_type == resource_type, v.id == resource_id, v.version_id == version_id
            )
        ).first()
        return _from_row(row) if row else None

    def history(
        self,
        resource_type: str | None,
        resource_id: str | None,
        *,
        since: datetime | None,
        at: datetime | None,
        count: int,
        offset: int,
        visible: RowFilter | None = None,
    ) -> tuple[list[StoredVersion], int]:
        """Versions newest first; ``visible`` keeps those the caller may see."""
        v = resource_version.c
        conditions = [visible(resource_version)] if visible is not None else []
        if resource_type is not None:
            conditions.append(v.resource_type == resource_type)
        else:  # every request writes to the audit trail, reading this history too
            conditions.append(v.resource_type != "AuditEvent")
        if resource_id is not None:
            conditions.append(v.id == resource_id)
        if since is not None:
            conditions.append(v.last_updated >= _naive(since))
        if at is not None:
            conditions.append(v.last_updated <= _naive(at))
        where = and_(True, *conditions)
        total = self.conn.execute(select(func.count()).select_from(resource_version).where(where))
        rows = self.conn.execute(
            select(
                v.resource_type,
                v.id,
                v.version_id,
                v.last_updated,
                v.deleted,
                v.content,
                v.method,
                v.patient_id,
            )
            .where(where)
            .order_by(v.last_updated.desc(), v.resource_type, v.id, v.version_id.desc())
            .limit(count)
            .offset(offset)
        ).all()
        return [_from_row(r, r.method) for r in rows], int(total.scalar_one())

    # -- writes ---------------------------------------------------------------

    def new_id(self) -> str:
        return ordered_id()

    def _next_instant(self, current: StoredVersion | None) -> datetime:
        now = self.clock()
        if current is not None and now <= current.last_updated:
            now = current.last_updated + timedelta(microseconds=1)
        return now

    def write(
        self,
        resource_type: str,
        resource_id: str,
        body: dict[str, Any],
        current: StoredVersion | None,
        *,
        method: str,
        entries: list[IndexEntry] | None = None,
    ) -> StoredVersion:
        """Store ``body`` as the next version of the resource (the first if ``current`` is
        None). ``entries``: the body's ``content_entries``, when the caller found them."""
        version_id = current.version_id + 1 if current else 1
        moment = self._next_instant(current)
        meta = dict(body.get("meta") or {})
        meta["versionId"] = str(version_id)
        meta["lastUpdated"] = format_instant(moment)
        document = {"resourceType": resource_type, "id": resource_id, **body, "meta": meta}
        document["id"] = resource_id
        content = dump_json(document)
        patient_id = patient_compartment(resource_type, document)
        values = {
            "version_id": version_id,
            "last_updated": _naive(moment),
            "deleted": False,
            "patient_id": patient_id,
            "content": content,
        }
        self._put_current(resource_type, resource_id, values, exists=current is not None)
        self._put_version(resource_type, resource_id, values, method)
        index = (
            extract(resource_type, document)
            if entries is None
            else entries_with(resource_type, document, entries)
        )
        self._reindex(resource_type, resource_id, patient_id, index, fresh=current is None)
        return StoredVersion(
            resource_type, resource_id, version_id, moment, False, content, method, patient_id
        )

    def create_many(
        self,
        resource_type: str,
        bodies: Iterable[tuple[str, dict[str, Any]]],
        index: Callable[[dict[str, Any]], Iterable[IndexEntry]] | None = None,
    ) -> int:
        """Store new resources (each its version 1) with one statement per table.

        For records the service writes in bulk, such as the audit trail; the ids must
        be new. ``index`` gives a document's index entries when the writer knows them
        (they must equal what ``extract`` finds). Returns how many were stored."""
        return self.insert_new(NewRows.of(resource_type, bodies, index, self.clock))

    def insert_new(self, rows: NewRows) -> int:
        """Store rows prepared by ``NewRows.of`` (before the transaction, so that the
        write lock is held for the inserts alone)."""
        if not rows.currents:
            return 0
        _INSERT_CURRENT.execute(self.conn, rows.currents)
        _INSERT_VERSION.execute(self.conn, rows.versions)
        for kind, index_rows in rows.index.items():
            _INSERT_INDEX[kind].execute_values(self.conn, INDEX_KEYS[kind], index_rows)
        return len(rows.currents)

    def delete(self, current: StoredVersion) -> StoredVersion:
        version_id = current.version_id + 1
        moment = self._next_instant(current)
        values = {
            "version_id": version_id,
            "last_updated": _naive(moment),
            "deleted": True,
            "patient_id": current.patient_id,  # who may learn that it is gone
            "content": None,
        }
        self._put_current(current.resource_type, current.id, values, exists=True)
        self._put_version(current.resource_type, current.id, values, "DELETE")
        self._reindex(current.resource_type, current.id, None, (), fresh=False)
        return StoredVersion(
            current.resource_type,
            current.id,
            version_id,
            moment,
            True,
            None,
            "DELETE",
            current.patient_id,
        )

    def _put_current(
        self, resource_type: str, resource_id: str, values: dict[str, Any], *, exists: bool
    ) -> None:
        if exists:
            keys = {"key_type": resource_type, "key_id": resource_id}
            self.conn.execute(_UPDATE_CURRENT, {**keys, **values})
        else:
            row = {"resource_type": resource_type, "id": resource_id, **values}
            _INSERT_CURRENT.execute(self.conn, [row])

    def _put_version(
        self, resource_type: str, resource_id: str, values: dict[str, Any], method: str
    ) -> None:
        row = {"resource_type": resource_type, "id": resource_id, "method": method, **values}
        _INSERT_VERSION.execute(self.conn, [row])

    def _reindex(
        self,
        resource_type: str,
        resource_id: str,
        patient_id: str | None,
        entries: Iterable[IndexEntry],
        *,
        fresh: bool,
    ) -> None:
        rows: dict[str, list[tuple[Any, ...]]] = {}
        _add_index_rows(rows, entries, resource_type, resource_id, patient_id)
        for kind in INDEX_TABLES:
            if fresh and kind not in rows:
                continue
            if not fresh:
                key = {"resource_type": resource_type, "resource_id": resource_id}
                self.conn.execute(_DELETE_INDEX[kind], key)
            if kind in rows:
                _INSERT_INDEX[kind].execute_values(self.conn, INDEX_KEYS[kind], rows[kind])
