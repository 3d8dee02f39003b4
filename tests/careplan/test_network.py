"""The personal network: roles, periods, one regiebehandelaar, representatives, handover."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from pgo_service.careplan import codes
from tests.support.fhirclient import FhirClient

from .demo import load_demo


def _participant(role: str, member: str, start: str, end: str | None = None) -> dict[str, Any]:
    period = {"start": start, **({"end": end} if end else {})}
    return {"role": [codes.role(role)], "member": {"reference": member}, "period": period}


def test_one_regiebehandelaar_at_a_time(client: FhirClient) -> None:
    demo = load_demo(client)
    team = demo.resources[demo.refs["network"]]
    nurse = demo.refs["role:Wijkverpleegkundige"]
    overlapping = {
        **team,
        "participant": [
            *team["participant"],
            _participant(codes.REGIEBEHANDELAAR, nurse, "2020-01-01"),
        ],
    }
    response = client.put(demo.refs["network"], overlapping)
    assert response.status_code == 422
    assert "hoogstens één regiebehandelaar" in response.json()["issue"][0]["diagnostics"]


def test_member_kinds_for_roles(client: FhirClient) -> None:
    demo = load_demo(client)
    team = demo.resources[demo.refs["network"]]
    neighbour = demo.refs["related:Els"]
    nurse = demo.refs["role:Wijkverpleegkundige"]
    regie_neighbour = {
        **team,
        "participant": [_participant(codes.REGIEBEHANDELAAR, neighbour, "2030-01-01")],
    }
    assert client.put(demo.refs["network"], regie_neighbour).status_code == 422
    nurse_attorney = {
        **team,
        "participant": [
            *team["participant"],
            _participant(codes.GEVOLMACHTIGDE, nurse, "2020-01-01"),
        ],
    }
    assert client.put(demo.refs["network"], nurse_attorney).status_code == 422
    roleless = {**team, "participant": [{"member": {"reference": nurse}}]}
    assert client.put(demo.refs["network"], roleless).status_code == 422


def test_second_active_network_is_rejected(client: FhirClient) -> None:
    demo = load_demo(client)
    second = {
        "resourceType": "CareTeam",
        "status": "active",
        "category": [codes.category(codes.NETWORK)],
        "subject": {"reference": demo.patient},
    }
    assert client.post("CareTeam", second).status_code == 422


def test_handover_ends_previous_and_keeps_history(client: FhirClient) -> None:
    demo = load_demo(client)
    nurse = demo.refs["role:Wijkverpleegkundige"]
    gp = demo.refs["role:Huisarts"]
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "member", "valueReference": {"reference": nurse}},
            {"name": "start", "valueDateTime": "2030-01-01T09:00:00Z"},
        ],
    }
    response = client.post(f"{demo.patient}/$regiebehandelaar", params)
    assert response.status_code == 200, response.text
    team = response.json()
    regie = [
        p
        for p in team["participant"]
        if codes.has_code(p["role"], codes.ROLE_SYSTEM, codes.REGIEBEHANDELAAR)
    ]
    gp_part = next(p for p in regie if p["member"]["reference"] == gp)
    assert gp_part["period"]["end"] == "2030-01-01T09:00:00Z"
    nurse_part = next(p for p in regie if p["member"]["reference"] == nurse)
    assert nurse_part["period"] == {"start": "2030-01-01T09:00:00Z"}
    assert len(regie) == 3  # the surgeon's ended period, the GP's, the nurse's
    history = client.get(f"{demo.refs['network']}/_history").json()
    assert history["total"] == 2
    earlier = client.post(
        f"{demo.patient}/$regiebehandelaar",
        {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "member", "valueReference": {"reference": gp}},
                {"name": "start", "valueDateTime": "2029-01-01T09:00:00Z"},
            ],
        },
    )
    assert earlier.status_code == 422
    assert client.get(f"{demo.refs['network']}/_history").json()["total"] == 2


def test_handover_bad_input(client: FhirClient) -> None:
    demo = load_demo(client)
    assert (
        client.post(f"{demo.patient}/$regiebehandelaar", {"resourceType": "Parameters"}).status_code
        == 400
    )
    neighbour = demo.refs["related:Els"]
    to_neighbour = client.post(
        f"{demo.patient}/$regiebehandelaar",
        {
            "resourceType": "Parameters",
            "parameter": [{"name": "member", "valueReference": {"reference": neighbour}}],
        },
    )
    assert to_neighbour.status_code == 422
    assert client.get(f"{demo.refs['network']}/_history").json()["total"] == 1
    assert client.get(f"{demo.patient}/$regiebehandelaar").status_code == 405


def test_concurrent_handovers_leave_one_regiebehandelaar(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=60) as http:
        demo = load_demo(FhirClient(http))
    candidates = [
        demo.refs["role:Wijkverpleegkundige"],
        demo.refs["role:Fysiotherapeut"],
        demo.refs["role:Wmo-consulent"],
        demo.refs["role:Cliëntondersteuner"],
    ]

    def hand_over(member: str) -> int:
        with httpx.Client(base_url=f"{live_server}/fhir", timeout=60) as http:
            return http.post(
                f"{demo.patient}/$regiebehandelaar",
                json={
                    "resourceType": "Parameters",
                    "parameter": [{"name": "member", "valueReference": {"reference": member}}],
                },
                headers={"Content-Type": "application/fhir+json"},
            ).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(hand_over, candidates))
    assert statuses.count(200) >= 1
    with httpx.Client(base_url=f"{live_server}/fhir") as http:
        view = http.get(f"{demo.patient}/$zorgleefplan").json()
    regie = [
        p for p in view["entry"][0]["resource"]["parameter"] if p["name"] == "regiebehandelaar"
    ]
    assert len(regie) == 1
