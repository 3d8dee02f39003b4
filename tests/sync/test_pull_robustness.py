"""What the pull does with the parts of a provider's record it cannot merge, and with
activities a provider's CarePlan drops: against the Medplum peer, nothing lost."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from pgo_service.db.engine import transaction
from pgo_service.db.sync_tables import sync_pull_cursor
from pgo_service.sync.jobs import DONE
from pgo_service.sync.quarantine import quarantined
from pgo_service.sync.registry import import_zal

from ..support.fhirclient import FhirClient
from .corrupting_proxy import CorruptingProxy
from .lists import zal
from .medplum import MedplumPeer
from .pulling import (
    BSN,
    PROVIDER,
    T0,
    client_with_plan,
    jobs,
    provider_agreement,
    pull,
    pulled,
    register,
    run_all,
    search,
    versions,
    worker,
)
from .test_sync_cli import _cli


@pytest.fixture
def registered(db_engine: Engine, medplum: MedplumPeer) -> Engine:
    register(db_engine, medplum)
    return db_engine


@pytest.fixture
def proxy(medplum: MedplumPeer) -> Iterator[CorruptingProxy]:
    with CorruptingProxy(medplum.url) as server:
        yield server


@pytest.fixture
def behind_proxy(db_engine: Engine, proxy: CorruptingProxy) -> Engine:
    """The provider's resource endpoint is the proxy in front of the peer."""
    listing = zal(1, {PROVIDER: [("48", AUTHORIZE, TOKEN, {"ZLP-FHIR": proxy.url})]})
    with transaction(db_engine) as conn:
        import_zal(conn, listing, T0, dev_mode=True)
    return db_engine


AUTHORIZE = "http://127.0.0.1:9/oauth/authorize"  # not called by a pull
TOKEN = "http://127.0.0.1:9/oauth/token"


def _tenant() -> str:
    return f"tenant-{uuid.uuid4()}"


def _status(engine: Engine) -> list[tuple[str, str, str, str]]:
    with transaction(engine, write=False) as conn:
        _total, rows = quarantined(conn)
    return sorted((r.provider_name, r.resource_type, r.remote_id, r.reason) for r in rows)


def test_a_page_merges_its_valid_resources_and_sets_the_invalid_ones_aside(
    client: FhirClient,
    behind_proxy: Engine,
    medplum: MedplumPeer,
    proxy: CorruptingProxy,
    database_url: str,
    tmp_path: Path,
) -> None:
    registered = behind_proxy
    anna, plan = client_with_plan(client)
    token = _tenant()
    good, bad_status, broken, refused, _later = medplum.seed(
        token,
        [
            provider_agreement("Douchen met hulp"),
            provider_agreement("Steunkousen"),
            provider_agreement("Medicatie uitzetten"),
            # valid FHIR, but an agreement is carried out by a person, not an organisation
            provider_agreement(
                "Boodschappen",
                activity=[
                    {
                        "detail": {
                            "status": "in-progress",
                            "description": "Boodschappen",
                            "performer": [{"reference": "Organization/ehr-org-1"}],
                        }
                    }
                ],
            ),
            provider_agreement("Wondverzorging"),
        ],
    )
    # The provider's EHR serves two of them corrupted: an unknown status, and an
    # activity that is not a list (with a BSN in a note, never to be shown).
    proxy.corruptions = {
        f"CarePlan/{bad_status['id']}": lambda r: r.update(status="misschien"),
        f"CarePlan/{broken['id']}": lambda r: r.update(
            activity={"detail": "geen lijst"}, note=[{"text": f"BSN {BSN}"}]
        ),
    }
    w = worker(registered, {anna: token}, page_size=100)
    pull(registered, anna)
    run_all(w)
    [job] = jobs(registered)
    assert job.status == DONE, job.last_error

    merged = {p["title"] for p in search(client, f"CarePlan?part-of=CarePlan/{plan}")}
    assert merged == {"Douchen met hulp", "Wondverzorging"}
    aside = _status(registered)
    assert [(p, t, i) for p, t, i, _ in aside] == sorted(
        (PROVIDER, "CarePlan", r["id"]) for r in (bad_status, broken, refused)
    )
    reasons = {i: reason for _, _, i, reason in aside}
    assert "status" in reasons[bad_status["id"]]
    assert "activity" in reasons[broken["id"]]
    assert "Organization" in reasons[refused["id"]]
    assert all(BSN not in r and "Steunkousen" not in r for r in reasons.values())
    with transaction(registered, write=False) as conn:
        assert conn.execute(select(sync_pull_cursor.c.cursor)).scalars().all()

    # The operator sees them, by provider, type, the provider's id and the reason.
    shown = _cli(database_url, tmp_path, "sync", "status")
    assert shown.returncode == 0, shown.stderr
    assert "provider resources set aside: 3" in shown.stdout
    assert f"{PROVIDER} CarePlan/{refused['id']}" in shown.stdout
    assert BSN not in shown.stdout and anna not in shown.stdout

    # Pulling again merges nothing again, and keeps the three aside.
    before = versions(registered)
    pull(registered, anna)
    run_all(w)
    assert versions(registered) == before
    assert len(_status(registered)) == 3

    # The EHR serves them valid again: they merge, and are no longer set aside.
    proxy.corruptions = {}
    medplum.seed(token, [bad_status, broken])
    pull(registered, anna)
    run_all(w)
    assert {i for _, _, i, _ in _status(registered)} == {refused["id"]}
    assert pulled(client, "CarePlan", broken["id"])["title"] == "Medicatie uitzetten"

    # A later valid version of the refused one clears it too.
    fixed = {**refused, "activity": good["activity"]}
    medplum.seed(token, [fixed])
    pull(registered, anna)
    run_all(w)
    w.close()
    assert _status(registered) == []
    assert pulled(client, "CarePlan", refused["id"])["title"] == "Boodschappen"
    assert all(j.status == DONE for j in jobs(registered))


def _activity(text: str) -> dict[str, Any]:
    return {
        "detail": {
            "status": "in-progress",
            "description": text,
            "performer": [{"reference": "Practitioner/ehr-nurse-7", "display": "M. de Wit"}],
        }
    }


def test_an_activity_the_provider_drops_ends_its_agreement(
    client: FhirClient, registered: Engine, medplum: MedplumPeer
) -> None:
    anna, plan = client_with_plan(client)
    token = _tenant()
    [remote] = medplum.seed(
        token,
        [
            provider_agreement(
                "Zorgplan thuis",
                activity=[_activity("Wassen"), _activity("Aankleden"), _activity("Ontbijt")],
            )
        ],
    )
    w = worker(registered, {anna: token})
    pull(registered, anna)
    run_all(w)
    ours = {
        a["activity"][0]["detail"]["description"]: a
        for a in search(client, f"CarePlan?part-of=CarePlan/{plan}")
    }
    assert set(ours) == {"Wassen", "Aankleden", "Ontbijt"}

    # The provider drops the first activity and changes the last.
    changed = {**remote, "activity": [_activity("Aankleden"), _activity("Ontbijt en lunch")]}
    medplum.seed(token, [changed])
    pull(registered, anna)
    run_all(w)
    after = {a["id"]: a for a in search(client, f"CarePlan?part-of=CarePlan/{plan}")}
    assert len(after) == 3  # nothing dropped here
    washing = after[ours["Wassen"]["id"]]
    assert washing["status"] == "revoked"
    assert washing["activity"][0]["detail"]["status"] == "cancelled"
    assert "niet meer in het zorgplan" in washing["note"][-1]["text"]
    dressing = after[ours["Aankleden"]["id"]]
    assert dressing["status"] == "active"
    assert dressing["activity"][0]["detail"]["description"] == "Aankleden"
    assert dressing["meta"]["versionId"] == ours["Aankleden"]["meta"]["versionId"]
    meals = [a for a in after.values() if a["status"] == "active" and a is not dressing]
    assert [m["activity"][0]["detail"]["description"] for m in meals] == ["Ontbijt en lunch"]

    # Pulling again changes nothing; dropping down to one activity ends one more.
    before = versions(registered)
    pull(registered, anna)
    run_all(w)
    assert versions(registered) == before
    medplum.seed(token, [{**remote, "activity": [_activity("Aankleden")]}])
    pull(registered, anna)
    run_all(w)
    w.close()
    active = [
        a["activity"][0]["detail"]["description"]
        for a in search(client, f"CarePlan?part-of=CarePlan/{plan}")
        if a["status"] == "active"
    ]
    assert active == ["Aankleden"]
    assert all(j.status == DONE for j in jobs(registered))
