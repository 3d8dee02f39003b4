"""Deterministic benchmark data: Patients and CarePlans, and request bodies.

Only the standard library is used here so that the peer's virtual environment can
share the generator's output (NDJSON files) without importing the service.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

GENERATOR_VERSION = "4"

CAREPLANS_PER_PATIENT = 10
MIN_PATIENTS = 100

SNOMED = "http://snomed.info/sct"
BSN = "http://fhir.nl/fhir/NamingSystem/bsn"
PLAN_IDS = "urn:oid:2.16.840.1.113883.2.4.3.11.999.77.1"

CATEGORIES: tuple[tuple[str, str], ...] = (
    ("734163000", "Care plan"),
    ("736271009", "Outpatient care plan"),
    ("736353004", "Inpatient care plan"),
    ("735985000", "Diabetes self management plan"),
    ("718347000", "Mental health care plan"),
    ("736376001", "Infectious disease care plan"),
    ("773130005", "Nursing care plan"),
    ("736366004", "Advance care plan"),
)
# status and its weight; about 40 % of the plans are active
STATUSES: tuple[tuple[str, int], ...] = (
    ("active", 40),
    ("completed", 30),
    ("draft", 10),
    ("on-hold", 10),
    ("revoked", 10),
)
# the token search of the benchmark: active plans of one category (about 5 % of all)
SEARCH_CATEGORY = CATEGORIES[3]
SEARCH_STATUS = "active"

FAMILIES = ("Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "Mulder")
GIVEN = ("Anna", "Maria", "Johannes", "Pieter", "Sanne", "Fatima", "Mohamed", "Lotte", "Daan")
CITIES = ("Utrecht", "Amsterdam", "Zwolle", "Groningen", "Eindhoven", "Tilburg", "Leiden")
ACTIVITIES = (
    ("229065009", "Exercise therapy"),
    ("386053000", "Evaluation procedure"),
    ("409073007", "Education"),
    ("710081004", "Smoking cessation therapy"),
    ("385949008", "Dietary regime management"),
)


def patient_count(careplans: int) -> int:
    return max(MIN_PATIENTS, careplans // CAREPLANS_PER_PATIENT)


def patient_id(index: int) -> str:
    return f"p-{index:06d}"


def careplan_id(index: int) -> str:
    return f"cp-{index:07d}"


def bsn(rng: random.Random) -> str:
    """A BSN that passes the eleven test (9*d1 + 8*d2 + ... + 2*d8 - d9 divisible by 11)."""
    while True:
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(7)]
        check = sum(weight * digit for weight, digit in zip(range(9, 1, -1), digits, strict=True))
        last = check % 11
        if last < 10:
            return "".join(str(digit) for digit in [*digits, last])


def patient(rng: random.Random, index: int | None) -> dict[str, Any]:
    """A realistic Dutch Patient; without ``id`` when ``index`` is None (a create body)."""
    family = rng.choice(FAMILIES)
    given = [rng.choice(GIVEN), rng.choice(GIVEN)]
    gender = rng.choice(("female", "male"))
    year = rng.randint(1930, 2010)
    body: dict[str, Any] = {"resourceType": "Patient"}
    if index is not None:
        body["id"] = patient_id(index)
    body.update(
        {
            "identifier": [{"system": BSN, "value": bsn(rng)}],
            "active": True,
            "name": [{"use": "official", "family": family, "given": given}],
            "telecom": [
                {"system": "phone", "value": f"06-{rng.randint(10000000, 99999999)}"},
                {"system": "email", "value": f"{given[0].lower()}@example.nl"},
            ],
            "gender": gender,
            "birthDate": f"{year:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "address": [
                {
                    "use": "home",
                    "line": [f"Dorpsstraat {rng.randint(1, 200)}"],
                    "city": rng.choice(CITIES),
                    "postalCode": f"{rng.randint(1000, 9999)} AB",
                    "country": "NL",
                }
            ],
            "communication": [
                {
                    "language": {
                        "coding": [{"system": "urn:ietf:bcp:47", "code": "nl", "display": "Dutch"}]
                    },
                    "preferred": True,
                }
            ],
        }
    )
    return body


def _weighted_status(rng: random.Random) -> str:
    roll = rng.randrange(sum(weight for _, weight in STATUSES))
    for status, weight in STATUSES:
        if roll < weight:
            return status
        roll -= weight
    return STATUSES[0][0]


def careplan(rng: random.Random, index: int | None, subject: str) -> dict[str, Any]:
    """A realistic CarePlan for ``subject`` (a reference string)."""
    code, display = rng.choice(CATEGORIES)
    activity_code, activity_display = rng.choice(ACTIVITIES)
    year = rng.randint(2018, 2025)
    month = rng.randint(1, 12)
    body: dict[str, Any] = {"resourceType": "CarePlan"}
    if index is not None:
        body["id"] = careplan_id(index)
    body.update(
        {
            "identifier": [{"system": PLAN_IDS, "value": f"zlp-{rng.randint(1, 10**9)}"}],
            "status": _weighted_status(rng),
            "intent": "plan",
            "category": [{"coding": [{"system": SNOMED, "code": code, "display": display}]}],
            "title": f"{display} {year}",
            "description": "Afspraken over zorg en ondersteuning in het dagelijks leven.",
            "subject": {"reference": subject},
            "period": {
                "start": f"{year:04d}-{month:02d}-01",
                "end": f"{year + 1:04d}-{month:02d}-01",
            },
            "created": f"{year:04d}-{month:02d}-01T09:30:00+01:00",
            "author": {"display": "Huisartsenpraktijk De Linde"},
            "activity": [
                {
                    "detail": {
                        "kind": "ServiceRequest",
                        "code": {
                            "coding": [
                                {
                                    "system": SNOMED,
                                    "code": activity_code,
                                    "display": activity_display,
                                }
                            ]
                        },
                        "status": "in-progress",
                        "description": f"{activity_display}, wekelijks",
                    }
                }
            ],
            "note": [{"text": "Besproken met de cliënt en de mantelzorger."}],
        }
    )
    return body


def generate(careplans: int, seed: int = 20241124) -> Iterator[dict[str, Any]]:
    """All Patients first, then ``careplans`` CarePlans spread over them."""
    rng = random.Random(seed)
    patients = patient_count(careplans)
    for index in range(patients):
        yield patient(rng, index)
    for index in range(careplans):
        yield careplan(rng, index, f"Patient/{patient_id(index % patients)}")


def write_ndjson(path: Path, careplans: int) -> None:
    tmp = path.with_suffix(".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("w", encoding="utf-8") as out:
        for resource in generate(careplans):
            out.write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
    tmp.replace(path)


def create_body(seed: int = 7) -> dict[str, Any]:
    """The Patient posted by the create scenario."""
    return patient(random.Random(seed), None)


def transaction_bundle(rng: random.Random, entries: int) -> dict[str, Any]:
    """A transaction of ``entries`` creates: Patients and their CarePlans, linked by urn:uuid."""
    pairs = entries // 2
    bundle_entries: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []
    for _ in range(pairs):
        full_url = f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        bundle_entries.append(
            {
                "fullUrl": full_url,
                "resource": patient(rng, None),
                "request": {"method": "POST", "url": "Patient"},
            }
        )
        plans.append(
            {
                "fullUrl": f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}",
                "resource": careplan(rng, None, full_url),
                "request": {"method": "POST", "url": "CarePlan"},
            }
        )
    bundle_entries.extend(plans)
    return {"resourceType": "Bundle", "type": "transaction", "entry": bundle_entries}


def token_query() -> str:
    code, _ = SEARCH_CATEGORY
    return f"status={SEARCH_STATUS}&category={SNOMED}|{code}&_count=50"


def reference_query(index: int) -> str:
    return f"subject=Patient/{patient_id(index)}&_count=50"
