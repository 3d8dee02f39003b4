from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from pgo_service.fhir.search.fhirpath import (
    FhirPathCompiler,
    FhirPathError,
    parse_reference,
    reference_type,
)
from pgo_service.fhir.search.params import fhirpath_compiler

ELEMENTS = {
    "Patient.name": ["HumanName"],
    "Patient.telecom": ["ContactPoint"],
    "Patient.deceased[x]": ["boolean", "dateTime"],
    "Patient.link": ["Patient.link"],
    "Patient.link.other": ["Reference"],
    "HumanName.given": ["string"],
    "HumanName.family": ["string"],
    "ContactPoint.system": ["code"],
    "ContactPoint.value": ["string"],
    "Reference.reference": ["string"],
}


def values(expression: str, resource: dict[str, Any], root: str = "Patient") -> list[Any]:
    return [
        value for value, _type in fhirpath_compiler().compile(expression, root).evaluate(resource)
    ]


def typed(expression: str, resource: dict[str, Any], root: str) -> list[tuple[Any, str]]:
    return fhirpath_compiler().compile(expression, root).evaluate(resource)


def test_paths_flatten_lists_in_document_order() -> None:
    patient = {"name": [{"given": ["A", "B"]}, {"given": ["C"]}, {"family": "D"}]}
    assert values("Patient.name.given", patient) == ["A", "B", "C"]


def test_missing_elements_and_null_list_items_are_skipped() -> None:
    assert values("Patient.name.given", {}) == []
    assert values("Patient.name.given", {"name": [{"given": [None, "X"]}]}) == ["X"]


def test_union_keeps_both_sides_without_duplicates() -> None:
    patient = {"name": [{"family": "F", "given": ["F"]}]}
    assert values("Patient.name.family | Patient.name.given", patient) == ["F"]
    both = {"name": [{"family": "F", "given": ["G"]}]}
    assert values("Patient.name.given | Patient.name.family", both) == ["G", "F"]


def test_choice_element_yields_every_variant_typed() -> None:
    observation = {"effectivePeriod": {"start": "2024"}}
    assert typed("Observation.effective", observation, "Observation") == [
        ({"start": "2024"}, "Period")
    ]


@pytest.mark.parametrize(
    "expression",
    [
        "(Observation.value as Quantity)",
        "Observation.value.as(Quantity)",
        "Observation.value.ofType(Quantity)",
    ],
)
def test_as_selects_one_choice_variant(expression: str) -> None:
    quantity = {"value": Decimal("1.5")}
    assert typed(expression, {"valueQuantity": quantity}, "Observation") == [(quantity, "Quantity")]
    assert typed(expression, {"valueString": "x"}, "Observation") == []


def test_as_lowercase_primitive_maps_to_capitalised_key() -> None:
    assert values("(Patient.deceased as dateTime)", {"deceasedDateTime": "2020"}) == ["2020"]
    assert values("(Patient.deceased as dateTime)", {"deceasedBoolean": True}) == []
    assert values("(Goal.start as date)", {"startDate": "2024-01-01"}, "Goal") == ["2024-01-01"]


def test_member_after_as_in_parentheses() -> None:
    observation = {"valueCodeableConcept": {"text": "positief"}}
    expression = "(Observation.value as CodeableConcept).text"
    assert values(expression, observation, "Observation") == ["positief"]


def test_where_with_string_equality() -> None:
    patient = {"telecom": [{"system": "phone", "value": "1"}, {"system": "email", "value": "a@b"}]}
    result = values("Patient.telecom.where(system='email')", patient)
    assert result == [{"system": "email", "value": "a@b"}]


@pytest.mark.parametrize(
    ("reference", "selected"),
    [
        ({"reference": "Patient/1"}, True),
        ({"reference": "Patient/1/_history/2"}, True),
        ({"reference": "https://example.org/fhir/Patient/1"}, True),
        ({"type": "Patient", "identifier": {"value": "x"}}, True),
        ({"reference": "Group/1"}, False),
        ({"reference": "https://example.org/fhir/Group/1"}, False),
        ({"reference": "urn:uuid:1b2c"}, False),
        ({"reference": "#contained"}, False),
        ({"display": "only a name"}, False),
    ],
)
def test_where_resolve_is_patient(reference: dict[str, Any], selected: bool) -> None:
    task = {"for": reference}
    expected = [reference] if selected else []
    assert values("Task.for.where(resolve() is Patient)", task, "Task") == expected


@pytest.mark.parametrize(
    ("patient", "expected"),
    [
        ({}, [False]),
        ({"deceasedBoolean": False}, [False]),
        ({"deceasedBoolean": True}, [True]),
        ({"deceasedDateTime": "2020-02-02"}, [True]),
    ],
)
def test_deceased_expression(patient: dict[str, Any], expected: list[bool]) -> None:
    expression = "Patient.deceased.exists() and Patient.deceased != false"
    assert values(expression, patient) == expected


def test_first_and_empty_functions() -> None:
    patient = {"name": [{"family": "A"}, {"family": "B"}]}
    assert values("Patient.name.first().family", patient) == ["A"]
    assert values("Patient.name.empty()", patient) == [False]
    assert values("Patient.name.exists()", {}) == [False]


def test_or_uses_three_valued_logic() -> None:
    assert values("Patient.active or Patient.name.exists()", {"active": True}) == [True]
    assert values("Patient.active or Patient.name.exists()", {"active": False}) == [False]
    assert values("Patient.active or Patient.active", {}) == []


def test_resource_root_uses_common_elements() -> None:
    resource = {"meta": {"tag": [{"code": "t"}]}}
    assert typed("Resource.meta.tag", resource, "Resource") == [({"code": "t"}, "Coding")]


def test_compiled_paths_are_cached() -> None:
    compiler = fhirpath_compiler()
    assert compiler.compile("Patient.name", "Patient") is compiler.compile(
        "Patient.name", "Patient"
    )


def test_a_small_model_is_enough() -> None:
    compiler = FhirPathCompiler(ELEMENTS)
    patient = {"link": [{"other": {"reference": "Patient/2"}}]}
    path = compiler.compile("Patient.link.other", "Patient")
    assert path.types == frozenset({"Reference"})
    assert path.evaluate(patient) == [({"reference": "Patient/2"}, "Reference")]


@pytest.mark.parametrize(
    "expression",
    [
        "Patient.nonsense",
        "Patient.name.as(Quantity)",
        "Patient.name.matches('x')",
        "Patient.name.where(family",
        "Patient.name +",
        "Patient.name.where()",
    ],
)
def test_unsupported_or_invalid_expressions_fail_to_compile(expression: str) -> None:
    with pytest.raises(FhirPathError):
        fhirpath_compiler().compile(expression, "Patient")


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("Patient/123", ("Patient", "123")),
        ("Patient/123/_history/4", ("Patient", "123")),
        ("https://example.org/fhir/Practitioner/a-b.c", ("Practitioner", "a-b.c")),
        ("https://example.org/fhir/Practitioner/a/_history/1", ("Practitioner", "a")),
        ("urn:uuid:0b7f5b1e-1c1a-4c7e-9c63-8a4e8b9f0c11", None),
        ("#contained-1", None),
        ("Patient", None),
        ("Patient/", None),
        ("patient/1", None),
        ("Patient/has space", None),
        ("", None),
    ],
)
def test_parse_reference(literal: str, expected: tuple[str, str] | None) -> None:
    assert parse_reference(literal) == expected


def test_reference_type_prefers_the_literal_over_the_declared_type() -> None:
    assert reference_type({"reference": "Group/1", "type": "Patient"}) == "Group"
    assert reference_type({"type": "Patient"}) == "Patient"
    assert reference_type("Patient/1") is None
