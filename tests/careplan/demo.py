"""The demo client loaded through the API, with its references looked up by meaning."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pgo_service.careplan import codes
from pgo_service.careplan.demo import demo_bundle
from tests.support.fhirclient import FhirClient


@dataclass
class Demo:
    refs: dict[str, str] = field(default_factory=dict)  # key -> Type/id
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # Type/id -> resource

    @property
    def patient(self) -> str:
        return self.refs["patient"]

    @property
    def patient_id(self) -> str:
        return self.patient.split("/")[1]

    def of_type(self, resource_type: str) -> list[str]:
        return [r for r in self.resources if r.startswith(f"{resource_type}/")]


def _key(resource: dict[str, Any]) -> str | None:
    kind = resource["resourceType"]
    if kind == "Patient":
        return "patient"
    if kind == "PractitionerRole":
        return "role:" + resource["code"][0]["text"]
    if kind == "RelatedPerson":
        return "related:" + resource["name"][0]["given"][0]
    if kind == "CareTeam":
        return "network"
    if kind == "CarePlan" and codes.has_code(
        resource["category"], codes.CATEGORY_SYSTEM, codes.ZORGLEEFPLAN
    ):
        return "plan"
    if kind == "Goal":
        return "goal:" + codes.domains_of(resource["category"])[0]
    return None


def load_demo(client: FhirClient, today: date | None = None) -> Demo:
    bundle = demo_bundle(today or date.today())
    response = client.post("", bundle)
    assert response.status_code == 200, (response.status_code, response.text)
    demo = Demo()
    for request_entry, result in zip(bundle["entry"], response.json()["entry"], strict=True):
        reference = result["response"]["location"].split("/_history")[0]
        demo.resources[reference] = result["resource"]
        key = _key(request_entry["resource"])
        if key:
            demo.refs[key] = reference
    return demo
