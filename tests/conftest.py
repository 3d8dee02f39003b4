"""Fixtures: every database test runs on SQLite and on a real PostgreSQL cluster.

The schema always comes from ``alembic upgrade head``. SQLite gets a copy of a
migrated template file per test; PostgreSQL gets a migrated database per session
whose tables are truncated before each test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from pgo_service.api.app import create_app
from pgo_service.config import Settings
from pgo_service.db.engine import make_engine
from pgo_service.db.migrate import upgrade
from pgo_service.db.models import metadata

from .support.default_bearer import DefaultBearer
from .support.fhirclient import FhirClient
from .support.liveserver import LiveServer
from .support.pgcluster import PgCluster
from .support.tokens import system_token

BACKENDS = [b for b in os.environ.get("PGO_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def pg_url(pg_cluster: PgCluster) -> str:
    url = pg_cluster.create_database("pgo_test")
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "pgo.sqlite3"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    # policy_epoch holds one row the migration writes; it only ever counts up.
    tables = ", ".join(t.name for t in metadata.sorted_tables if t.name != "policy_epoch")
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY"))
    engine.dispose()
    yield url


@pytest.fixture
def db_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


TEST_SECRET_KEY = "test-secret-key-of-the-suite"


def make_app(engine: Engine, **settings: object) -> FastAPI:
    """The service as the tests run it, with ``settings`` changed."""
    base: dict[str, object] = {
        "database_url": "unused://",
        "max_body_bytes": 256 * 1024,
        "secret_key": TEST_SECRET_KEY,
        "dev_mode": True,
        # A child process per test app would cost a second each; the process writer
        # has tests of its own (tests/consent/test_audit_process.py).
        "audit_writer": "thread",
    }
    return create_app(Settings(**{**base, **settings}), engine)  # type: ignore[arg-type]


@pytest.fixture
def app(db_engine: Engine) -> FastAPI:
    return make_app(db_engine)


@pytest.fixture
def system_bearer(db_engine: Engine) -> str:
    """A system/*.cruds token: full access, as the operator's own tools have."""
    return system_token(db_engine)


@pytest.fixture
def client(app: FastAPI, system_bearer: str) -> Iterator[FhirClient]:
    headers = {"Authorization": f"Bearer {system_bearer}"}
    with TestClient(app, base_url="http://testserver", headers=headers) as http:
        yield FhirClient(http)


@pytest.fixture
def live_server(app: FastAPI, system_bearer: str) -> Iterator[str]:
    """A live server; requests without an Authorization header get the system token."""
    with LiveServer(DefaultBearer(app, system_bearer)) as url:  # type: ignore[arg-type]
        yield url
