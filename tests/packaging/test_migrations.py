"""The alembic migrations produce exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from pgo_service.db.migrate import current_revision, head_revision
from pgo_service.db.models import metadata


def test_models_and_migrations_agree(db_engine: Engine, database_url: str) -> None:
    with db_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []
    assert current_revision(database_url) == head_revision(database_url)
