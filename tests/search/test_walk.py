"""A page read along the value index of an exact token or reference clause (when no
clause selects few enough resources to start from) holds what the scan in id order
holds: every match once, in id order, page after page."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from pgo_service.fhir.search import execute

from .builders import ids, observation, search, store_all

LOINC = "http://loinc.org"


def _coded(oid: str, number: int) -> dict[str, Any]:
    codings = [{"system": LOINC, "code": "29463-7" if number % 3 else "8302-2"}]
    if number % 5 == 0:  # the same code twice, under two displays: two index rows
        codings.append({"system": LOINC, "code": "29463-7", "display": f"gewicht {number}"})
    status = "final" if number % 4 else "amended"
    return observation(oid, f"Patient/p{number % 2}", code={"coding": codings}, status=status)


@pytest.fixture
def observations(db_engine: Engine) -> Engine:
    # ids in an order of their own, not the order they were stored in
    store_all(db_engine, *(_coded(f"o{(n * 7) % 40:02d}", (n * 7) % 40) for n in range(40)))
    return db_engine


@pytest.fixture
def walked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every clause counts as matching too many to start from; records each walk."""
    monkeypatch.setattr(execute, "DRIVER_CAP", 0)
    used: list[str] = []
    original = execute.walk_select

    def recording(query: Any, walk: Any, *args: Any, **kwargs: Any) -> Any:
        used.append(walk.code)
        return original(query, walk, *args, **kwargs)

    monkeypatch.setattr(execute, "walk_select", recording)
    return used


def _expected(predicate: Any) -> list[str]:
    return sorted(f"o{n:02d}" for n in range(40) if predicate(n))


def _weight(n: int) -> bool:
    return n % 3 != 0 or n % 5 == 0


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        (f"code={LOINC}|29463-7", _weight),
        (f"code={LOINC}|29463-7&status=final", lambda n: _weight(n) and n % 4 != 0),
        (f"status=amended&code={LOINC}|8302-2", lambda n: n % 3 == 0 and n % 4 == 0),
        ("patient=Patient/p1&status=final", lambda n: n % 2 == 1 and n % 4 != 0),
        (f"subject=Patient/p0&code={LOINC}|29463-7", lambda n: n % 2 == 0 and _weight(n)),
    ],
)
def test_pages_along_an_index_hold_every_match_once_in_id_order(
    observations: Engine, walked: list[str], query: str, predicate: Any
) -> None:
    expected = _expected(predicate)
    pages: list[str] = []
    for offset in range(0, 45, 4):
        found = search(observations, "Observation", f"{query}&_count=4&_offset={offset}")
        pages += [f.id for f in found.matches]
        assert found.has_more == (offset + 4 < len(expected))
    assert walked  # read along an index, not by scanning
    assert pages == expected


def test_no_walk_where_the_index_does_not_list_ids_in_order(
    observations: Engine, walked: list[str]
) -> None:
    # a code under any system, a sort of its own: the scan in the requested order
    assert ids(observations, "Observation", "code=29463-7&_count=100") == _expected(_weight)
    sorted_by_status = ids(observations, "Observation", f"code={LOINC}|8302-2&_sort=status")
    assert sorted_by_status[:4] == _expected(lambda n: n % 3 == 0 and n % 4 == 0)
    assert walked == []
