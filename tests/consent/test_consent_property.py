"""Random worlds: what the server lets each requester see and change is exactly what
the reference rules of docs/consent.md allow.

Each example loads a fresh world (ids prefixed per example) with the system token,
then asks as every practitioner, role, related person and client: reads, searches
(ids, counts, ``_include``/``_revinclude``, a chain, ``_has``) and an unchanged PUT.
All disagreements of an example are reported together with the world.
"""

from __future__ import annotations

import itertools
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from sqlalchemy import Engine

from tests.support.fhirclient import FhirClient
from tests.support.tokens import actor_token

from .reference import (
    ACCESS,
    CORRECT,
    Requester,
    World,
    decide,
    explain,
    find,
    of_type,
)
from .worlds import CLINICAL_TYPES, OBSERVATION_CODE_SYSTEM, Draft, drafts, materialize

EXAMPLES = int(os.environ.get("PGO_CONSENT_EXAMPLES", "5"))
PHASES = (
    tuple(Phase)
    if os.environ.get("PGO_CONSENT_SHRINK")
    else (Phase.explicit, Phase.reuse, Phase.generate)
)
SEARCHED_TYPES = (*CLINICAL_TYPES, "Patient")
_examples = itertools.count()
# How denied reads were answered, over the whole run (403 or 404 both mean deny).
DENIED_READS: Counter[int] = Counter()


@dataclass
class Probe:
    """One example: its world, and every disagreement with the reference."""

    world: World
    prefix: str
    problems: list[str] = field(default_factory=list)

    def mine(self, ids: set[str]) -> set[str]:
        return {i for i in ids if i.startswith(self.prefix)}

    def ids_of(self, resource_type: str) -> list[str]:
        return [str(r["id"]) for r in of_type(self.world, resource_type)]

    def permitted(self, requester: Requester, action: str, resource_type: str) -> set[str]:
        now = datetime.now(UTC)
        return {
            i
            for i in self.ids_of(resource_type)
            if decide(self.world, requester, action, f"{resource_type}/{i}", now)
        }

    def why(self, requester: Requester, action: str, reference: str) -> str:
        return explain(self.world, requester, action, reference, datetime.now(UTC))[1]

    def report(self) -> str:
        shown = "\n".join(f"- {p}" for p in self.problems[:25])
        more = len(self.problems) - 25
        if more > 0:
            shown += f"\n- ... and {more} more"
        world = json.dumps(self.world, indent=None, sort_keys=True)
        denied = ", ".join(f"{status}: {n}" for status, n in sorted(DENIED_READS.items()))
        return (
            f"{len(self.problems)} disagreement(s) with the reference:\n{shown}\n"
            f"denied reads so far were answered with ({denied or 'none yet'})\n"
            f"world: {world}"
        )


def _entries(bundle: dict[str, Any], mode: str) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle.get("entry") or []
        if (e.get("search") or {}).get("mode", "match") == mode
    ]


def _ids(resources: list[dict[str, Any]], resource_type: str) -> set[str]:
    return {str(r["id"]) for r in resources if r.get("resourceType") == resource_type}


def _load(client: FhirClient, world: World) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": resource,
                "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
            }
            for resource in world
        ],
    }
    response = client.post("", bundle)
    assert response.status_code == 200, (response.status_code, response.text, world)


def _requesters(world: World) -> list[Requester]:
    requesters = [
        Requester(f"{r['resourceType']}/{r['id']}")
        for r in world
        if r["resourceType"] in ("Practitioner", "PractitionerRole", "RelatedPerson")
    ]
    requesters += [
        Requester(f"Patient/{r['id']}", patient=str(r["id"])) for r in of_type(world, "Patient")
    ]
    return requesters


def _as(client: FhirClient, token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _check_reads(probe: Probe, client: FhirClient, who: Requester, headers: dict[str, str]) -> None:
    now = datetime.now(UTC)
    for resource in probe.world:
        kind = resource["resourceType"]
        if kind not in SEARCHED_TYPES:
            continue
        reference = f"{kind}/{resource['id']}"
        expected = decide(probe.world, who, ACCESS, reference, now)
        response = client.get(reference, headers=headers)
        if response.status_code in (403, 404):
            DENIED_READS[response.status_code] += 1
        allowed = response.status_code == 200
        if allowed != expected or response.status_code not in (200, 403, 404):
            probe.problems.append(
                f"{who.actor} GET {reference}: {response.status_code}, reference "
                f"{probe.why(who, ACCESS, reference)}"
            )


def _search(
    probe: Probe, client: FhirClient, who: Requester, headers: dict[str, str], query: str
) -> dict[str, Any] | None:
    response = client.get(query, headers=headers)
    if response.status_code != 200:
        probe.problems.append(f"{who.actor} GET {query}: {response.status_code} {response.text}")
        return None
    body: dict[str, Any] = response.json()
    return body


def _check_searches(
    probe: Probe, client: FhirClient, who: Requester, headers: dict[str, str]
) -> None:
    for kind in SEARCHED_TYPES:
        expected = probe.permitted(who, ACCESS, kind)
        bundle = _search(probe, client, who, headers, f"{kind}?_count=1000")
        if bundle is None:
            continue
        matches = _entries(bundle, "match")
        found = probe.mine(_ids(matches, kind))
        if found != expected:
            probe.problems.append(
                f"{who.actor} GET {kind}?_count=1000: extra {sorted(found - expected)}, "
                f"missing {sorted(expected - found)}; "
                + "; ".join(
                    f"{i}: {probe.why(who, ACCESS, f'{kind}/{i}')}"
                    for i in sorted(found ^ expected)
                )
            )
        if "total" in bundle and bundle["total"] != len(matches):
            probe.problems.append(
                f"{who.actor} GET {kind}?_count=1000: total {bundle['total']} but "
                f"{len(matches)} matches"
            )
        everything = _search(probe, client, who, headers, f"{kind}?_summary=count")
        if everything is not None and everything.get("total") != len(matches):
            probe.problems.append(
                f"{who.actor} GET {kind}?_summary=count: total {everything.get('total')}, "
                f"the search returned {len(matches)}"
            )
        ids = ",".join(probe.ids_of(kind))
        counted = _search(probe, client, who, headers, f"{kind}?_id={ids}&_summary=count")
        if counted is not None and counted.get("total") != len(expected):
            probe.problems.append(
                f"{who.actor} GET {kind}?_id=<this world's>&_summary=count: total "
                f"{counted.get('total')}, reference permits {len(expected)}"
            )


def _check_includes(
    probe: Probe, client: FhirClient, who: Requester, headers: dict[str, str]
) -> None:
    plans = probe.permitted(who, ACCESS, "CarePlan")
    goals = probe.permitted(who, ACCESS, "Goal")
    tasks = probe.permitted(who, ACCESS, "Task")
    ids = ",".join(probe.ids_of("CarePlan"))
    listed = {
        ref["reference"].split("/", 1)[1]
        for plan in of_type(probe.world, "CarePlan")
        if plan["id"] in plans
        for ref in plan.get("goal") or []
    }
    based = {
        str(task["id"])
        for task in of_type(probe.world, "Task")
        if any(r["reference"].split("/", 1)[1] in plans for r in task.get("basedOn") or [])
    }
    cases = [
        (f"CarePlan?_id={ids}&_include=CarePlan:goal", "Goal", goals & listed),
        (f"CarePlan?_id={ids}&_revinclude=Task:based-on", "Task", tasks & based),
    ]
    for query, kind, expected in cases:
        response = client.get(query, headers=headers)
        if who.patient is not None and response.status_code == 403:
            continue  # a patient-context token may not use _include at all: nothing shown
        if response.status_code != 200:
            probe.problems.append(f"{who.actor} GET {query}: {response.status_code}")
            continue
        bundle = response.json()
        found_plans = probe.mine(_ids(_entries(bundle, "match"), "CarePlan"))
        included = probe.mine(_ids(_entries(bundle, "include"), kind))
        if found_plans != plans:
            probe.problems.append(
                f"{who.actor} GET {query}: CarePlans {sorted(found_plans)}, "
                f"reference permits {sorted(plans)}"
            )
        if included - goals - tasks:
            probe.problems.append(
                f"{who.actor} GET {query}: includes hidden {sorted(included - goals - tasks)}; "
                + "; ".join(
                    f"{i}: {probe.why(who, ACCESS, f'{kind}/{i}')}"
                    for i in sorted(included - goals - tasks)
                )
            )
        elif included != expected:
            probe.problems.append(
                f"{who.actor} GET {query}: included {kind} {sorted(included)}, "
                f"expected the permitted ones the permitted plans reach: {sorted(expected)}"
            )


def _check_chain_and_has(
    probe: Probe, client: FhirClient, who: Requester, headers: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    patients = probe.permitted(who, ACCESS, "Patient")
    observations = probe.permitted(who, ACCESS, "Observation")
    codes = sorted(
        {
            str(o["code"]["coding"][0]["code"])
            for o in of_type(probe.world, "Observation")
            if str(o["code"]["coding"][0]["code"])
        }
    )
    for code in codes:
        token = f"{OBSERVATION_CODE_SYSTEM}|{code}"
        query = f"Patient?_has:Observation:subject:code={token}&_count=1000"
        expected = {
            str(o["subject"]["reference"].split("/", 1)[1])
            for o in of_type(probe.world, "Observation")
            if o["id"] in observations and o["code"]["coding"][0]["code"] == code
        } & patients
        bundle = _search(probe, client, who, headers, query)
        if bundle is None:
            continue
        found = probe.mine(_ids(_entries(bundle, "match"), "Patient"))
        if found != expected:
            probe.problems.append(
                f"{who.actor} GET {query}: Patients {sorted(found)}, expected those "
                f"permitted with a permitted Observation of that code: {sorted(expected)}"
            )
    tasks = probe.permitted(who, ACCESS, "Task")
    plans = probe.permitted(who, ACCESS, "CarePlan")
    for status in ("active", "draft"):
        query = f"Task?based-on:CarePlan.status={status}&_count=1000"
        expected = set()
        for task in of_type(probe.world, "Task"):
            if task["id"] not in tasks:
                continue
            for based_on in task.get("basedOn") or []:
                plan = find(probe.world, based_on["reference"])
                if plan is not None and plan["id"] in plans and plan["status"] == status:
                    expected.add(str(task["id"]))
        bundle = _search(probe, client, who, headers, query)
        if bundle is None:
            continue
        found = probe.mine(_ids(_entries(bundle, "match"), "Task"))
        if found != expected:
            probe.problems.append(
                f"{who.actor} GET {query}: Tasks {sorted(found)}, expected permitted Tasks "
                f"based on a permitted {status} plan: {sorted(expected)} "
                f"(at {now.isoformat()})"
            )


def _check_updates(
    probe: Probe,
    client: FhirClient,
    who: Requester,
    headers: dict[str, str],
) -> None:
    system = client  # without headers of its own, the fixture's client sends the system token
    for resource in probe.world:
        kind = resource["resourceType"]
        if kind not in CLINICAL_TYPES:
            continue
        reference = f"{kind}/{resource['id']}"
        expected = decide(probe.world, who, CORRECT, reference, datetime.now(UTC))
        before = system.get(reference).json()
        response = client.put(reference, resource, headers=headers)
        after = system.get(reference).json()
        allowed = response.status_code in (200, 201)
        if allowed != expected or response.status_code not in (200, 201, 403, 404):
            probe.problems.append(
                f"{who.actor} PUT {reference} (unchanged): {response.status_code}, reference "
                f"{probe.why(who, CORRECT, reference)}"
            )
        if not allowed and after.get("meta") != before.get("meta"):
            probe.problems.append(
                f"{who.actor} PUT {reference} was refused ({response.status_code}) "
                f"but the resource changed: {before.get('meta')} -> {after.get('meta')}"
            )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=PHASES,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(draft=drafts())
def test_server_agrees_with_the_reference(
    client: FhirClient, db_engine: Engine, draft: Draft
) -> None:
    prefix = f"x{next(_examples)}-"
    world = materialize(draft, prefix, datetime.now(UTC))
    _load(client, world)
    probe = Probe(world, prefix)
    for who in _requesters(world):
        assert who.actor is not None
        headers = _as(client, actor_token(db_engine, who.actor, patient_id=who.patient))
        _check_reads(probe, client, who, headers)
        _check_searches(probe, client, who, headers)
        _check_includes(probe, client, who, headers)
        _check_chain_and_has(probe, client, who, headers)
        _check_updates(probe, client, who, headers)
    if probe.problems:
        pytest.fail(probe.report(), pytrace=False)
