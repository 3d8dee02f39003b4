"""Running a parsed search: one statement for the page of matches, one for the
total (when it cannot be read off the page) and one per include level."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from pgo_service.fhir.search.query import IncludeSpec, SearchQuery, parse_filters
from pgo_service.fhir.search.sql import count_select, match_select
from pgo_service.fhir.search.sql_include import Frontier, include_select

MAX_ITERATE_DEPTH = 3


@dataclass
class Found:
    resource_type: str
    id: str
    version_id: int
    last_updated: datetime
    content: bytes

    @property
    def key(self) -> tuple[str, str]:
        return self.resource_type, self.id


@dataclass
class SearchResult:
    matches: list[Found]
    includes: list[Found]
    total: int | None


def run_search(conn: Connection, query: SearchQuery) -> SearchResult:
    only_count = query.summary == "count" or query.count == 0
    matches: list[Found] = []
    if not only_count:
        matches = _found(conn.execute(match_select(query, conn.dialect.name)))
    total = _total(conn, query, matches, only_count)
    includes = [] if only_count else _includes(conn, query.includes, matches)
    return SearchResult(matches, includes, total)


def find_matches(
    conn: Connection, resource_type: str, params: list[tuple[str, str]], limit: int = 2
) -> list[Found]:
    """Matches for conditional interactions; result-control parameters are ignored."""
    query = SearchQuery(resource_type, clauses=parse_filters(resource_type, params), count=limit)
    return _found(conn.execute(match_select(query, conn.dialect.name)))


def _total(
    conn: Connection, query: SearchQuery, matches: list[Found], only_count: bool
) -> int | None:
    if query.total == "none" and not only_count:
        return None
    if not only_count and len(matches) < query.count and (matches or query.offset == 0):
        return query.offset + len(matches)
    value = conn.execute(count_select(query.resource_type, query.clauses)).scalar_one()
    return int(value)


def _includes(conn: Connection, specs: list[IncludeSpec], matches: list[Found]) -> list[Found]:
    seen = {found.key for found in matches}
    included: list[Found] = []
    frontier = matches
    for depth in range(MAX_ITERATE_DEPTH + 1):
        level = [spec for spec in specs if depth == 0 or spec.iterate]
        stmt = include_select(level, _frontier(frontier)) if level and frontier else None
        if stmt is None:
            break
        frontier = [found for found in _found(conn.execute(stmt)) if found.key not in seen]
        seen.update(found.key for found in frontier)
        included.extend(frontier)
    return included


def _frontier(found: Iterable[Found]) -> Frontier:
    by_type: Frontier = {}
    for item in found:
        by_type.setdefault(item.resource_type, []).append(item.id)
    return by_type


def _found(rows: Iterable[Sequence[Any]]) -> list[Found]:
    return [Found(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]
