"""``_id`` and ``_lastUpdated`` are searched and sorted on the resource table: their
entries are not stored as index rows, and searches on them still find everything."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from pgo_service.db.engine import transaction
from pgo_service.db.models import INDEX_TABLES
from pgo_service.fhir.search.execute import find_matches
from pgo_service.fhir.store import ResourceStore


def _patient(family: str) -> dict[str, object]:
    return {"resourceType": "Patient", "name": [{"family": family}], "gender": "female"}


def _store_one_written_and_one_bulk_created(engine: Engine) -> None:
    with transaction(engine) as conn:
        store = ResourceStore(conn)
        store.write("Patient", "one", _patient("Jansen"), None, method="PUT")
        store.create_many("Patient", [("two", _patient("de Vries"))])


def test_no_index_rows_for_id_and_last_updated(db_engine: Engine) -> None:
    _store_one_written_and_one_bulk_created(db_engine)
    with transaction(db_engine, write=False) as conn:
        for table in INDEX_TABLES.values():
            stored = conn.execute(
                select(func.count())
                .select_from(table)
                .where(table.c.param.in_(("_id", "_lastUpdated")))
            ).scalar_one()
            assert stored == 0, table.name
        family = INDEX_TABLES["string"]
        assert (
            conn.execute(
                select(func.count()).select_from(family).where(family.c.param == "family")
            ).scalar_one()
            == 2
        )


def test_searches_on_id_and_last_updated_find_what_they_did(db_engine: Engine) -> None:
    _store_one_written_and_one_bulk_created(db_engine)
    with transaction(db_engine, write=False) as conn:

        def ids(*params: tuple[str, str]) -> list[str]:
            return sorted(f.id for f in find_matches(conn, "Patient", list(params), limit=10))

        assert ids(("_id", "two")) == ["two"]
        assert ids(("_id", "one,two"), ("gender", "female")) == ["one", "two"]
        assert ids(("_lastUpdated", "gt2000-01-01")) == ["one", "two"]
        assert ids(("_lastUpdated", "lt2000-01-01")) == []
        assert ids(("family", "Jansen"), ("_lastUpdated", "ge2000-01-01")) == ["one"]
