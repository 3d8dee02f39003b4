from __future__ import annotations

import pytest

from pgo_service.fhir.compartment import compartment_params
from pgo_service.fhir.registry import RESOURCE_TYPES
from pgo_service.fhir.search.custom import custom_params
from pgo_service.fhir.search.params import (
    SearchParam,
    fhirpath_compiler,
    search_param,
    search_params,
    skipped_params,
    supported_types,
)

OUR_TYPES = tuple(sorted(RESOURCE_TYPES))
RESOURCE_LEVEL = {"_id", "_lastUpdated", "_tag", "_profile", "_security", "_source"}
INDEXED = {"string", "token", "reference", "date", "quantity", "uri", "number"}


def test_supported_types() -> None:
    assert supported_types() == OUR_TYPES


@pytest.mark.parametrize(
    ("resource_type", "codes"),
    [
        (
            "CarePlan",
            {"subject", "patient", "category", "status", "date", "activity-date", "performer"}
            | {"care-team", "intent", "goal", "activity-code"},
        ),
        ("Patient", {"birthdate", "name", "identifier", "family", "given", "telecom", "email"}),
        ("Goal", {"patient", "subject", "start-date", "lifecycle-status", "target-date"}),
        ("Task", {"patient", "subject", "owner", "status", "period", "focus"}),
        ("Consent", {"patient", "actor", "action", "purpose", "period", "data", "status"}),
        ("AuditEvent", {"agent", "entity", "patient", "date", "type", "outcome"}),
        ("Observation", {"code", "value-quantity", "date", "subject", "component-code"}),
    ],
)
def test_expected_params_are_registered(resource_type: str, codes: set[str]) -> None:
    assert codes | RESOURCE_LEVEL <= set(search_params(resource_type))


def test_care_plan_param_details() -> None:
    subject = search_param("CarePlan", "subject")
    assert subject == SearchParam(
        code="subject",
        type="reference",
        expression="CarePlan.subject",
        targets=("Group", "Patient"),
        url="http://hl7.org/fhir/SearchParameter/CarePlan-subject",
        description=subject.description if subject else "",
    )
    patient = search_param("CarePlan", "patient")
    assert patient is not None
    assert patient.expression == "CarePlan.subject.where(resolve() is Patient)"
    assert patient.targets == ("Patient",)
    assert patient.url == "http://hl7.org/fhir/SearchParameter/clinical-patient"
    date = search_param("CarePlan", "date")
    assert date is not None
    assert (date.type, date.expression) == ("date", "CarePlan.period")
    assert date.description


def test_shared_definitions_keep_only_this_types_expression() -> None:
    identifier = search_param("DocumentReference", "identifier")
    assert identifier is not None
    expected = "DocumentReference.masterIdentifier | DocumentReference.identifier"
    assert identifier.expression == expected
    code = search_param("Condition", "code")
    assert code is not None
    assert code.expression == "Condition.code"


def test_resource_level_params_are_rewritten_for_the_type() -> None:
    last_updated = search_param("Goal", "_lastUpdated")
    assert last_updated is not None
    assert (last_updated.type, last_updated.expression) == ("date", "Goal.meta.lastUpdated")
    tag = search_param("Patient", "_tag")
    assert tag is not None
    assert tag.expression == "Patient.meta.tag"


@pytest.mark.parametrize("code", ["_text", "_content", "_query", "_list", "_has"])
def test_params_without_expression_are_not_claimed(code: str) -> None:
    assert search_param("Patient", code) is None


def test_composites_are_left_out_and_reported() -> None:
    assert search_param("Observation", "code-value-quantity") is None
    assert "code-value-quantity" in skipped_params("Observation")
    assert "relationship" in skipped_params("DocumentReference")
    assert all(p.type != "composite" for t in OUR_TYPES for p in search_params(t).values())


def test_unknown_type_or_code() -> None:
    assert search_params("Encounter") == {}
    assert search_param("Encounter", "subject") is None
    assert search_param("Patient", "no-such-param") is None


@pytest.mark.parametrize("resource_type", OUR_TYPES)
def test_every_registered_param_resolves_and_compiles(resource_type: str) -> None:
    params = search_params(resource_type)
    assert set(params) >= RESOURCE_LEVEL
    computed = {c.param.code for c in custom_params(resource_type)}
    for code, param in params.items():
        if code in computed:
            continue
        assert param.code == code
        assert search_param(resource_type, code) is param
        assert param.type in INDEXED
        assert param.expression
        assert param.url.startswith("http://hl7.org/fhir/SearchParameter/")
        assert bool(param.targets) == (param.type == "reference")
        assert param.components == ()
        fhirpath_compiler().compile(param.expression, resource_type)


@pytest.mark.parametrize("resource_type", OUR_TYPES)
def test_only_composites_are_skipped(resource_type: str) -> None:
    reasons = set(skipped_params(resource_type).values())
    assert reasons <= {"composite parameters are not indexed"}


@pytest.mark.parametrize("resource_type", OUR_TYPES)
def test_compartment_params_are_registered_references(resource_type: str) -> None:
    for code in compartment_params(resource_type):
        param = search_param(resource_type, code)
        assert param is not None
        assert param.type == "reference"


def test_compartment_definition_order_is_kept() -> None:
    assert compartment_params("Communication") == ("subject", "sender", "recipient")
    assert compartment_params("Practitioner") == ()
