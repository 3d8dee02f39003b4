"""A failing statement's error, as logged or recorded, carries no values: no BSN."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from pgo_service.db.engine import transaction
from pgo_service.db.errors import describe_error, log_failure
from pgo_service.db.models import search_token

BSN = "999911120"


def test_a_database_error_is_described_without_the_values(
    db_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    # the index row of a Patient's BSN identifier, made to fail (no resource type)
    row = {
        "resource_type": None,
        "param": "identifier",
        "resource_id": "p1",
        "patient_id": "p1",
        "system": "http://fhir.nl/fhir/NamingSystem/bsn",
        "code": BSN,
        "text": None,
    }
    with pytest.raises(IntegrityError) as raised, transaction(db_engine) as conn:
        conn.execute(insert(search_token).values(**row))
    described = describe_error(raised.value)
    assert "IntegrityError" in described or "NotNullViolation" in described
    assert "INSERT INTO search_token" in described
    assert BSN not in described
    if db_engine.dialect.name == "sqlite":  # PostgreSQL's own DETAIL still names the row
        assert BSN not in str(raised.value)  # bound parameters are hidden
    with caplog.at_level(logging.ERROR):
        log_failure(logging.getLogger("test"), "writing %s failed", "p1", exc=raised.value)
    assert "writing p1 failed" in caplog.text
    assert BSN not in caplog.text
