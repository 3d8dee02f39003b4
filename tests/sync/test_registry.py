"""The provider registry on both databases: lists imported whole or not at all."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine, func, select

from pgo_service.db.engine import transaction
from pgo_service.db.sync_tables import sync_data_service, sync_resource_endpoint
from pgo_service.sync.hosts import EndpointError
from pgo_service.sync.registry import (
    RegistryError,
    allow_host,
    allowed_hosts,
    data_service,
    disallow_host,
    host_policy,
    import_whitelist,
    import_zal,
    providers,
    set_fhir_version,
)

from .lists import service, whitelist, zal

NOW = datetime(2026, 12, 1, 12, 0)

FIRST = zal(
    10,
    {
        "thuiszorg@medmij": [service("48"), service("61", roles=2)],
        "huisarts@medmij": [service("4", "https://huisarts.example")],
    },
)


def _import(engine: Engine, document: bytes) -> None:
    with transaction(engine) as conn:
        import_zal(conn, document, NOW)


def test_import_and_read_back(db_engine: Engine) -> None:
    with transaction(db_engine) as conn:
        result = import_zal(conn, FIRST, NOW)
    assert (result.sequence_number, result.providers, result.data_services) == (10, 2, 3)
    with transaction(db_engine, write=False) as conn:
        entries = providers(conn)
        ltc = data_service(conn, "thuiszorg@medmij", "61")
        plan = data_service(conn, "thuiszorg@medmij", "48")
    assert [p.name for p in entries] == ["huisarts@medmij", "thuiszorg@medmij"]
    assert ltc is not None and plan is not None
    assert ltc.fhir_version == "STU3" and not ltc.fhir_version_stated
    assert plan.fhir_version == "R4"
    assert ltc.token_endpoint == "https://ehr.zorgaanbieder.example/oauth/token"
    assert ltc.resource_endpoints == {
        "ZLP-1.0.0-FHIR": "https://ehr.zorgaanbieder.example/fhir",
        "ZLP-1.0.1-FHIR": "https://ehr.zorgaanbieder.example/fhir1",
    }


def test_older_or_equal_lists_are_refused(db_engine: Engine) -> None:
    _import(db_engine, FIRST)
    for number in (10, 9):
        stale = zal(number, {"oud@medmij": [service("48")]})
        with pytest.raises(RegistryError, match="not newer"):
            _import(db_engine, stale)
    with transaction(db_engine, write=False) as conn:
        assert [p.name for p in providers(conn)] == ["huisarts@medmij", "thuiszorg@medmij"]


def test_an_invalid_list_changes_nothing(db_engine: Engine) -> None:
    _import(db_engine, FIRST)
    broken = zal(11, {"nieuw@medmij": [service("48")], "kapot@medmij": [service("x")]})
    with pytest.raises(RegistryError):
        _import(db_engine, broken)
    with transaction(db_engine, write=False) as conn:
        assert [p.name for p in providers(conn)] == ["huisarts@medmij", "thuiszorg@medmij"]
        assert conn.execute(select(func.count()).select_from(sync_data_service)).scalar() == 3


def test_a_failure_late_in_the_import_rolls_everything_back(db_engine: Engine) -> None:
    """The transaction is the unit: an error after the first writes leaves no trace."""
    _import(db_engine, FIRST)
    with pytest.raises(RuntimeError), transaction(db_engine) as conn:
        import_zal(conn, zal(12, {"nieuw@medmij": [service("48")]}), NOW)
        raise RuntimeError("the process fails before commit")
    with transaction(db_engine, write=False) as conn:
        assert [p.name for p in providers(conn)] == ["huisarts@medmij", "thuiszorg@medmij"]
    _import(db_engine, zal(12, {"nieuw@medmij": [service("48")]}))


def test_a_newer_list_replaces_endpoints_and_delists(db_engine: Engine) -> None:
    _import(db_engine, FIRST)
    with transaction(db_engine) as conn:
        set_fhir_version(conn, "thuiszorg@medmij", "48", "STU3")
    newer = zal(11, {"thuiszorg@medmij": [service("48", "https://nieuw.zorgaanbieder.example")]})
    with transaction(db_engine) as conn:
        result = import_zal(conn, newer, NOW)
    assert result.delisted == 1
    with transaction(db_engine, write=False) as conn:
        entries = {p.name: p for p in providers(conn)}
        plan = data_service(conn, "thuiszorg@medmij", "48")
        assert data_service(conn, "thuiszorg@medmij", "61") is None
        assert data_service(conn, "huisarts@medmij", "4") is None
        assert conn.execute(select(func.count()).select_from(sync_resource_endpoint)).scalar() == 1
    assert not entries["huisarts@medmij"].listed
    assert entries["huisarts@medmij"].data_services == ()
    assert plan is not None
    assert plan.token_endpoint == "https://nieuw.zorgaanbieder.example/oauth/token"
    assert (plan.fhir_version, plan.fhir_version_stated) == ("STU3", True)
    # Listed again later: back, with the endpoints of that list.
    _import(db_engine, zal(12, {"huisarts@medmij": [service("4", "https://huisarts.example")]}))
    with transaction(db_engine, write=False) as conn:
        assert data_service(conn, "huisarts@medmij", "4") is not None


def test_fhir_version_statements(db_engine: Engine) -> None:
    _import(db_engine, FIRST)
    with transaction(db_engine) as conn:
        set_fhir_version(conn, "thuiszorg@medmij", "61", "R4")
        with pytest.raises(RegistryError, match="FHIR version"):
            set_fhir_version(conn, "thuiszorg@medmij", "61", "DSTU2")
        with pytest.raises(RegistryError, match="no data service"):
            set_fhir_version(conn, "thuiszorg@medmij", "99", "R4")
    with transaction(db_engine) as conn:
        ltc = data_service(conn, "thuiszorg@medmij", "61")
        assert ltc is not None and ltc.fhir_version == "R4"
        set_fhir_version(conn, "thuiszorg@medmij", "61", None)
        ltc = data_service(conn, "thuiszorg@medmij", "61")
        assert ltc is not None and ltc.fhir_version == "STU3"


def test_allowed_hosts(db_engine: Engine) -> None:
    with transaction(db_engine) as conn:
        import_whitelist(conn, whitelist(5, ["ehr.zorgaanbieder.example", "a.example"]), NOW)
        allow_host(conn, "Eigen.Example", NOW)
        allow_host(conn, "a.example", NOW)  # now the operator's: survives a new whitelist
        with pytest.raises(RegistryError, match="not a hostname"):
            allow_host(conn, "https://x.example/", NOW)
    with transaction(db_engine) as conn, pytest.raises(RegistryError, match="not newer"):
        import_whitelist(conn, whitelist(5, []), NOW)
    with transaction(db_engine) as conn:
        import_whitelist(conn, whitelist(6, ["b.example"]), NOW)
        assert allowed_hosts(conn) == {
            "a.example": "operator",
            "b.example": "whitelist",
            "eigen.example": "operator",
        }
        assert disallow_host(conn, "eigen.example")
        assert not disallow_host(conn, "eigen.example")
        policy = host_policy(conn, frozenset({"uit-instelling.example"}), dev_mode=False)
    policy.check("https://uit-instelling.example/fhir")
    policy.check("https://b.example/fhir")
    with pytest.raises(EndpointError):
        policy.check("https://eigen.example/fhir")
