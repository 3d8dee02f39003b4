"""STU3 (zib2017) CarePlan, Goal, CareTeam and Task become valid R4 without losing the
agreement's text, performer, period or status."""

from __future__ import annotations

import pytest
from tests.sync.stu3_examples import care_team, nursing_intervention, task, treatment_objective

from pgo_service.fhir.validation import check_resource
from pgo_service.sync.convert_stu3 import (
    DETAIL_CATEGORY_URL,
    ON_BEHALF_OF_URL,
    Stu3Error,
    to_r4,
)


def test_nursing_intervention_keeps_text_performer_period_and_status() -> None:
    source = nursing_intervention()
    r4 = check_resource(to_r4(source), "CarePlan")
    assert "meta" not in r4  # the zib2017 profile does not describe the R4 form
    assert r4["text"] == source["text"]
    assert r4["description"] == source["description"]
    assert r4["period"] == {"start": "2026-11-01", "end": "2027-02-01"}
    assert r4["status"] == "on-hold"  # STU3 suspended
    assert r4["instantiatesCanonical"] == ["PlanDefinition/wondzorg-protocol"]
    assert r4["supportingInfo"] == [source["context"]]  # an EpisodeOfCare, not an Encounter
    assert r4["author"] == source["author"][0]
    assert r4["contributor"] == [source["author"][1]]
    detail = r4["activity"][0]["detail"]
    assert detail["performer"] == source["activity"][0]["detail"]["performer"]
    assert detail["status"] == "in-progress"
    assert detail["statusReason"] == {"text": "volgens plan"}
    assert detail["doNotPerform"] is False
    assert detail["instantiatesCanonical"] == ["ActivityDefinition/wond"]
    assert detail["description"] == "Wond reinigen, nieuw verband aanbrengen"
    assert detail["extension"][0]["url"] == DETAIL_CATEGORY_URL  # it had a code already
    assert r4["activity"][0]["progress"] == source["activity"][0]["progress"]


@pytest.mark.parametrize(
    ("stu3", "r4"), [("cancelled", "revoked"), ("active", "active"), ("completed", "completed")]
)
def test_careplan_statuses(stu3: str, r4: str) -> None:
    assert to_r4(nursing_intervention(status=stu3))["status"] == r4


@pytest.mark.parametrize(
    ("status", "lifecycle", "achievement"),
    [
        ("in-progress", "active", "in-progress"),
        ("achieved", "completed", "achieved"),
        ("behind-target", "active", "worsening"),
        ("proposed", "proposed", None),
        ("cancelled", "cancelled", None),
    ],
)
def test_goal_status_splits_into_lifecycle_and_achievement(
    status: str, lifecycle: str, achievement: str | None
) -> None:
    r4 = check_resource(to_r4(treatment_objective(status)), "Goal")
    assert r4["lifecycleStatus"] == lifecycle
    codes = [c["code"] for c in (r4.get("achievementStatus") or {}).get("coding", [])]
    assert codes == ([achievement] if achievement else [])
    assert r4["target"] == [treatment_objective()["target"]]
    assert r4["description"] == {"text": "Wond binnen drie maanden genezen"}


def test_care_team_roles_become_lists() -> None:
    r4 = check_resource(to_r4(care_team()), "CareTeam")
    participant = r4["participant"][0]
    assert participant["role"] == [{"text": "eerstverantwoordelijk verpleegkundige"}]
    assert participant["member"]["display"] == "J. Bakker"
    assert participant["period"] == {"start": "2026-11-01"}
    assert "context" not in r4 and "Zorgtraject" in r4["note"][0]["text"]


def test_task_requester_definition_and_reason() -> None:
    r4 = check_resource(to_r4(task()), "Task")
    assert r4["requester"] == {"reference": "Practitioner/bglz-nurse"}
    assert r4["extension"] == [
        {"url": ON_BEHALF_OF_URL, "valueReference": {"reference": "Organization/bglz-org"}}
    ]
    assert r4["instantiatesUri"] == "http://example.org/protocols/verband"
    assert r4["encounter"] == {"reference": "Encounter/bezoek-3"}
    assert r4["reasonCode"] == {"text": "voorraad op"}


def test_r4_or_broken_input_is_refused() -> None:
    with pytest.raises(Stu3Error, match="not valid STU3 Goal"):
        to_r4({"resourceType": "Goal", "lifecycleStatus": "active", "description": {"text": "x"}})
    with pytest.raises(Stu3Error, match="not read by pull"):
        to_r4({"resourceType": "Observation"})
