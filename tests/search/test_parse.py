"""Parsing: strict and lenient handling, malformed values, canonical parameters."""

from __future__ import annotations

import pytest

from pgo_service.fhir.errors import Category, FhirError
from pgo_service.fhir.search.query import (
    ChainClause,
    HasClause,
    ParamClause,
    SearchQuery,
    parse_search,
)
from pgo_service.fhir.search.query_values import DateValue, NumberValue, TokenValue

from .builders import params_of


def parse(resource_type: str, query: str, strict: bool = True) -> SearchQuery:
    return parse_search(resource_type, params_of(query), strict=strict)


def test_unknown_parameter_strict_and_lenient() -> None:
    with pytest.raises(FhirError) as info:
        parse("Patient", "shoe-size=42")
    assert info.value.category is Category.INVALID
    assert "shoe-size" in info.value.message
    query = parse("Patient", "shoe-size=42&family=x", strict=False)
    assert len(query.clauses) == 1
    assert any("shoe-size" in warning for warning in query.warnings)
    assert query.canonical_params() == [("family", "x")]


@pytest.mark.parametrize(
    "query",
    [
        "birthdate=1980-13-01",
        "birthdate=xx1980",
        "birthdate=soon",
        "value-quantity=abc",
        "value-quantity=1|2",
        "gender:missing=maybe",
        "family:sounds=x",
        "_count=-1",
        "_count=ten",
        "_offset=x",
        "_summary=maybe",
        "_total=lots",
        "general-practitioner:Observation=1",
        "_include=Patient",
    ],
)
def test_malformed_values_are_rejected_even_when_lenient(query: str) -> None:
    name = query.split("=")[0].split(":")[0]
    with pytest.raises(FhirError) as info:
        parse("Patient" if "quantity" not in query else "Observation", query, strict=False)
    assert info.value.category is Category.INVALID
    assert name in info.value.message


def test_unknown_sort_and_include_follow_strictness() -> None:
    with pytest.raises(FhirError):
        parse("Patient", "_sort=shoe-size")
    assert parse("Patient", "_sort=shoe-size", strict=False).sort == []
    with pytest.raises(FhirError):
        parse("Patient", "_include=Observation:subject")
    assert parse("Patient", "_include=Observation:subject", strict=False).includes == []


def test_typed_values() -> None:
    query = parse("Observation", "date=ge2024-01&code=http://loinc.org|1,|2&value-quantity=5.40")
    date, code, quantity = query.clauses
    assert isinstance(date, ParamClause) and isinstance(date.values[0], DateValue)
    assert date.values[0].prefix == "ge"
    assert isinstance(code, ParamClause)
    assert code.values == (
        TokenValue("http://loinc.org", "1", False),
        TokenValue(None, "2", False),
    )
    assert isinstance(quantity, ParamClause)
    number = quantity.values[0]
    assert isinstance(number, NumberValue)
    assert (number.low, number.high) == pytest.approx((5.395, 5.405))


def test_escaped_comma_is_not_an_or() -> None:
    query = parse("Patient", r"family=a\,b")
    clause = query.clauses[0]
    assert isinstance(clause, ParamClause) and len(clause.values) == 1


def test_chain_and_has_structure() -> None:
    chain = parse("Observation", "subject.name=x").clauses[0]
    assert isinstance(chain, ChainClause)
    assert {target for target, _ in chain.inner} >= {"Patient"}
    has = parse("Patient", "_has:Observation:patient:code=1").clauses[0]
    assert isinstance(has, HasClause) and has.source_type == "Observation"
    with pytest.raises(FhirError):
        parse("Patient", "_has:Observation:patient:shoe=1")
    with pytest.raises(FhirError):
        parse("Observation", "subject.shoe=1")
    with pytest.raises(FhirError):
        parse("Observation", "status.name=x")


def test_controls_and_canonical_params() -> None:
    query = parse(
        "Patient",
        "family=x&_sort=-birthdate,_id&_count=5000&_offset=10&_summary=true&_elements=name"
        "&_total=accurate&_include=Patient:general-practitioner&_revinclude:iterate=Observation:subject"
        "&_format=json",
    )
    assert query.count == 1000 and query.offset == 10
    assert query.summary == "true" and query.elements == ("name",)
    assert [(k.code, k.descending) for k in query.sort] == [("birthdate", True), ("_id", False)]
    assert query.canonical_params() == [
        ("family", "x"),
        ("_sort", "-birthdate,_id"),
        ("_include", "Patient:general-practitioner"),
        ("_revinclude:iterate", "Observation:subject"),
        ("_summary", "true"),
        ("_elements", "name"),
        ("_total", "accurate"),
    ]


def test_defaults() -> None:
    query = parse_search("Patient", [], strict=True, default_count=7)
    assert query.count == 7 and query.offset == 0
    assert query.summary is None and query.total is None and query.elements == ()
