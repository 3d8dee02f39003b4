"""Writing resources with their index rows straight into the tables, and searching."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import orjson
from sqlalchemy import Connection, Engine, insert

from pgo_service.db.models import INDEX_TABLES, resource
from pgo_service.fhir.search.execute import SearchResult, run_search
from pgo_service.fhir.search.extract import extract
from pgo_service.fhir.search.index import IndexEntry
from pgo_service.fhir.search.query import parse_search

BASE_TIME = datetime(2024, 1, 1, 12, 0, 0)


def store(
    conn: Connection,
    body: dict[str, Any],
    *,
    last_updated: datetime | None = None,
    entries: Iterable[IndexEntry] | None = None,
    patient_id: str | None = None,
) -> None:
    """One current version of ``body``; its index rows are extracted unless given."""
    resource_type, resource_id = body["resourceType"], body["id"]
    conn.execute(
        insert(resource).values(
            resource_type=resource_type,
            id=resource_id,
            version_id=1,
            last_updated=last_updated or BASE_TIME,
            deleted=False,
            patient_id=patient_id,
            content=orjson.dumps(body),
        )
    )
    rows = list(extract(resource_type, body) if entries is None else entries)
    for entry in rows:
        values = asdict(entry)
        conn.execute(
            insert(INDEX_TABLES[entry.kind]).values(
                resource_type=resource_type,
                resource_id=resource_id,
                patient_id=patient_id,
                **values,
            )
        )


def store_deleted(conn: Connection, resource_type: str, resource_id: str) -> None:
    conn.execute(
        insert(resource).values(
            resource_type=resource_type,
            id=resource_id,
            version_id=2,
            last_updated=BASE_TIME,
            deleted=True,
            content=None,
        )
    )


def store_all(engine: Engine, *bodies: dict[str, Any], step: timedelta | None = None) -> None:
    with engine.begin() as conn:
        for number, body in enumerate(bodies):
            moment = BASE_TIME + (step or timedelta(0)) * number
            store(conn, body, last_updated=moment)


def params_of(query_string: str) -> list[tuple[str, str]]:
    return parse_qsl(query_string, keep_blank_values=True)


def search(engine: Engine, resource_type: str, query_string: str = "") -> SearchResult:
    query = parse_search(resource_type, params_of(query_string), strict=True)
    with engine.connect() as conn:
        return run_search(conn, query)


def ids(engine: Engine, resource_type: str, query_string: str = "") -> list[str]:
    return [found.id for found in search(engine, resource_type, query_string).matches]


def id_set(engine: Engine, resource_type: str, query_string: str = "") -> set[str]:
    return set(ids(engine, resource_type, query_string))


def patient(pid: str, family: str = "Jansen", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": family}], **extra}


def observation(oid: str, subject: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        **extra,
    }
    if subject is not None:
        body["subject"] = {"reference": subject}
    return body
