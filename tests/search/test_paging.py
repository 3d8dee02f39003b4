"""Sorting, paging, totals and the number of statements a search issues."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event

from pgo_service.fhir.search.execute import run_search
from pgo_service.fhir.search.query import parse_search

from .builders import ids, observation, params_of, patient, search, store_all


@pytest.fixture
def many(db_engine: Engine) -> Engine:
    families = ["Zeeman", "Appel", "Mulder", None, "Bos", "appel", None, "Kok"]
    bodies = []
    for number, family in enumerate(families):
        body = patient(f"p{number}", family or "", gender="male" if number % 2 else "female")
        if family is None:
            del body["name"]
        else:
            body["birthDate"] = f"19{50 + number}-01-01"
        bodies.append(body)
    store_all(db_engine, *bodies, step=timedelta(minutes=1))
    return db_engine


def test_default_order_is_by_id(many: Engine) -> None:
    assert ids(many, "Patient") == [f"p{n}" for n in range(8)]


def test_sort_by_string_puts_missing_last_and_breaks_ties_by_id(many: Engine) -> None:
    assert ids(many, "Patient", "_sort=family") == ["p1", "p5", "p4", "p7", "p2", "p0", "p3", "p6"]
    assert ids(many, "Patient", "_sort=-family") == ["p0", "p2", "p7", "p4", "p1", "p5", "p3", "p6"]


def test_sort_with_several_keys(many: Engine) -> None:
    order = ids(many, "Patient", "_sort=gender,-birthdate")
    assert order == ["p4", "p2", "p0", "p6", "p7", "p5", "p1", "p3"]


def test_sort_by_last_updated_and_id(many: Engine) -> None:
    assert ids(many, "Patient", "_sort=-_lastUpdated") == [f"p{n}" for n in reversed(range(8))]
    assert ids(many, "Patient", "_sort=-_id&_count=2") == ["p7", "p6"]


def test_sort_by_reference_and_quantity(db_engine: Engine) -> None:
    store_all(
        db_engine,
        observation("a", "Patient/z", valueQuantity={"value": 3}),
        observation("b", "Patient/b", valueQuantity={"value": 1}),
        observation("c", None, valueQuantity={"value": 2}),
    )
    assert ids(db_engine, "Observation", "_sort=subject") == ["b", "a", "c"]
    assert ids(db_engine, "Observation", "_sort=-value-quantity") == ["a", "c", "b"]


@pytest.mark.parametrize("sort", ["", "_sort=family&", "_sort=-birthdate,gender&"])
def test_pages_are_disjoint_and_complete(many: Engine, sort: str) -> None:
    seen: list[str] = []
    for offset in range(0, 8, 3):
        page = search(many, "Patient", f"{sort}_count=3&_offset={offset}")
        assert page.total == 8
        seen.extend(found.id for found in page.matches)
    assert sorted(seen) == [f"p{n}" for n in range(8)]
    assert len(seen) == 8
    assert seen == ids(many, "Patient", f"{sort}_count=8")


def test_offset_past_the_end(many: Engine) -> None:
    result = search(many, "Patient", "_count=5&_offset=20")
    assert result.matches == []
    assert result.total == 8


def test_count_zero_and_summary_count_give_only_the_total(many: Engine) -> None:
    for query in ("_count=0", "_summary=count", "gender=male&_summary=count"):
        result = search(many, "Patient", query)
        assert result.matches == [] and result.includes == []
    assert search(many, "Patient", "_count=0").total == 8
    assert search(many, "Patient", "gender=male&_summary=count").total == 4


def test_total_none_skips_counting(many: Engine) -> None:
    assert search(many, "Patient", "_total=none&_count=2").total is None
    assert search(many, "Patient", "_total=accurate&_count=2").total == 8


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_one_statement_for_matches_one_for_the_total_and_one_for_the_estimates(
    many: Engine,
) -> None:
    query = parse_search(
        "Patient",
        params_of("family=a,b,k&gender=male&_sort=-family,birthdate&_count=2"),
        strict=True,
    )
    with many.connect() as conn, statements(many) as seen:
        result = run_search(conn, query)
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    estimates = [s for s in selects if "LIMIT" in s.upper() and "count(" in s.lower()]
    assert len(estimates) == 1
    assert estimates[0].lower().count("count(") == 2  # family, gender: capped counts
    assert len(selects) == 3
    assert result.total == 3
    with many.connect() as conn, statements(many) as seen:
        run_search(conn, parse_search("Patient", params_of("_count=50"), strict=True))
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 1


def test_dense_clauses_walk_in_order_and_skip_the_total(
    many: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pgo_service.fhir.search import execute

    monkeypatch.setattr(execute, "DRIVER_CAP", 3)  # four patients of each gender: dense
    dense = search(many, "Patient", "gender=male&_count=2")
    assert [f.id for f in dense.matches] == ["p1", "p3"]
    assert dense.has_more
    assert dense.total is None
    assert search(many, "Patient", "gender=male&_count=2&_total=accurate").total == 4
    assert search(many, "Patient", "gender=male&_summary=count").total == 4
    last = search(many, "Patient", "gender=male&_count=2&_offset=2")
    assert [f.id for f in last.matches] == ["p5", "p7"]
    assert not last.has_more
    assert last.total == 4  # nothing follows the last page, so it shows the total
    selective = search(many, "Patient", "gender=male&family=appel&_count=1")
    assert [f.id for f in selective.matches] == ["p1"]
    assert selective.total == 2  # driven by family (under the cap): counted
