"""A lookup run on the driver's cursor answers exactly what SQLAlchemy's path answers,
and fails with SQLAlchemy's wrapped errors."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    exc,
    select,
)

from pgo_service.db.direct import DirectInsert, DirectLookup
from pgo_service.db.engine import transaction

metadata = MetaData()
sample = Table(
    "direct_lookup_sample",
    metadata,
    Column("key", String(20), primary_key=True),
    Column("number", Integer),
    Column("flag", Boolean),
    Column("moment", DateTime),
    Column("data", LargeBinary),
)
BY_KEY = select(sample).where(sample.c.key == bindparam("key"))


def test_rows_equal_sqlalchemys(db_engine: Engine) -> None:
    metadata.create_all(db_engine)
    try:
        rows = [
            {
                "key": "a",
                "number": 7,
                "flag": True,
                "moment": datetime(2026, 3, 1, 12, 0, 0, 123456),
                "data": b"{}",
            },
            {"key": "b", "number": None, "flag": False, "moment": None, "data": None},
        ]
        with transaction(db_engine) as conn:
            conn.execute(sample.insert(), rows)
        lookup = DirectLookup(BY_KEY)
        with transaction(db_engine, write=False) as conn:
            for key in ("a", "b", "missing"):
                expected = conn.execute(BY_KEY, {"key": key}).first()
                found = lookup.first(conn, key=key)
                assert (found is None) == (expected is None)
                if expected is not None:
                    assert tuple(found) == tuple(expected)
                    assert found.flag is expected.flag
    finally:
        metadata.drop_all(db_engine)


def test_errors_are_sqlalchemys(db_engine: Engine) -> None:
    lookup = DirectLookup(BY_KEY)  # the table does not exist
    with pytest.raises(exc.DBAPIError), transaction(db_engine, write=False) as conn:
        lookup.first(conn, key="a")


def test_direct_inserts_store_what_sqlalchemy_stores(db_engine: Engine) -> None:
    metadata.create_all(db_engine)
    try:
        row = {"number": 7, "flag": True, "moment": datetime(2026, 3, 1, 12, 0, 0, 123456)}
        with transaction(db_engine) as conn:
            conn.execute(sample.insert(), [{"key": "by-sqlalchemy", **row, "data": b"{}"}])
            DirectInsert(sample).execute(conn, [{"key": "direct", **row, "data": b"{}"}])
        with transaction(db_engine, write=False) as conn:
            stored = {r.key: tuple(r)[1:] for r in conn.execute(select(sample))}
        assert stored["direct"] == stored["by-sqlalchemy"]
    finally:
        metadata.drop_all(db_engine)


@pytest.mark.parametrize(
    "keys",
    [
        ("key", "number", "flag", "moment", "data"),  # the table's order
        ("data", "key", "number"),  # another order, columns left out
        ("key", "number"),  # nothing to process (SQLite takes the tuples as they are)
    ],
)
def test_direct_inserts_of_tuples_store_what_sqlalchemy_stores(
    db_engine: Engine, keys: tuple[str, ...]
) -> None:
    metadata.create_all(db_engine)
    values = {"number": 7, "flag": True, "moment": datetime(2026, 3, 1, 12, 0, 0, 1), "data": b"{}"}
    try:
        with transaction(db_engine) as conn:
            for key in ("by-sqlalchemy", "direct"):
                row = {**{name: values.get(name) for name in keys}, "key": key}
                if key == "direct":
                    DirectInsert(sample).execute_values(conn, keys, [tuple(row[k] for k in keys)])
                else:
                    conn.execute(sample.insert(), [row])
        with transaction(db_engine, write=False) as conn:
            stored = {r.key: tuple(r)[1:] for r in conn.execute(select(sample))}
        assert stored["direct"] == stored["by-sqlalchemy"]
        assert any(value is not None for value in stored["direct"])
    finally:
        metadata.drop_all(db_engine)


def test_direct_insert_errors_are_sqlalchemys(db_engine: Engine) -> None:
    metadata.create_all(db_engine)
    try:
        with pytest.raises(exc.IntegrityError), transaction(db_engine) as conn:
            DirectInsert(sample).execute(conn, [{"key": "same"}, {"key": "same"}])
    finally:
        metadata.drop_all(db_engine)
