"""A provider EHR pushes agreements into a client's plan through the FHIR API.

The EHR is a confidential client with a registered JWKS; an Organization names it by
client id, and its token (client_credentials with a signed assertion) acts as that
Organization. What it may write is what the client's Consent allows the organization.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import Engine

from pgo_service.auth.admin import ClientRegistration, register_client
from pgo_service.auth.client_auth import ASSERTION_TYPE
from pgo_service.auth.provider_systems import CLIENT_ID_SYSTEM
from pgo_service.db.engine import transaction
from tests.careplan.demo import Demo, load_demo
from tests.careplan.test_agreements import agreement
from tests.support.fhirclient import FhirClient

EHR = "ehr.thuiszorg.example"
AGREEMENTS = "https://ehr.thuiszorg.example/afspraak"
SCOPE = "user/CarePlan.cru user/Provenance.c"


@pytest.fixture
def ehr_key(db_engine: Engine) -> RSAKey:
    private = RSAKey.generate_key(2048, parameters={"kid": "thuiszorg-1"})
    with transaction(db_engine) as conn:
        register_client(
            conn,
            ClientRegistration(
                client_id=EHR,
                name="Thuiszorg Noord EHR",
                redirect_uris=(),
                scopes=SCOPE,
                jwks={"keys": [private.as_dict(private=False)]},
            ),
            datetime.now(UTC),
        )
    return private


def _token(http: TestClient, key: RSAKey) -> Any:
    now = int(datetime.now(UTC).timestamp())
    claims = {
        "iss": EHR,
        "sub": EHR,
        "aud": "http://testserver/oauth/token",
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 60,
    }
    assertion = jwt.encode({"alg": "RS256", "kid": "thuiszorg-1"}, claims, key)
    data = {
        "grant_type": "client_credentials",
        "scope": SCOPE,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    return http.post("/oauth/token", data=data)


def _consent(demo: Demo, *actions: str) -> dict[str, Any]:
    actor = [{"role": {"text": "zorgaanbieder"}, "reference": {"reference": "Organization/tz"}}]
    return {
        "resourceType": "Consent",
        "id": "tz",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": demo.patient},
        "provision": {
            "type": "deny",
            "provision": [
                {
                    "type": "permit",
                    "actor": actor,
                    "action": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/consentaction",
                                    "code": a,
                                }
                            ]
                        }
                        for a in actions
                    ],
                    "class": [{"code": "CarePlan"}, {"code": "Provenance"}],
                }
            ],
        },
    }


def _push(demo: Demo, value: str, description: str) -> dict[str, Any]:
    nurse = demo.refs["role:Wijkverpleegkundige"]
    body = agreement(demo, nurse, identifier=[{"system": AGREEMENTS, "value": value}])
    body["description"] = description
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:afspraak",
                "resource": body,
                "request": {"method": "PUT", "url": f"CarePlan?identifier={AGREEMENTS}|{value}"},
            }
        ],
    }


def test_a_provider_pushes_agreements_idempotently_and_only_with_consent(
    client: FhirClient, db_engine: Engine, ehr_key: RSAKey
) -> None:
    http = client.http
    assert _token(http, ehr_key).status_code == 400  # no Organization names this system yet
    organization = {
        "resourceType": "Organization",
        "id": "tz",
        "name": "Thuiszorg Noord",
        "identifier": [{"system": CLIENT_ID_SYSTEM, "value": EHR}],
    }
    assert client.put("Organization/tz", organization).status_code in (200, 201)
    issued = _token(http, ehr_key)
    assert issued.status_code == 200, issued.text
    headers = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    demo = load_demo(client)

    refused = http.post("/fhir", json=_push(demo, "77", "Douchen op maandag"), headers=headers)
    assert refused.status_code == 403  # the client has not allowed it
    assert refused.json()["resourceType"] == "OperationOutcome"

    assert client.put("Consent/tz", _consent(demo, "access", "correct")).status_code == 201
    first = http.post("/fhir", json=_push(demo, "77", "Douchen op maandag"), headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["entry"][0]["response"]["status"].startswith("201")
    again = http.post("/fhir", json=_push(demo, "77", "Douchen op maandag"), headers=headers)
    assert again.json()["entry"][0]["response"]["status"].startswith("200")
    found = client.get("CarePlan", params={"identifier": f"{AGREEMENTS}|77"}).json()
    assert found["total"] == 1
    stored = found["entry"][0]["resource"]
    assert stored["meta"]["versionId"] == "1"  # the same push twice changes nothing

    changed = http.post("/fhir", json=_push(demo, "77", "Douchen op dinsdag"), headers=headers)
    assert changed.json()["entry"][0]["response"]["etag"] == 'W/"2"'
    stale = http.put(
        f"/fhir/CarePlan/{stored['id']}",
        json={**stored, "description": "Douchen op woensdag"},
        headers={**headers, "If-Match": 'W/"1"'},
    )
    assert stale.status_code == 412
    invalid = http.post(
        "/fhir/CarePlan",
        json={"resourceType": "CarePlan", "status": "whenever"},
        headers=headers,
    )
    assert invalid.status_code == 400
    assert invalid.json()["resourceType"] == "OperationOutcome"

    assert client.put("Consent/tz", _consent(demo, "access")).status_code == 200
    revoked = http.post("/fhir", json=_push(demo, "78", "Koken"), headers=headers)
    assert revoked.status_code == 403
    other_client = client.get("CarePlan", params={"identifier": f"{AGREEMENTS}|78"}).json()
    assert other_client["total"] == 0
