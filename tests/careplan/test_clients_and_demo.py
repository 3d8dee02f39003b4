"""The plan through a plain FHIR client, and the demo command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fhirpy import SyncFHIRClient

from pgo_service.careplan import codes
from tests.support.fhirclient import FhirClient

from .demo import load_demo


def test_zorgleefplan_through_fhirpy(live_server: str) -> None:
    import httpx

    with httpx.Client(base_url=live_server, timeout=60) as http:
        demo = load_demo(FhirClient(http))
    client = SyncFHIRClient(f"{live_server}/fhir")
    view = client.execute(f"{demo.patient}/$zorgleefplan", method="get")
    assert view["resourceType"] == "Bundle"
    plans = [e["resource"] for e in view["entry"] if e["resource"]["resourceType"] == "CarePlan"]
    assert len(plans) == 9
    agreements = (
        client.resources("CarePlan")
        .search(category=f"{codes.CATEGORY_SYSTEM}|{codes.AGREEMENT}", subject=demo.patient)
        .fetch_all()
    )
    assert len(agreements) == 8
    outcome = client.execute(
        f"{demo.patient}/$klacht",
        method="post",
        data={
            "resourceType": "Parameters",
            "parameter": [{"name": "text", "valueString": "Te weinig tijd bij het douchen."}],
        },
    )
    assert any(p["name"] == "handling" for p in outcome["parameter"])


def test_legal_representative_is_recorded_with_its_own_role(client: FhirClient) -> None:
    demo = load_demo(client)
    team = demo.resources[demo.refs["network"]]
    henk_as_mentor = {
        "role": [codes.role("15")],
        "member": {"reference": demo.refs["related:Henk"]},
        "period": {"start": "2024-01-01"},
    }
    assert (
        client.put(
            demo.refs["network"], {**team, "participant": [*team["participant"], henk_as_mentor]}
        ).status_code
        == 200
    )
    view = client.get(f"{demo.patient}/$zorgleefplan").json()
    names = [
        (p["name"], p.get("valueReference")) for p in view["entry"][0]["resource"]["parameter"]
    ]
    assert ("wettelijk-vertegenwoordiger", {"reference": demo.refs["related:Henk"]}) in names
    mentors = client.get("CareTeam", params={"network-role": f"{codes.ZIB_ROLE_SYSTEM}|15"}).json()
    assert mentors["total"] == 1


def test_demo_command_loads_once_and_says_how_to_read_it(tmp_path: Path) -> None:
    env = {**os.environ, "PGO_DATA_DIR": str(tmp_path), "PGO_SECRET_KEY": "demo-test"}
    env.pop("PGO_DATABASE_URL", None)
    command = [sys.executable, "-m", "pgo_service.cli", "demo"]
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert any(line.startswith("Patient/") for line in lines)
    assert sum(line.startswith("CarePlan/") for line in lines) == 9
    assert not any(line.startswith("Consent/") for line in lines)
    assert "$zorgleefplan" in lines[-1]
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert second.returncode == 0
    assert "already loaded" in second.stdout
