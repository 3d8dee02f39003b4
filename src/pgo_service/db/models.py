"""Table definitions.

Every clinical row carries ``patient_id``: the id of the Patient whose compartment
it belongs to (null for resources outside any patient compartment, such as a
Practitioner). Consent filtering and, later, partitioning by patient key on it.

Timestamps in the search index are integers (microseconds since the epoch, UTC) so
that range comparisons behave the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

AutoPk = BigInteger().with_variant(Integer(), "sqlite")

resource = Table(
    "resource",
    metadata,
    Column("resource_type", String(40), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", DateTime, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("patient_id", String(64), nullable=True),
    Column("content", LargeBinary, nullable=True),
    Index(None, "resource_type", "last_updated"),
    Index(None, "patient_id"),
)

resource_version = Table(
    "resource_version",
    metadata,
    Column("resource_type", String(40), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("version_id", Integer, primary_key=True),
    Column("last_updated", DateTime, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("method", String(8), nullable=False),
    Column("patient_id", String(64), nullable=True),
    Column("content", LargeBinary, nullable=True),
    Index(None, "last_updated"),
    Index(None, "resource_type", "last_updated"),
)


def _index_table(name: str, *columns: Column[object], values: tuple[str, ...]) -> Table:
    """An index table with two covering indexes.

    ``(resource_type, param, <values>, resource_id)`` finds the resources with a value
    (a selective search parameter drives the query from it); ``(resource_type,
    resource_id, param, <values>)`` checks one resource's values (a dense parameter is
    tested per candidate while the query walks resources in order and stops at the page
    size). Both are covering, so neither needs the table itself.
    """
    table = Table(
        name,
        metadata,
        Column("pk", AutoPk, primary_key=True, autoincrement=True),
        Column("resource_type", String(40), nullable=False),
        Column("resource_id", String(64), nullable=False),
        Column("param", String(64), nullable=False),
        Column("patient_id", String(64), nullable=True),
        *columns,
    )
    c = table.c
    Index(f"ix_{name}_by_value", c.resource_type, c.param, *(c[v] for v in values), c.resource_id)
    Index(f"ix_{name}_by_owner", c.resource_type, c.resource_id, c.param, *(c[v] for v in values))
    return table


search_string = _index_table(
    "search_string",
    Column("value", String(512), nullable=False),
    Column("exact", String(512), nullable=False),
    values=("value",),
)

search_token = _index_table(
    "search_token",
    Column("system", String(512), nullable=True),
    Column("code", String(512), nullable=True),
    Column("text", String(512), nullable=True),
    values=("code", "system"),
)

search_reference = _index_table(
    "search_reference",
    Column("target_type", String(40), nullable=True),
    Column("target_id", String(64), nullable=True),
    Column("url", String(1024), nullable=True),
    Column("identifier_system", String(512), nullable=True),
    Column("identifier_value", String(512), nullable=True),
    values=("target_id", "target_type"),
)
Index(
    "ix_search_reference_by_target",
    search_reference.c.target_type,
    search_reference.c.target_id,
    search_reference.c.param,
    search_reference.c.resource_type,
    search_reference.c.resource_id,
)

search_date = _index_table(
    "search_date",
    Column("low", BigInteger, nullable=False),
    Column("high", BigInteger, nullable=False),
    values=("low", "high"),
)

search_quantity = _index_table(
    "search_quantity",
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("system", String(512), nullable=True),
    Column("code", String(512), nullable=True),
    values=("low", "high"),
)

search_uri = _index_table(
    "search_uri",
    Column("value", String(1024), nullable=False),
    values=("value",),
)

INDEX_TABLES: dict[str, Table] = {
    "string": search_string,
    "token": search_token,
    "reference": search_reference,
    "date": search_date,
    "quantity": search_quantity,
    "uri": search_uri,
}


# One row, bumped by every write that can change an access decision (a Consent, a
# network, a professional's role): a process compares it with the value its cached
# decisions were made at, so a revocation holds on the very next request everywhere.
policy_epoch = Table(
    "policy_epoch",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("value", BigInteger, nullable=False),
)

from . import auth_tables as auth_tables  # noqa: E402  (registers the auth tables on metadata)
from . import sync_tables as sync_tables  # noqa: E402  (registers the sync tables on metadata)
