"""_summary and _elements."""

from __future__ import annotations

from typing import Any

import orjson

from pgo_service.fhir.search.shaping import SUBSETTED, shape

OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "o1",
    "meta": {"versionId": "1"},
    "text": {"status": "generated", "div": "<div>x</div>"},
    "status": "final",
    "_status": {"extension": [{"url": "urn:x", "valueString": "y"}]},
    "code": {"text": "weight"},
    "subject": {"reference": "Patient/p1"},
    "valueQuantity": {"value": 70},
    "note": [{"text": "after dinner"}],
    "interpretation": [{"text": "normal"}],
}


def shaped(summary: str | None, elements: tuple[str, ...] = ()) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(
        shape("Observation", orjson.dumps(OBSERVATION), summary, elements)
    )
    return result


def is_subsetted(resource: dict[str, Any]) -> bool:
    return SUBSETTED in resource.get("meta", {}).get("tag", [])


def test_summary_true_keeps_summary_and_mandatory_elements() -> None:
    result = shaped("true")
    assert set(result) == {
        "resourceType",
        "id",
        "meta",
        "status",
        "_status",
        "code",
        "subject",
        "valueQuantity",
    }
    assert is_subsetted(result) and result["meta"]["versionId"] == "1"


def test_summary_text_and_data() -> None:
    assert set(shaped("text")) == {
        "resourceType",
        "id",
        "meta",
        "text",
        "status",
        "_status",
        "code",
    }
    data = shaped("data")
    assert "text" not in data and "note" in data and is_subsetted(data)


def test_elements_keep_named_and_mandatory_elements() -> None:
    result = shaped(None, ("note", "value[x]"))
    assert set(result) == {
        "resourceType",
        "id",
        "meta",
        "status",
        "_status",
        "code",
        "note",
        "valueQuantity",
    }
    assert is_subsetted(result)


def test_nothing_removed_means_untouched() -> None:
    content = orjson.dumps(OBSERVATION)
    assert shape("Observation", content, None, ()) is content
    assert shape("Observation", content, "false", ()) is content
    assert shape("Observation", content, "count", ()) is content
    lean = orjson.dumps({"resourceType": "Observation", "id": "x", "status": "final"})
    assert shape("Observation", lean, "true", ()) == lean


def test_existing_tags_are_kept_and_not_duplicated() -> None:
    tagged = dict(OBSERVATION, meta={"tag": [{"system": "urn:t", "code": "a"}, SUBSETTED]})
    result = orjson.loads(shape("Observation", orjson.dumps(tagged), "data", ()))
    assert result["meta"]["tag"] == [{"system": "urn:t", "code": "a"}, SUBSETTED]
